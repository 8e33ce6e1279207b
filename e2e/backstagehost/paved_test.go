//go:build e2e

package backstagehost

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/devex"
)

// memKeyStore keeps signing keys in memory for the stand-in below.
type memKeyStore struct {
	mu   sync.Mutex
	keys []paved.SigningKey
}

func (m *memKeyStore) AddSigningKey(_ context.Context, k paved.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append([]paved.SigningKey{k}, m.keys...)
	return nil
}

func (m *memKeyStore) SigningKeys(context.Context) ([]paved.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.keys), nil
}

func (m *memKeyStore) RetireSigningKeys(_ context.Context, except string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].KID != except && m.keys[i].RetiredAt.IsZero() {
			m.keys[i].RetiredAt = at
		}
	}
	return nil
}

func (m *memKeyStore) DeleteSigningKeysRetiredBefore(context.Context, time.Time) (int, error) {
	return 0, nil
}

func (m *memKeyStore) ReplaceSigningKeyPrivate(_ context.Context, kid string, prev, next []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].KID == kid && bytes.Equal(m.keys[i].PrivateKeyPEM, prev) {
			m.keys[i].PrivateKeyPEM = next
			return true, nil
		}
	}
	return false, nil
}

// standIn is a minimal paved in Go: one distributed action behind the real
// Verifier, and paved's JWKS from the real Signer. It proves the backstage
// package against the tokens a real Backstage issues and accepts.
type standIn struct {
	srv      *httptest.Server
	signer   *backstage.Signer
	verifier atomic.Pointer[backstage.Verifier]

	mu      sync.Mutex
	callers []paved.Principal
	authErr []string
}

func newStandIn(t *testing.T) *standIn {
	t.Helper()
	s := &standIn{}
	var err error
	s.signer, err = backstage.NewSigner(context.Background(), &memKeyStore{}, "paved", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/paved/.backstage/auth/v1/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		b, err := s.signer.JWKS(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /api/paved/.backstage/actions/v1/actions", s.authed(func(w http.ResponseWriter, r *http.Request, _ paved.Principal) {
		writeJSON(w, map[string]any{"actions": []any{map[string]any{
			"id": "paved:echo", "name": "echo", "title": "Echo", "description": "Echoes its input.", "pluginId": "paved",
			"attributes": map[string]bool{"destructive": false, "idempotent": true, "readOnly": true},
			"examples":   []any{},
			"schema": map[string]any{
				"input": map[string]any{"type": "object", "required": []string{"message"},
					"properties": map[string]any{"message": map[string]any{"type": "string"}}},
				"output": map[string]any{"type": "object", "properties": map[string]any{
					"echoed": map[string]any{"type": "string"}, "caller": map[string]any{"type": "string"}}},
			},
		}}})
	}))
	mux.HandleFunc("POST /api/paved/.backstage/actions/v1/actions/{id}/invoke", s.authed(func(w http.ResponseWriter, r *http.Request, p paved.Principal) {
		if id := r.PathValue("id"); id != "paved:echo" {
			http.Error(w, "unknown action "+id, 404)
			return
		}
		var in struct {
			Message string `json:"message"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		writeJSON(w, map[string]any{"output": map[string]any{"echoed": in.Message, "caller": string(p.Kind) + ":" + p.Subject}})
	}))
	mux.HandleFunc("GET /api/paved/catalog/entities.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write([]byte(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: e2e-from-paved
spec:
  type: service
  lifecycle: experimental
  owner: group:default/platform
`))
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *standIn) authed(h func(http.ResponseWriter, *http.Request, paved.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := s.verifier.Load()
		if v == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		p, err := v.Authenticate(r.Context(), r.Header.Get("Authorization"))
		s.mu.Lock()
		if err != nil {
			s.authErr = append(s.authErr, err.Error())
		} else {
			s.callers = append(s.callers, p)
		}
		s.mu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(w, map[string]any{"error": map[string]string{"name": "AuthenticationError", "message": paved.ErrorMessage(err)}})
			return
		}
		h(w, r, p)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func TestBackstageCallsPavedAndPavedCallsBackstage(t *testing.T) {
	s := newStandIn(t)
	b := StartT(t, Options{PavedBaseURL: s.srv.URL + "/api/{{pluginId}}", TemplatesDir: "testdata/templates"})
	discovery := backstage.NewDiscovery(b.BaseURL()+"/api/{{pluginId}}", map[string]string{"paved": s.srv.URL + "/api/paved"})
	v, err := backstage.NewVerifier(backstage.VerifierConfig{PluginID: "paved", Discovery: discovery,
		AllowedPlugins: []string{"scaffolder", "mcp-actions"}, Leeway: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.verifier.Store(v)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := b.WaitEntity(ctx, "template", "default", "e2e-paved-echo"); err != nil {
		t.Fatal(err)
	}
	actions, err := b.Actions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(actions, func(a Action) bool { return a.ID == "paved:echo" }) {
		t.Fatalf("scaffolder does not list paved:echo (auth errors: %q)", s.authErr)
	}

	id, err := b.CreateTask(ctx, "template:default/e2e-paved-echo", map[string]any{"message": "through paved"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := b.WaitTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != "completed" {
		t.Fatalf("task %s: %s %q, log %q, paved auth errors %q", id, task.Status, task.Error, task.Log, s.authErr)
	}
	if task.Output["echoed"] != "through paved" || task.Output["caller"] != "plugin:scaffolder" {
		t.Fatalf("task output = %v", task.Output)
	}

	// The other direction: paved's own plugin token, checked by the real catalog.
	catalog := backstage.NewCatalogClient(discovery, s.signer, nil)
	e, err := catalog.GetEntityByRef(ctx, "template:default/e2e-debug-log")
	if err != nil {
		t.Fatalf("catalog with paved's plugin token: %v", err)
	}
	if e.Metadata.Name != "e2e-debug-log" {
		t.Fatalf("entity = %+v", e)
	}
	templates, err := catalog.QueryEntities(ctx, "kind=template", []string{"kind", "metadata.name"})
	if err != nil {
		t.Fatal(err)
	}
	if len(templates) < 2 {
		t.Fatalf("templates = %+v", templates)
	}
	reader := backstage.NewReadClient(discovery, s.signer, nil)
	tasks, err := reader.ListTasks(ctx, 100, 0)
	if err != nil {
		t.Fatalf("scaffolder with paved's plugin token: %v", err)
	}
	i := slices.IndexFunc(tasks, func(tk devex.Task) bool { return tk.ID == id })
	if i < 0 {
		t.Fatalf("task %s not listed among %d", id, len(tasks))
	}
	if tk := tasks[i]; tk.TemplateRef != "template:default/e2e-paved-echo" || tk.Status != "completed" || tk.CreatedAt.IsZero() {
		t.Fatalf("listed task: %+v", tk)
	}

	// The zero-code catalog path: a URL location on paved's host.
	if err := b.RegisterLocation(ctx, s.srv.URL+"/api/paved/catalog/entities.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := b.RegisterLocation(ctx, s.srv.URL+"/api/paved/catalog/entities.yaml"); err != nil {
		t.Fatalf("registering the same location again: %v", err)
	}
	if _, err := b.WaitEntity(ctx, "component", "default", "e2e-from-paved"); err != nil {
		t.Fatal(err)
	}

	// A token for another audience is refused by the catalog.
	wrongAud, err := s.signer.PluginToken(ctx, "scaffolder")
	if err != nil {
		t.Fatal(err)
	}
	_, err = backstage.NewCatalogClient(discovery, backstage.StaticTokenSource(wrongAud), nil).GetEntityByRef(ctx, "template:default/e2e-debug-log")
	if err == nil || !strings.Contains(err.Error(), "catalog") {
		t.Fatalf("catalog accepted a token for the scaffolder: %v", err)
	}
}
