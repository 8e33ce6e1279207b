package backstage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

// TokenFunc returns the bearer token for a call to the Backstage plugin
// audience: paved's own plugin token (Signer.PluginToken) or a static token
// from Backstage's backend.auth.externalAccess.
type TokenFunc func(ctx context.Context, audience string) (string, error)

// StaticTokenFunc returns a TokenFunc that always sends token.
func StaticTokenFunc(token string) TokenFunc {
	return func(context.Context, string) (string, error) { return token, nil }
}

// readClientMaxBytes bounds one Backstage response paved reads.
const readClientMaxBytes = 32 << 20

// ReadClient reads Backstage's scaffolder task API and the catalog entities
// adoption metrics need. Base URLs come from discovery, so pointing paved at
// another Backstage is one discovery setting.
type ReadClient struct {
	discovery *Discovery
	token     TokenFunc
	http      *http.Client
}

// NewReadClient returns a ReadClient; a nil client uses one with a 30s timeout.
func NewReadClient(d *Discovery, token TokenFunc, client *http.Client) *ReadClient {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &ReadClient{discovery: d, token: token, http: client}
}

// getJSON GETs path on plugin's API and decodes the JSON answer into v.
func (c *ReadClient) getJSON(ctx context.Context, plugin, path string, v any) error {
	base, err := c.discovery.BaseURL(plugin)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return err
	}
	token, err := c.token(ctx, plugin)
	if err != nil {
		return fmt.Errorf("%s: token: %w", plugin, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return paved.Wrap(paved.EUnavailable, err, "backstage %s is unreachable", plugin)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, readClientMaxBytes))
	if err != nil {
		return paved.Wrap(paved.EUnavailable, err, "backstage %s: reading the response", plugin)
	}
	if resp.StatusCode != http.StatusOK {
		msg := backstageErrorMessage(body)
		code := paved.EUnavailable
		if resp.StatusCode == http.StatusNotFound {
			code = paved.ENotFound
		}
		return paved.Errorf(code, "backstage %s: GET %s: %s: %s", plugin, strings.SplitN(path, "?", 2)[0], resp.Status, msg)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return paved.Wrap(paved.EUnavailable, err, "backstage %s: GET %s: the answer is not the expected JSON", plugin, strings.SplitN(path, "?", 2)[0])
	}
	return nil
}

// backstageErrorMessage returns error.message of Backstage's error JSON, or
// the start of the body.
func backstageErrorMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return truncate(strings.TrimSpace(string(body)), 200)
}

// serializedTask is the scaffolder's SerializedTask (plugin-scaffolder-node).
type serializedTask struct {
	ID   string `json:"id"`
	Spec struct {
		TemplateInfo struct {
			EntityRef string `json:"entityRef"`
			Entity    struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			} `json:"entity"`
		} `json:"templateInfo"`
		Parameters map[string]any `json:"parameters"`
		User       struct {
			Ref string `json:"ref"`
		} `json:"user"`
	} `json:"spec"`
	Status          string  `json:"status"`
	CreatedAt       string  `json:"createdAt"`
	LastHeartbeatAt *string `json:"lastHeartbeatAt"`
	CreatedBy       *string `json:"createdBy"`
}

// DecodeTask turns one task of the scaffolder API into a devex.Task.
func DecodeTask(raw []byte) (devex.Task, error) {
	var st serializedTask
	if err := json.Unmarshal(raw, &st); err != nil {
		return devex.Task{}, err
	}
	return st.task()
}

func (st serializedTask) task() (devex.Task, error) {
	t := devex.Task{ID: st.ID, TemplateRef: st.Spec.TemplateInfo.EntityRef, Status: st.Status}
	if t.ID == "" || t.Status == "" {
		return devex.Task{}, errors.New("a task needs an id and a status")
	}
	if t.TemplateRef == "" {
		t.TemplateRef = "template:default/unknown"
	}
	created, err := parseBackstageTime(st.CreatedAt)
	if err != nil || created.IsZero() {
		return devex.Task{}, fmt.Errorf("task %s: createdAt %q is not a time", st.ID, st.CreatedAt)
	}
	t.CreatedAt = created
	if st.LastHeartbeatAt != nil {
		t.HeartbeatAt, _ = parseBackstageTime(*st.LastHeartbeatAt)
	}
	if st.CreatedBy != nil {
		t.CreatedBy = *st.CreatedBy
	}
	if t.CreatedBy == "" {
		t.CreatedBy = st.Spec.User.Ref
	}
	if owner, ok := st.Spec.Parameters["owner"].(string); ok {
		t.Owner = devex.GroupRef(owner)
	}
	if v := st.Spec.TemplateInfo.Entity.Metadata.Annotations[devex.AnnotationTimeSaved]; v != "" {
		// A malformed annotation saves nothing rather than failing the task.
		t.TimeSaved, _ = devex.ParseISODuration(v)
	}
	return t, nil
}

// parseBackstageTime reads the ISO times Backstage writes ("…Z", "…+00:00")
// and the SQL form a few stores leak ("2026-11-01 10:00:00").
func parseBackstageTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

// ListTasks returns one page of scaffolder tasks, newest first.
func (c *ReadClient) ListTasks(ctx context.Context, limit, offset int) ([]devex.Task, error) {
	q := url.Values{"order": {"desc:created_at"}, "limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
	var page struct {
		Tasks []json.RawMessage `json:"tasks"`
	}
	if err := c.getJSON(ctx, "scaffolder", "/v2/tasks?"+q.Encode(), &page); err != nil {
		return nil, err
	}
	out := make([]devex.Task, 0, len(page.Tasks))
	for _, raw := range page.Tasks {
		t, err := DecodeTask(raw)
		if err != nil {
			return nil, paved.Wrap(paved.EUnavailable, err, "backstage scaffolder: a listed task is malformed")
		}
		out = append(out, t)
	}
	return out, nil
}

// GetTask returns one task; ENotFound when the scaffolder no longer has it.
func (c *ReadClient) GetTask(ctx context.Context, id string) (devex.Task, error) {
	var raw json.RawMessage
	if err := c.getJSON(ctx, "scaffolder", "/v2/tasks/"+url.PathEscape(id), &raw); err != nil {
		return devex.Task{}, err
	}
	t, err := DecodeTask(raw)
	if err != nil {
		return devex.Task{}, paved.Wrap(paved.EUnavailable, err, "backstage scaffolder: task %s is malformed", id)
	}
	return t, nil
}

// TaskEvents returns the events of a task, oldest first.
func (c *ReadClient) TaskEvents(ctx context.Context, id string) ([]devex.TaskEvent, error) {
	var raw []struct {
		Type      string `json:"type"`
		CreatedAt string `json:"createdAt"`
		Body      struct {
			Output map[string]any `json:"output"`
		} `json:"body"`
	}
	if err := c.getJSON(ctx, "scaffolder", "/v2/tasks/"+url.PathEscape(id)+"/events", &raw); err != nil {
		return nil, err
	}
	out := make([]devex.TaskEvent, 0, len(raw))
	for _, e := range raw {
		at, err := parseBackstageTime(e.CreatedAt)
		if err != nil {
			continue
		}
		ev := devex.TaskEvent{Type: e.Type, CreatedAt: at}
		if ref, ok := e.Body.Output["entityRef"].(string); ok {
			ev.EntityRef = ref
		}
		out = append(out, ev)
	}
	return out, nil
}

// catalogEntity is the part of a catalog entity adoption metrics read.
type catalogEntity struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Owner    string   `json:"owner"`
		MemberOf []string `json:"memberOf"`
	} `json:"spec"`
	Relations []struct {
		Type      string `json:"type"`
		TargetRef string `json:"targetRef"`
	} `json:"relations"`
}

func (e catalogEntity) ref() string {
	ns := e.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	return strings.ToLower(e.Kind + ":" + ns + "/" + e.Metadata.Name)
}

// Components returns every Component entity of the catalog, paging through
// the by-query API.
func (c *ReadClient) Components(ctx context.Context) ([]devex.Component, error) {
	var out []devex.Component
	cursor := ""
	for range 10_000 { // a bound against a catalog that never stops paging
		// The cursor carries the filter but not the fields: send them on every page.
		q := url.Values{"limit": {"500"}, "fields": {"kind,metadata.name,metadata.namespace,metadata.annotations,spec.owner"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		} else {
			q.Set("filter", "kind=component")
		}
		var page struct {
			Items    []catalogEntity `json:"items"`
			PageInfo struct {
				NextCursor string `json:"nextCursor"`
			} `json:"pageInfo"`
		}
		if err := c.getJSON(ctx, "catalog", "/entities/by-query?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		for _, e := range page.Items {
			if e.Metadata.Name == "" {
				continue
			}
			out = append(out, devex.Component{
				EntityRef:      e.ref(),
				Kind:           e.Kind,
				Owner:          devex.GroupRef(e.Spec.Owner),
				SourceTemplate: e.Metadata.Annotations[paved.AnnotationTemplate],
			})
		}
		if page.PageInfo.NextCursor == "" {
			return out, nil
		}
		cursor = page.PageInfo.NextCursor
	}
	return nil, paved.Errorf(paved.EUnavailable, "backstage catalog: too many pages of components")
}

// UserGroups returns the group entity refs the user is a member of, from the
// user's catalog entity (memberOf relations and spec.memberOf).
func (c *ReadClient) UserGroups(ctx context.Context, userRef string) ([]string, error) {
	ref := devex.GroupRef(userRef) // normalizes; keeps the user: kind
	kind, rest, ok := strings.Cut(ref, ":")
	ns, name, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || kind != "user" {
		return nil, paved.Errorf(paved.EInvalid, "%q is not a user entity ref", userRef)
	}
	var e catalogEntity
	if err := c.getJSON(ctx, "catalog", "/entities/by-name/user/"+url.PathEscape(ns)+"/"+url.PathEscape(name), &e); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var groups []string
	add := func(g string) {
		g = devex.GroupRef(g)
		if g != "" && !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	for _, r := range e.Relations {
		if r.Type == "memberOf" {
			add(r.TargetRef)
		}
	}
	for _, g := range e.Spec.MemberOf {
		add(g)
	}
	return groups, nil
}
