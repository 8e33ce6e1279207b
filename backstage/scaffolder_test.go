package backstage

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved"
)

func TestDecodeTask(t *testing.T) {
	raw := `{"id":"t1","status":"completed","createdAt":"2026-11-02T10:00:00.000+00:00","lastHeartbeatAt":"2026-11-02 10:01:30",
		"createdBy":"user:default/jane","spec":{"parameters":{"owner":"team-a"},"user":{"ref":"user:default/jane"},
		"templateInfo":{"entityRef":"template:default/service","entity":{"metadata":{"annotations":{"backstage.io/time-saved":"PT2H"}}}}}}`
	task, err := DecodeTask([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if task.ID != "t1" || task.TemplateRef != "template:default/service" || task.Owner != "group:default/team-a" ||
		task.CreatedBy != "user:default/jane" || task.TimeSaved != 2*time.Hour ||
		!task.CreatedAt.Equal(time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)) ||
		!task.HeartbeatAt.Equal(time.Date(2026, 11, 2, 10, 1, 30, 0, time.UTC)) {
		t.Errorf("DecodeTask = %+v", task)
	}
	for _, bad := range []string{`{}`, `{"id":"x","status":"open"}`, `{"id":"x","status":"open","createdAt":"soon"}`, `[`} {
		if _, err := DecodeTask([]byte(bad)); err == nil {
			t.Errorf("DecodeTask(%s) accepted", bad)
		}
	}
}

func FuzzDecodeTask(f *testing.F) {
	f.Add([]byte(`{"id":"t1","status":"open","createdAt":"2026-11-02T10:00:00Z","spec":{"parameters":{"owner":"x"},"templateInfo":{"entityRef":"template:default/a","entity":{"metadata":{"annotations":{"backstage.io/time-saved":"PT1H"}}}}}}`))
	f.Add([]byte(`{"id":"t1","status":"failed","createdAt":"2026-11-02 10:00:00","lastHeartbeatAt":null,"createdBy":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		task, err := DecodeTask(raw)
		if err != nil {
			return
		}
		if task.ID == "" || task.Status == "" || task.CreatedAt.IsZero() || task.TemplateRef == "" || task.TimeSaved < 0 {
			t.Fatalf("DecodeTask accepted an incomplete task: %+v", task)
		}
	})
}

func TestReadClient(t *testing.T) {
	signer, err := NewSigner(context.Background(), &memKeyStore{}, "paved", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	verifiers := map[string]*Verifier{}
	var gotQuery url.Values
	var pages int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/paved"+pluginJWKSPath {
			b, _ := signer.JWKS(r.Context())
			_, _ = w.Write(b)
			return
		}
		// Each Backstage plugin checks that paved's token is meant for it.
		plugin := strings.Split(r.URL.Path, "/")[2]
		if _, err := verifiers[plugin].Authenticate(r.Context(), r.Header.Get("Authorization")); err != nil {
			http.Error(w, `{"error":{"name":"AuthenticationError","message":"bad token"}}`, http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/scaffolder/v2/tasks":
			gotQuery = r.URL.Query()
			_, _ = w.Write([]byte(`{"totalTasks":7,"tasks":[
				{"id":"t1","status":"completed","createdAt":"2026-11-20 10:00:00","lastHeartbeatAt":null,"createdBy":"user:default/jane",
				 "spec":{"templateInfo":{"entityRef":"template:default/service"}}},
				{"id":"t2","status":"failed","createdAt":"2026-11-20T09:00:00.123Z","lastHeartbeatAt":"2026-11-20T09:00:05Z","createdBy":"",
				 "spec":{}}]}`))
		case "/api/scaffolder/v2/tasks/t1":
			_, _ = w.Write([]byte(`{"id":"t1","status":"processing","createdAt":"2026-11-20 10:00:00","spec":{"templateInfo":{"entityRef":"template:default/service"}}}`))
		case "/api/catalog/entities/by-query":
			pages++
			q := r.URL.Query()
			if q.Get("fields") == "" {
				http.Error(w, `{"error":{"name":"InputError","message":"fields missing"}}`, http.StatusBadRequest)
				return
			}
			if q.Get("cursor") == "" {
				_, _ = w.Write([]byte(`{"items":[{"kind":"Component","metadata":{"name":"Svc-A","annotations":{"backstage.io/source-template":"template:default/service"}},"spec":{"owner":"Team-A"}}],"pageInfo":{"nextCursor":"c2"}}`))
				return
			}
			_, _ = w.Write([]byte(`{"items":[{"kind":"Component","metadata":{"name":"svc-b","namespace":"web"},"spec":{"owner":"group:web/team-b"}}],"pageInfo":{}}`))
		case "/api/catalog/entities/by-name/user/default/carol":
			_, _ = w.Write([]byte(`{"kind":"User","metadata":{"name":"carol"},"spec":{"memberOf":["payments","group:default/SRE"]},
				"relations":[{"type":"memberOf","targetRef":"group:default/payments"},{"type":"ownerOf","targetRef":"component:default/x"}]}`))
		default:
			http.Error(w, `{"error":{"name":"NotFoundError","message":"not here"}}`, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	d := NewDiscovery(srv.URL+"/api/{{pluginId}}", nil)
	for _, plugin := range []string{"scaffolder", "catalog"} {
		if verifiers[plugin], err = NewVerifier(VerifierConfig{PluginID: plugin, Discovery: d, AllowedPlugins: []string{"paved"}, HTTPClient: srv.Client()}); err != nil {
			t.Fatal(err)
		}
	}
	c := NewReadClient(d, signer, srv.Client())
	ctx := context.Background()

	tasks, err := c.ListTasks(ctx, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 || gotQuery.Get("limit") != "2" || gotQuery.Get("offset") != "4" || gotQuery.Get("order") != "desc:created_at" {
		t.Fatalf("%d tasks, query %v", len(tasks), gotQuery)
	}
	if tasks[0].TemplateRef != "template:default/service" || tasks[1].TemplateRef != "template:default/unknown" ||
		!tasks[0].CreatedAt.Equal(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)) ||
		!tasks[1].CreatedAt.Equal(time.Date(2026, 11, 20, 9, 0, 0, 123e6, time.UTC)) {
		t.Fatalf("tasks = %+v", tasks)
	}
	if task, err := c.GetTask(ctx, "t1"); err != nil || task.Status != "processing" {
		t.Fatalf("GetTask = %+v, %v", task, err)
	}
	if _, err := c.GetTask(ctx, "nope"); paved.ErrorCode(err) != paved.ENotFound {
		t.Fatalf("missing task: %v", err)
	}

	comps, err := c.Components(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pages != 2 || len(comps) != 2 || comps[0].EntityRef != "component:default/svc-a" || comps[0].Owner != "group:default/team-a" ||
		comps[0].SourceTemplate != "template:default/service" || comps[1].EntityRef != "component:web/svc-b" || comps[1].Owner != "group:web/team-b" {
		t.Fatalf("%d pages, components %+v", pages, comps)
	}

	groups, err := c.UserGroups(ctx, "user:default/carol")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(groups, []string{"group:default/payments", "group:default/sre"}) {
		t.Fatalf("groups = %v", groups)
	}
	if _, err := c.UserGroups(ctx, "group:default/payments"); paved.ErrorCode(err) != paved.EInvalid {
		t.Fatalf("a group ref as user: %v", err)
	}
}
