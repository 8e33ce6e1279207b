package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/scaffolder"
	"github.com/paved-dev/paved/server"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

const testToken = "test-token-0123456789abcdef"

type fixture struct {
	handler http.Handler
	ready   *bool
}

// newServer builds the real router with the real verifier, registry and
// SQLite store; the only action is a small one that needs no Argo CD.
func newServer(t testing.TB) fixture {
	t.Helper()
	return newServerWith(t, nil)
}

// newServerWith is newServer with deps changed by change.
func newServerWith(t testing.TB, change func(*server.Deps)) fixture {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, err := backstage.NewSigner(ctx, store, "paved", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{
		AllowedPlugins: []string{"scaffolder", "mcp-actions"},
		PluginID:       "paved",
		Discovery:      backstage.NewDiscovery("http://127.0.0.1:1/api/{{pluginId}}", nil),
		StaticTokens:   []backstage.StaticToken{{Token: testToken, Subject: "test"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved", Recorder: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(greetAction(), panicAction(), timeoutAction()); err != nil {
		t.Fatal(err)
	}
	ready := true
	deps := server.Deps{
		PluginID:     "paved",
		Auth:         verifier,
		Actions:      reg,
		Keys:         signer,
		Invocations:  store,
		MaxBodyBytes: 4096,
		Ready: []server.Check{{Name: "store", Check: store.Ping}, {Name: "argocd/default", Check: func(context.Context) error {
			if !ready {
				return paved.Errorf(paved.EUnavailable, "argocd down")
			}
			return nil
		}}},
	}
	if change != nil {
		change(&deps)
	}
	h := server.New(deps)
	return fixture{handler: h, ready: &ready}
}

func greetAction() scaffolder.Action {
	return scaffolder.Action{
		Name:  "greet",
		Title: "Greet",
		Input: scaffolder.Schema{"type": "object", "additionalProperties": false, "required": []string{"name"},
			"properties": scaffolder.Schema{"name": scaffolder.Schema{"type": "string", "pattern": "^[a-z]+$"}}},
		Output: scaffolder.Schema{"type": "object"},
		Handler: func(ctx context.Context, in scaffolder.Input) (map[string]any, error) {
			var v struct{ Name string }
			if err := in.Decode(&v); err != nil {
				return nil, err
			}
			p, _ := paved.PrincipalFrom(ctx)
			return map[string]any{"greeting": "hello " + v.Name, "caller": p.Subject}, nil
		},
	}
}

func panicAction() scaffolder.Action {
	return scaffolder.Action{
		Name: "explode", Title: "Explode",
		Input: scaffolder.Schema{"type": "object"}, Output: scaffolder.Schema{"type": "object"},
		Handler: func(context.Context, scaffolder.Input) (map[string]any, error) {
			panic("secret detail that must not leak")
		},
	}
}

// timeoutAction fails as a wait that ran out does.
func timeoutAction() scaffolder.Action {
	return scaffolder.Action{
		Name: "wait-forever", Title: "Wait forever",
		Input: scaffolder.Schema{"type": "object"}, Output: scaffolder.Schema{"type": "object"},
		Handler: func(context.Context, scaffolder.Input) (map[string]any, error) {
			return nil, paved.Errorf(paved.ETimeout, "timed out after 3s waiting for shop: sync=OutOfSync health=Missing")
		},
	}
}

type response struct {
	status int
	body   map[string]any
	raw    string
}

func (f fixture) do(t testing.TB, method, path, token, body string) response {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	raw, _ := io.ReadAll(rec.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return response{status: rec.Code, body: m, raw: string(raw)}
}

func errorName(r response) string {
	e, _ := r.body["error"].(map[string]any)
	name, _ := e["name"].(string)
	return name
}

func errorMessage(r response) string {
	e, _ := r.body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

func TestRoutes(t *testing.T) {
	f := newServer(t)
	const actions = "/api/paved/.backstage/actions/v1/actions"
	tests := []struct {
		name, method, path, token, body string
		wantStatus                      int
		wantError                       string // Backstage error name
		wantInBody                      string
	}{
		{"healthz", "GET", "/healthz", "", "", 200, "", `"ok"`},
		{"readyz", "GET", "/readyz", "", "", 200, "", `"store":"ok"`},
		{"jwks is public", "GET", "/api/paved/.backstage/auth/v1/jwks.json", "", "", 200, "", `"ES256"`},
		{"list needs a token", "GET", actions, "", "", 401, "AuthenticationError", ""},
		{"list with a bad token", "GET", actions, "nope", "", 401, "AuthenticationError", ""},
		{"list", "GET", actions, testToken, "", 200, "", `"paved:greet"`},
		{"actions status", "GET", "/api/paved/.backstage/actions/v1/status", testToken, "", 200, "", `{"hasActions":true}`},
		{"invoke v1", "POST", actions + "/paved:greet/invoke", testToken, `{"name":"jane"}`, 200, "", `"hello jane"`},
		{"invoke v1 url-encoded id", "POST", actions + "/paved%3Agreet/invoke", testToken, `{"name":"jane"}`, 200, "", `"caller":"test"`},
		{"invoke v2", "POST", "/api/paved/.backstage/actions/v2/actions/paved%3Agreet/invoke", testToken, `{"input":{"name":"jo"}}`, 200, "", `"hello jo"`},
		// As Backstage's actions registry: an action that declares no secrets accepts none.
		{"invoke v2 with undeclared secrets", "POST", "/api/paved/.backstage/actions/v2/actions/paved%3Agreet/invoke", testToken, `{"input":{"name":"jo"},"secrets":{"k":"v"}}`, 400, "InputError", `"field":"secrets","message":"action \"paved:greet\" does not accept secrets"`},
		{"invoke v2 bad envelope", "POST", "/api/paved/.backstage/actions/v2/actions/paved:greet/invoke", testToken, `[1]`, 400, "InputError", ""},
		{"invoke unknown action", "POST", actions + "/paved:nope/invoke", testToken, `{}`, 404, "NotFoundError", "paved:greet"},
		// A name Backstage's clients pass on (the MCP actions plugin drops a plain "Error" and its reason).
		{"invoke that timed out", "POST", actions + "/paved:wait-forever/invoke", testToken, `{}`, 504, "ServiceUnavailableError", "timed out after 3s waiting for shop: sync=OutOfSync health=Missing"},
		{"invoke wrong type names the field", "POST", actions + "/paved:greet/invoke", testToken, `{"name":1}`, 400, "InputError", "name"},
		{"invoke missing field", "POST", actions + "/paved:greet/invoke", testToken, `{}`, 400, "InputError", "name: is required"},
		{"invoke not JSON", "POST", actions + "/paved:greet/invoke", testToken, `{"name":`, 400, "InputError", ""},
		{"invoke oversize body", "POST", actions + "/paved:greet/invoke", testToken, `{"name":"` + strings.Repeat("a", 5000) + `"}`, 413, "InputError", "too large"},
		{"invoke needs a token", "POST", actions + "/paved:greet/invoke", "", `{"name":"jane"}`, 401, "AuthenticationError", ""},
		{"panic is a 500 without detail", "POST", actions + "/paved:explode/invoke", testToken, `{}`, 500, "ServiceUnavailableError", "paved's log has its cause under errorId="},
		{"unknown route", "GET", "/api/paved/nothing-here", testToken, "", 404, "NotFoundError", ""},
		{"other plugin id", "GET", "/api/other/.backstage/actions/v1/actions", testToken, "", 404, "NotFoundError", ""},
		{"invocations", "GET", "/api/paved/invocations?limit=5", testToken, "", 200, "", `"items"`},
		{"invocations bad limit", "GET", "/api/paved/invocations?limit=0", testToken, "", 400, "InputError", "limit"},
		{"rotate keys as static token", "POST", "/api/paved/admin/keys/rotate", testToken, "", 200, "", `"kid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, tt.token, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.wantStatus, r.raw)
			}
			if tt.wantError != "" {
				if got := errorName(r); got != tt.wantError {
					t.Fatalf("error name = %q, want %q; body %s", got, tt.wantError, r.raw)
				}
				resp, _ := r.body["response"].(map[string]any)
				if int(resp["statusCode"].(float64)) != tt.wantStatus {
					t.Fatalf("response.statusCode = %v", resp["statusCode"])
				}
			}
			if tt.wantInBody != "" && !strings.Contains(r.raw, tt.wantInBody) {
				t.Fatalf("body lacks %q: %s", tt.wantInBody, r.raw)
			}
			if strings.Contains(r.raw, "secret detail") {
				t.Fatalf("internal detail leaked: %s", r.raw)
			}
		})
	}
}

func TestReadyzReportsTheFailingCheck(t *testing.T) {
	f := newServer(t)
	*f.ready = false
	r := f.do(t, "GET", "/readyz", "", "")
	if r.status != 503 || !strings.Contains(r.raw, `"argocd/default":"argocd down"`) || !strings.Contains(r.raw, `"store":"ok"`) {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
}

func TestInvocationsAreRecorded(t *testing.T) {
	f := newServer(t)
	f.do(t, "POST", "/api/paved/.backstage/actions/v1/actions/paved:greet/invoke", testToken, `{"name":"ann"}`)
	f.do(t, "POST", "/api/paved/.backstage/actions/v1/actions/paved:greet/invoke", testToken, `{"name":"ANN"}`)
	r := f.do(t, "GET", "/api/paved/invocations?action=paved:greet", testToken, "")
	items, _ := r.body["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("want 2 invocations, got %s", r.raw)
	}
	statuses := map[string]bool{}
	for _, it := range items {
		m := it.(map[string]any)
		statuses[m["status"].(string)] = true
		if m["callerPlugin"] != "test" {
			t.Fatalf("caller not recorded: %v", m)
		}
	}
	if !statuses[paved.StatusSucceeded] || !statuses[paved.StatusFailed] {
		t.Fatalf("want one success and one failure: %s", r.raw)
	}
}

// FuzzInvokeDecode throws arbitrary bodies at both invoke versions: paved must
// answer with a client error or success, never a 5xx or a panic.
func FuzzInvokeDecode(f *testing.F) {
	for _, s := range []string{`{"name":"x"}`, `{"input":{"name":"x"},"secrets":{"a":"b"}}`, `[]`, `null`, `{"name":1e999}`, "\x00", `{"input":null}`, `"str"`} {
		f.Add(s, false)
		f.Add(s, true)
	}
	fx := newServer(f)
	f.Fuzz(func(t *testing.T, body string, v2 bool) {
		path := "/api/paved/.backstage/actions/v1/actions/paved:greet/invoke"
		if v2 {
			path = "/api/paved/.backstage/actions/v2/actions/paved:greet/invoke"
		}
		r := fx.do(t, "POST", path, testToken, body)
		if r.status >= 500 {
			t.Fatalf("status %d for body %q: %s", r.status, body, r.raw)
		}
		if r.status != 200 && errorName(r) == "" {
			t.Fatalf("error without Backstage error JSON for %q: %s", body, r.raw)
		}
		if r.status != 200 && errorMessage(r) == "" {
			t.Fatalf("error without a message for %q", body)
		}
	})
}

// TestAuditLogPagesFiltersAndCSV: the audit log pages with an opaque cursor
// (no invocation twice, none left out), filters by user and status, and
// answers CSV; bad parameters are a 400 naming them.
func TestAuditLogPagesFiltersAndCSV(t *testing.T) {
	f := newServer(t)
	for _, name := range []string{"ann", "bob", "cat", "dan", "eve"} {
		f.do(t, "POST", "/api/paved/.backstage/actions/v1/actions/paved:greet/invoke", testToken, fmt.Sprintf(`{"name":%q}`, name))
	}
	f.do(t, "POST", "/api/paved/.backstage/actions/v1/actions/paved:greet/invoke", testToken, `{"name":"ANN"}`) // refused: fails

	seen := map[string]bool{}
	target := "/api/paved/invocations?limit=2"
	pages := 0
	for target != "" {
		r := f.do(t, "GET", target, testToken, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", target, r.status, r.raw)
		}
		pages++
		items, _ := r.body["items"].([]any)
		for _, it := range items {
			id := it.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("invocation %s on two pages", id)
			}
			seen[id] = true
		}
		target = ""
		if next, _ := r.body["nextCursor"].(string); next != "" {
			target = "/api/paved/invocations?limit=2&cursor=" + next
		}
	}
	if len(seen) != 6 || pages != 4 {
		t.Errorf("%d invocations on %d pages, want 6 on 4 (the last empty)", len(seen), pages)
	}

	r := f.do(t, "GET", "/api/paved/invocations?status=failed", testToken, "")
	if items, _ := r.body["items"].([]any); len(items) != 1 || r.body["nextCursor"] != nil {
		t.Errorf("status=failed: %s", r.raw)
	}
	if r := f.do(t, "GET", "/api/paved/invocations?user=user:default/nobody", testToken, ""); r.status != 200 || len(r.body["items"].([]any)) != 0 {
		t.Errorf("user filter: %d %s", r.status, r.raw)
	}

	csv := f.do(t, "GET", "/api/paved/invocations?format=csv&status=failed", testToken, "")
	lines := strings.Split(strings.TrimSpace(csv.raw), "\n")
	if csv.status != 200 || len(lines) != 2 || !strings.HasPrefix(lines[0], "id,actionId,status,errorCode,error,") || !strings.Contains(lines[1], "paved:greet,failed,") {
		t.Errorf("csv: %d %q", csv.status, csv.raw)
	}

	for q, field := range map[string]string{"status=ok": "status", "cursor=nope": "cursor", "format=xml": "format", "user=%00": "user"} {
		r := f.do(t, "GET", "/api/paved/invocations?"+q, testToken, "")
		if r.status != 400 || !strings.Contains(r.raw, `"field":"`+field+`"`) {
			t.Errorf("%s: %d %s, want 400 naming %s", q, r.status, r.raw, field)
		}
	}
}

// An internal error's cause stays in the log; the caller gets an id that
// finds it there, under a name Backstage's MCP actions plugin passes on.
func TestInternalErrorIDFindsTheCauseInTheLog(t *testing.T) {
	var log bytes.Buffer
	f := newServerWith(t, func(d *server.Deps) { d.Logger = slog.New(slog.NewTextHandler(&log, nil)) })
	r := f.do(t, "POST", "/api/paved/.backstage/actions/v1/actions/paved:explode/invoke", testToken, `{}`)
	m := regexp.MustCompile(`^internal error ([0-9a-f]{12}): paved's log has its cause under errorId=([0-9a-f]{12})$`).FindStringSubmatch(errorMessage(r))
	if r.status != 500 || m == nil || m[1] != m[2] {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	var line string
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "errorId="+m[1]) {
			line = l
		}
	}
	if !strings.Contains(line, "secret detail") {
		t.Fatalf("no log line with errorId=%s and the cause:\n%s", m[1], log.String())
	}
	if again := f.do(t, "POST", "/api/paved/.backstage/actions/v1/actions/paved:explode/invoke", testToken, `{}`); strings.Contains(again.raw, m[1]) {
		t.Fatalf("two errors share the id %s", m[1])
	}
}
