package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/catalog"
	"github.com/paved-dev/paved/server"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

const argoToken = "argocd-api-token-for-tests"

type catalogFixture struct {
	handler   http.Handler
	argo      *argocd.Client
	refresher *catalog.Refresher
}

// newCatalogServer wires the real router to a real Refresher reading a real
// Argo CD API server (argocdtest, over gRPC) through argocd.Client, with a
// SQLite store.
func newCatalogServer(t *testing.T, yamlPublic bool, apps ...string) catalogFixture {
	t.Helper()
	ctx := context.Background()
	fake, err := argocdtest.NewServer(argocdtest.Options{APITokens: []string{argoToken}})
	if err != nil {
		t.Fatal(err)
	}
	fake.Start()
	t.Cleanup(fake.Close)
	argo, err := argocd.New([]argocd.InstanceConfig{{
		Name: "prod", Server: fake.Addr(), UIURL: "https://argocd.test", Token: argoToken, PlainText: true, DefaultProject: "default", Timeout: 10 * time.Second,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { argo.Close() })
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{
		AllowedPlugins: []string{"scaffolder", "mcp-actions"},
		PluginID:       "paved",
		Discovery:      backstage.NewDiscovery("http://127.0.0.1:1/api/{{pluginId}}", nil),
		StaticTokens:   []backstage.StaticToken{{Token: testToken, Subject: "test"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := catalog.NewRefresher(catalog.RefresherOptions{
		Options: catalog.Options{
			Instances:   []catalog.Instance{{Name: "prod"}},
			LocationURL: "http://paved.test/api/paved/catalog/entities.yaml",
		},
		Apps:         argo,
		Store:        store,
		SyncInterval: 50 * time.Millisecond,
	})
	f := catalogFixture{argo: argo, refresher: r}
	for _, name := range apps {
		f.createApp(t, name, nil)
	}
	f.refresh(t)
	f.handler = server.New(server.Deps{PluginID: "paved", Auth: verifier, Catalog: r, CatalogYAMLPublic: yamlPublic})
	return f
}

func (f catalogFixture) createApp(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	_, err := f.argo.CreateApp(context.Background(), paved.AppRequest{
		AppRef:      paved.AppRef{Instance: "prod", Name: name},
		Sources:     []paved.AppSource{{RepoURL: "https://git.test/apps.git", Path: name, TargetRevision: "main"}},
		Destination: paved.AppDestination{Server: argocdtest.InClusterServer, Namespace: name},
		Labels:      labels,
		Upsert:      true,
	})
	if err != nil {
		t.Fatalf("create app %s: %v", name, err)
	}
}

func (f catalogFixture) refresh(t *testing.T) {
	t.Helper()
	leader, err := f.refresher.Refresh(context.Background())
	if err != nil || !leader {
		t.Fatalf("Refresh = %v, %v; want a refresh as the only replica", leader, err)
	}
}

type catalogResponse struct {
	status int
	header http.Header
	body   []byte
}

func (f catalogFixture) get(t *testing.T, path, token string, header ...string) catalogResponse {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return catalogResponse{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

type entitiesPage struct {
	Items []struct {
		Entity      catalog.Entity `json:"entity"`
		LocationKey string         `json:"locationKey"`
	} `json:"items"`
	NextCursor    *string `json:"nextCursor"`
	ChangesCursor string  `json:"changesCursor"`
	TotalItems    int     `json:"totalItems"`
}

func decodeJSON[T any](t *testing.T, r catalogResponse) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("status %d, body is not the expected JSON: %v\n%s", r.status, err, r.body)
	}
	return v
}

const entitiesPath = "/api/paved/catalog/entities"

func TestCatalogRoutes(t *testing.T) {
	f := newCatalogServer(t, false, "alpha", "bravo", "charlie")
	etag := f.get(t, entitiesPath, testToken).header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag = %q, want a strong ETag", etag)
	}
	tests := []struct {
		name       string
		path       string
		token      string
		header     []string
		wantStatus int
		wantInBody string
	}{
		{"entities needs a token", entitiesPath, "", nil, 401, "AuthenticationError"},
		{"entities", entitiesPath, testToken, nil, 200, `"locationKey":"paved:prod"`},
		{"entities not modified", entitiesPath, testToken, []string{"If-None-Match", etag}, 304, ""},
		{"entities not modified, weak and listed", entitiesPath, testToken, []string{"If-None-Match", `"other", W/` + etag}, 304, ""},
		{"entities modified", entitiesPath, testToken, []string{"If-None-Match", `"other"`}, 200, `"apiVersion":"backstage.io/v1alpha1"`},
		{"entities limit too big", entitiesPath + "?limit=10001", testToken, nil, 400, `"field":"limit"`},
		{"entities limit zero", entitiesPath + "?limit=0", testToken, nil, 400, `"field":"limit"`},
		{"entities bad cursor", entitiesPath + "?cursor=%21%21", testToken, nil, 400, "InputError"},
		{"yaml needs a token unless public", entitiesPath + ".yaml", "", nil, 401, "AuthenticationError"},
		{"yaml", entitiesPath + ".yaml", testToken, nil, 200, "---\n"},
		{"yaml not modified", entitiesPath + ".yaml", testToken, []string{"If-None-Match", etag}, 304, ""},
		{"changes needs a token", "/api/paved/catalog/changes", "", nil, 401, "AuthenticationError"},
		{"changes without cursor resets", "/api/paved/catalog/changes", testToken, nil, 200, `"reset":true`},
		{"changes with a bad cursor", "/api/paved/catalog/changes?cursor=nope", testToken, nil, 400, `"field":"cursor"`},
		{"changes from another change log", "/api/paved/catalog/changes?cursor=abcdef.1", testToken, nil, 200, `"reset":true`},
		{"changes with a bad wait", "/api/paved/catalog/changes?cursor=abcdef.1&wait=soon", testToken, nil, 400, `"field":"wait"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.get(t, tt.path, tt.token, tt.header...)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d\n%s", r.status, tt.wantStatus, r.body)
			}
			if !strings.Contains(string(r.body), tt.wantInBody) {
				t.Errorf("body lacks %q:\n%.600s", tt.wantInBody, r.body)
			}
			if r.status == 304 && len(r.body) != 0 {
				t.Errorf("a 304 has a body")
			}
			if (r.status == 200 || r.status == 304) && strings.Contains(tt.path, "/entities") && r.header.Get("ETag") != etag {
				t.Errorf("ETag = %q, want %q", r.header.Get("ETag"), etag)
			}
		})
	}
}

func TestCatalogNotEnabled(t *testing.T) {
	h := server.New(server.Deps{PluginID: "paved", Auth: staticAuth{}, CatalogYAMLPublic: true})
	req := httptest.NewRequest(http.MethodGet, entitiesPath+".yaml", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "ServiceUnavailableError") {
		t.Fatalf("status %d body %s, want 503", rec.Code, rec.Body.String())
	}
}

type staticAuth struct{}

func (staticAuth) Authenticate(context.Context, string) (paved.Principal, error) {
	return paved.Principal{}, paved.Errorf(paved.EUnauthenticated, "no")
}

func TestCatalogPaging(t *testing.T) {
	names := []string{"a1", "a2", "a3", "a4", "a5"}
	f := newCatalogServer(t, false, names...)
	var got []string
	path := entitiesPath + "?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		p := decodeJSON[entitiesPage](t, f.get(t, path, testToken))
		if len(p.Items) > 2 || p.TotalItems != 5 {
			t.Fatalf("page has %d items (total %d), want at most 2 of 5", len(p.Items), p.TotalItems)
		}
		for _, it := range p.Items {
			got = append(got, it.Entity.Metadata.Name)
		}
		if p.NextCursor == nil {
			break
		}
		path = entitiesPath + "?limit=2&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("pages hold %v, want %v", got, names)
	}
}

func TestCatalogYAMLParsesIntoEntities(t *testing.T) {
	f := newCatalogServer(t, true, "alpha", "bravo")
	r := f.get(t, entitiesPath+".yaml", "") // public: a Backstage url location sends no token
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/yaml") {
		t.Fatalf("status %d, content type %q", r.status, r.header.Get("Content-Type"))
	}
	dec := yaml.NewDecoder(bytes.NewReader(r.body))
	var names []string
	for {
		var e catalog.Entity
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("YAML does not parse: %v\n%s", err, r.body)
		}
		if e.APIVersion != catalog.APIVersion || e.Kind != "Component" || e.Spec.Owner == "" ||
			e.Metadata.Annotations[catalog.AnnotationManagedByLocation] == "" || e.Metadata.Annotations["argocd/app-name"] != e.Metadata.Name {
			t.Errorf("entity from YAML is incomplete: %+v", e)
		}
		names = append(names, e.Metadata.Name)
	}
	if strings.Join(names, ",") != "alpha,bravo" {
		t.Errorf("YAML holds %v, want alpha and bravo", names)
	}
	// The YAML and the JSON hold the same entities.
	p := decodeJSON[entitiesPage](t, f.get(t, entitiesPath, testToken))
	if len(p.Items) != 2 || p.Items[0].Entity.Metadata.Name != "alpha" {
		t.Errorf("JSON items = %+v", p.Items)
	}
}

type changeSet struct {
	Cursor string `json:"cursor"`
	Added  []struct {
		Entity      catalog.Entity `json:"entity"`
		LocationKey string         `json:"locationKey"`
	} `json:"added"`
	Updated []struct {
		Entity      catalog.Entity `json:"entity"`
		LocationKey string         `json:"locationKey"`
	} `json:"updated"`
	Removed []struct {
		EntityRef   string `json:"entityRef"`
		LocationKey string `json:"locationKey"`
	} `json:"removed"`
	Reset *bool `json:"reset"`
}

func (cs changeSet) summary() string {
	var parts []string
	for _, a := range cs.Added {
		parts = append(parts, "+"+a.Entity.Metadata.Name+"@"+a.LocationKey)
	}
	for _, u := range cs.Updated {
		parts = append(parts, "~"+u.Entity.Metadata.Name+"="+u.Entity.Spec.Owner)
	}
	for _, r := range cs.Removed {
		parts = append(parts, "-"+r.EntityRef+"@"+r.LocationKey)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func TestCatalogChanges(t *testing.T) {
	f := newCatalogServer(t, false, "keep", "change", "drop")
	first := f.get(t, entitiesPath, testToken)
	cursor := decodeJSON[entitiesPage](t, first).ChangesCursor
	changes := func(cursor string) changeSet {
		t.Helper()
		r := f.get(t, "/api/paved/catalog/changes?cursor="+url.QueryEscape(cursor), testToken)
		if r.status != 200 {
			t.Fatalf("changes: status %d\n%s", r.status, r.body)
		}
		cs := decodeJSON[changeSet](t, r)
		if cs.Reset == nil || cs.Added == nil || cs.Updated == nil || cs.Removed == nil {
			t.Fatalf("changes lack fields: %s", r.body)
		}
		return cs
	}
	if cs := changes(cursor); cs.summary() != "" || *cs.Reset || cs.Cursor != cursor {
		t.Fatalf("no changes yet, got %+v", cs)
	}

	f.createApp(t, "change", map[string]string{"paved.dev/owner": "team-z"})
	f.createApp(t, "new", nil)
	if err := f.argo.DeleteApp(context.Background(), paved.DeleteRequest{AppRef: paved.AppRef{Instance: "prod", Name: "drop"}}); err != nil {
		t.Fatal(err)
	}
	f.refresh(t)

	cs := changes(cursor)
	want := "+new@paved:prod -component:default/drop@paved:prod ~change=group:default/team-z"
	if cs.summary() != want || *cs.Reset {
		t.Fatalf("changes = %q (reset %v), want %q", cs.summary(), *cs.Reset, want)
	}
	if cs.Cursor == cursor {
		t.Errorf("the cursor did not move")
	}
	if again := changes(cs.Cursor); again.summary() != "" {
		t.Errorf("changes after the new cursor = %q, want none", again.summary())
	}
	if etag := f.get(t, entitiesPath, testToken).header.Get("ETag"); etag == first.header.Get("ETag") {
		t.Errorf("the ETag did not change with the entities")
	}
	// A cursor from the future of this change log is not ours.
	epoch, _, _ := strings.Cut(cs.Cursor, ".")
	if fut := changes(epoch + ".999999"); !*fut.Reset {
		t.Errorf("a cursor beyond the head should reset")
	}
}

func TestCatalogChangesLongPoll(t *testing.T) {
	f := newCatalogServer(t, false, "one")
	cursor := decodeJSON[entitiesPage](t, f.get(t, entitiesPath, testToken)).ChangesCursor
	done := make(chan catalogResponse, 1)
	go func() {
		done <- f.get(t, "/api/paved/catalog/changes?wait=60s&cursor="+url.QueryEscape(cursor), testToken)
	}()
	// The poll is waiting (or has not started yet; either way it must see
	// the change, not time out empty).
	f.createApp(t, "two", nil)
	f.refresh(t)
	r := <-done
	cs := decodeJSON[changeSet](t, r)
	if cs.summary() != "+two@paved:prod" {
		t.Fatalf("long poll returned %q, want the new app", cs.summary())
	}
}

func TestCatalogChangesWaitTimesOutEmpty(t *testing.T) {
	f := newCatalogServer(t, false, "one")
	cursor := decodeJSON[entitiesPage](t, f.get(t, entitiesPath, testToken)).ChangesCursor
	r := f.get(t, "/api/paved/catalog/changes?wait=100ms&cursor="+url.QueryEscape(cursor), testToken)
	cs := decodeJSON[changeSet](t, r)
	if r.status != 200 || cs.summary() != "" || cs.Cursor != cursor || *cs.Reset {
		t.Fatalf("status %d changes %+v, want none at the same cursor", r.status, cs)
	}
}
