// Package devextest is a fake Backstage for adoption-metrics tests: an
// httptest server that speaks the scaffolder task API and the catalog read
// API with the JSON shapes of the real backend (plugin-scaffolder-backend's
// router and DatabaseTaskStore, plugin-catalog-backend's by-query), so the
// real paved clients run against it.
package devextest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Backstage is the fake. Its methods are safe for concurrent use.
type Backstage struct {
	URL   string
	Token string // the bearer token every request must carry

	mu         sync.Mutex
	tasks      map[string]*task
	components []component
	templates  map[string]*templateEntity // template ref → entity
	users      map[string][]string        // user ref → group refs
	requests   int
	failAfter  int // fail every request after this many (0 = never)
	listed     int // task list requests
	notes      []map[string]any
}

type task struct {
	id, template, status, createdBy, owner, timeSaved string
	version, etag                                     string // of the template when the task was created
	createdAt, heartbeat                              time.Time
	events                                            []event
}

type event struct {
	id        int
	typ       string
	body      map[string]any
	createdAt time.Time
}

type templateEntity struct {
	version string // paved.dev/template-version, "" for none
	etag    string
	edits   int
}

type component struct {
	name, owner, template string
}

// New starts the fake; it stops when t ends.
func New(t testing.TB, token string) *Backstage {
	b := &Backstage{Token: token, tasks: map[string]*task{}, users: map[string][]string{}, templates: map[string]*templateEntity{}}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	b.URL = srv.URL
	return b
}

// Discovery is the discovery pattern that points paved at the fake.
func (b *Backstage) Discovery() string { return b.URL + "/api/{{pluginId}}" }

// isoTime is how the scaffolder serializes times (luxon's toISO in UTC).
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-07:00") }

// AddTask adds an open task of template created by user at created, whose
// template says it saves timeSaved (ISO 8601, "" for none) and whose owner
// parameter is owner.
func (b *Backstage) AddTask(id, template, user, owner, timeSaved string, created time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := &task{id: id, template: template, status: "open", createdBy: user, owner: owner, timeSaved: timeSaved, createdAt: created}
	if e := b.templates[template]; e != nil { // the scaffolder copies the template's metadata into the task
		t.version, t.etag = e.version, e.etag
	}
	b.tasks[id] = t
}

// EditTemplate adds or changes the Template entity ref: a new etag, as the
// catalog gives every changed entity, and version as its
// paved.dev/template-version annotation ("" for none). Tasks created after
// carry the new metadata.
func (b *Backstage) EditTemplate(ref, version string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.templates[ref]
	if e == nil {
		e = &templateEntity{}
		b.templates[ref] = e
	}
	e.edits++
	e.version, e.etag = version, fmt.Sprintf("etag-%s-%d", ref, e.edits)
}

// Claim moves a task to processing with a heartbeat at at.
func (b *Backstage) Claim(id string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tasks[id]
	t.status, t.heartbeat = "processing", at
	t.events = append(t.events, event{id: len(t.events) + 1, typ: "log", body: map[string]any{"message": "Starting up task"}, createdAt: at})
}

// Finish ends a task with status (completed, failed, cancelled) at at; a
// completed task outputs entityRef when it is not "".
func (b *Backstage) Finish(id, status, entityRef string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tasks[id]
	t.status = status
	body := map[string]any{"message": "Run completed with status: " + status}
	if entityRef != "" {
		body["output"] = map[string]any{"entityRef": entityRef, "links": []any{}}
	}
	if status == "failed" {
		body["error"] = map[string]any{"name": "Error", "message": "step failed"}
	}
	t.events = append(t.events, event{id: len(t.events) + 1, typ: "completion", body: body, createdAt: at})
}

// AddComponent adds a Component entity.
func (b *Backstage) AddComponent(name, owner, sourceTemplate string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.components = append(b.components, component{name, owner, sourceTemplate})
}

// AddUser adds a User entity that is a member of groups.
func (b *Backstage) AddUser(ref string, groups ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users[ref] = groups
}

// FailAfter makes every request after the next n answer 500, like a
// Backstage that went away mid-collection; n < 0 heals it.
func (b *Backstage) FailAfter(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n < 0 {
		b.failAfter = 0
		return
	}
	b.failAfter = b.requests + n
	if n == 0 {
		b.failAfter = -1
	}
}

// Notifications returns the bodies sent to the notifications backend
// ({recipients, payload}), in order.
func (b *Backstage) Notifications() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]any(nil), b.notes...)
}

// TaskListRequests counts the task list requests served.
func (b *Backstage) TaskListRequests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.listed
}

func writeError(w http.ResponseWriter, r *http.Request, status int, name, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error":    map[string]any{"name": name, "message": msg},
		"request":  map[string]any{"method": r.Method, "url": r.URL.RequestURI()},
		"response": map[string]any{"statusCode": status},
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (b *Backstage) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests++
	if b.failAfter < 0 || (b.failAfter > 0 && b.requests > b.failAfter) {
		writeError(w, r, http.StatusInternalServerError, "Error", "database is gone")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+b.Token {
		writeError(w, r, http.StatusUnauthorized, "AuthenticationError", "Illegal token")
		return
	}
	path := r.URL.Path
	switch {
	case path == "/api/scaffolder/v2/tasks":
		b.listTasks(w, r)
	case strings.HasPrefix(path, "/api/scaffolder/v2/tasks/"):
		rest := strings.TrimPrefix(path, "/api/scaffolder/v2/tasks/")
		id, sub, _ := strings.Cut(rest, "/")
		t, ok := b.tasks[id]
		if !ok {
			writeError(w, r, http.StatusNotFound, "NotFoundError", fmt.Sprintf("Task with id %s does not exist", id))
			return
		}
		switch sub {
		case "":
			writeJSON(w, t.serialize())
		case "events":
			out := []any{}
			for _, e := range t.events {
				out = append(out, map[string]any{"id": e.id, "taskId": t.id, "body": e.body, "type": e.typ, "createdAt": isoTime(e.createdAt)})
			}
			writeJSON(w, out)
		default:
			writeError(w, r, http.StatusNotFound, "NotFoundError", "no such route")
		}
	case (path == "/api/notifications/" || path == "/api/notifications") && r.Method == http.MethodPost:
		// The notifications backend's send route (POST / of the plugin,
		// service principals only): it answers the notifications it created.
		var n map[string]any
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			writeError(w, r, http.StatusBadRequest, "InputError", err.Error())
			return
		}
		b.notes = append(b.notes, n)
		writeJSON(w, []any{})
	case path == "/api/catalog/entities/by-query":
		b.queryEntities(w, r)
	case strings.HasPrefix(path, "/api/catalog/entities/by-name/user/"):
		parts := strings.Split(strings.TrimPrefix(path, "/api/catalog/entities/by-name/user/"), "/")
		ref := "user:" + strings.Join(parts, "/")
		groups, ok := b.users[ref]
		if !ok || len(parts) != 2 {
			writeError(w, r, http.StatusNotFound, "NotFoundError", "No entity named '"+ref+"' found")
			return
		}
		rels := []any{}
		for _, g := range groups {
			rels = append(rels, map[string]any{"type": "memberOf", "targetRef": g})
		}
		writeJSON(w, map[string]any{"apiVersion": "backstage.io/v1alpha1", "kind": "User",
			"metadata": map[string]any{"name": parts[1], "namespace": parts[0]},
			"spec":     map[string]any{"memberOf": groups}, "relations": rels})
	default:
		writeError(w, r, http.StatusNotFound, "NotFoundError", "no such route")
	}
}

func (t *task) serialize() map[string]any {
	ann := map[string]any{}
	if t.timeSaved != "" {
		ann["backstage.io/time-saved"] = t.timeSaved
	}
	if t.version != "" {
		ann["paved.dev/template-version"] = t.version
	}
	params := map[string]any{"name": t.id}
	if t.owner != "" {
		params["owner"] = t.owner
	}
	var hb any
	if !t.heartbeat.IsZero() {
		hb = isoTime(t.heartbeat)
	}
	var createdBy any
	if t.createdBy != "" {
		createdBy = t.createdBy
	}
	_, name, _ := strings.Cut(t.template, "/")
	return map[string]any{
		"id": t.id,
		"spec": map[string]any{
			"apiVersion": "scaffolder.backstage.io/v1beta3",
			"steps":      []any{map[string]any{"id": "fetch", "name": "Fetch", "action": "fetch:plain"}},
			"output":     map[string]any{},
			"parameters": params,
			"user":       map[string]any{"ref": t.createdBy},
			"templateInfo": map[string]any{
				"entityRef": t.template,
				"baseUrl":   "file:///templates/" + name + "/template.yaml",
				"entity":    map[string]any{"metadata": map[string]any{"name": name, "annotations": ann, "etag": t.etag}},
			},
		},
		"status":          t.status,
		"createdAt":       isoTime(t.createdAt),
		"lastHeartbeatAt": hb,
		"createdBy":       createdBy,
	}
}

// listTasks follows DatabaseTaskStore.list: ordered (default created_at
// desc), then limit and offset.
func (b *Backstage) listTasks(w http.ResponseWriter, r *http.Request) {
	b.listed++
	q := r.URL.Query()
	all := make([]*task, 0, len(b.tasks))
	for _, t := range b.tasks {
		all = append(all, t)
	}
	asc := q.Get("order") == "asc:created_at"
	if o := q.Get("order"); o != "" && o != "asc:created_at" && o != "desc:created_at" {
		writeError(w, r, http.StatusBadRequest, "InputError", "Invalid order parameter")
		return
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].createdAt.Equal(all[j].createdAt) {
			return all[i].id < all[j].id
		}
		return all[i].createdAt.After(all[j].createdAt) != asc
	})
	total := len(all)
	if v := q.Get("offset"); v != "" {
		n, _ := strconv.Atoi(v)
		all = all[min(n, len(all)):]
	}
	if v := q.Get("limit"); v != "" {
		n, _ := strconv.Atoi(v)
		all = all[:min(n, len(all))]
	}
	out := []any{}
	for _, t := range all {
		out = append(out, t.serialize())
	}
	writeJSON(w, map[string]any{"tasks": out, "totalTasks": total})
}

// queryEntities serves by-query for kind=component with a cursor of one
// page of two entities, so that clients must page, and kind=template in one
// page.
func (b *Backstage) queryEntities(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("filter") == "kind=template" {
		items := []any{}
		for ref, e := range b.templates {
			_, name, _ := strings.Cut(ref, "/")
			ann := map[string]any{}
			if e.version != "" {
				ann["paved.dev/template-version"] = e.version
			}
			items = append(items, map[string]any{"kind": "Template",
				"metadata": map[string]any{"name": name, "namespace": "default", "annotations": ann, "etag": e.etag}})
		}
		writeJSON(w, map[string]any{"items": items, "totalItems": len(items), "pageInfo": map[string]any{}})
		return
	}
	start := 0
	if c := q.Get("cursor"); c != "" {
		start, _ = strconv.Atoi(c)
	} else if q.Get("filter") != "kind=component" {
		writeError(w, r, http.StatusBadRequest, "InputError", "the fake serves only filter=kind=component")
		return
	}
	const pageSize = 2
	end := min(start+pageSize, len(b.components))
	items := []any{}
	for _, c := range b.components[start:end] {
		ann := map[string]any{"backstage.io/managed-by-location": "url:http://example/" + c.name}
		if c.template != "" {
			ann["backstage.io/source-template"] = c.template
		}
		items = append(items, map[string]any{"kind": "Component",
			"metadata": map[string]any{"name": c.name, "namespace": "default", "annotations": ann},
			"spec":     map[string]any{"owner": c.owner}})
	}
	page := map[string]any{}
	if end < len(b.components) {
		page["nextCursor"] = strconv.Itoa(end)
	}
	writeJSON(w, map[string]any{"items": items, "totalItems": len(b.components), "pageInfo": page})
}
