package backstage

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/paved-dev/paved"
)

func TestScaffolderClient(t *testing.T) {
	signer, err := NewSigner(context.Background(), &memKeyStore{}, "paved", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var verifier *Verifier
	var gotQuery map[string][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/paved"+pluginJWKSPath {
			b, _ := signer.JWKS(r.Context())
			_, _ = w.Write(b)
			return
		}
		if _, err := verifier.Authenticate(r.Context(), r.Header.Get("Authorization")); err != nil {
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
		default:
			http.Error(w, `{"error":{"name":"NotFoundError","message":"Task with id x does not exist"}}`, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	d := NewDiscovery(srv.URL+"/api/{{pluginId}}", nil)
	verifier, err = NewVerifier(VerifierConfig{PluginID: "scaffolder", Discovery: d, AllowedPlugins: []string{"paved"}, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	c := NewScaffolderClient(d, signer, srv.Client())
	ctx := context.Background()

	tasks, total, err := c.ListTasks(ctx, TaskFilter{Status: []string{"completed", "failed"}, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if total != 7 || len(tasks) != 2 {
		t.Fatalf("total %d, %d tasks", total, len(tasks))
	}
	if !slices.Equal(gotQuery["status"], []string{"completed", "failed"}) || gotQuery["limit"][0] != "2" || gotQuery["order"][0] != "desc:created_at" {
		t.Fatalf("query = %v", gotQuery)
	}
	if tasks[0].TemplateRef() != "template:default/service" || tasks[1].TemplateRef() != "" {
		t.Fatalf("template refs %q %q", tasks[0].TemplateRef(), tasks[1].TemplateRef())
	}
	if want := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC); !tasks[0].CreatedAt.Equal(want) || !tasks[0].LastHeartbeatAt.IsZero() {
		t.Fatalf("t1 times %v %v", tasks[0].CreatedAt, tasks[0].LastHeartbeatAt)
	}
	if want := time.Date(2026, 11, 20, 9, 0, 0, 123e6, time.UTC); !tasks[1].CreatedAt.Equal(want) {
		t.Fatalf("t2 createdAt %v", tasks[1].CreatedAt)
	}

	task, err := c.GetTask(ctx, "t1")
	if err != nil || task.Status != "processing" {
		t.Fatalf("GetTask = %+v, %v", task, err)
	}
	if _, err := c.GetTask(ctx, "nope"); paved.ErrorCode(err) != paved.ENotFound {
		t.Fatalf("missing task: %v", err)
	}
	var ts Timestamp
	if err := json.Unmarshal([]byte(`"yesterday"`), &ts); err == nil {
		t.Fatal("bad timestamp accepted")
	}
}
