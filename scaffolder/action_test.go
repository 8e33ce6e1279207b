package scaffolder

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/paved-dev/paved"
)

type memRecorder struct {
	mu   sync.Mutex
	list []paved.Invocation
}

func (m *memRecorder) RecordInvocation(_ context.Context, inv paved.Invocation) (paved.Invocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.list = append(m.list, inv)
	return inv, nil
}

func echoAction() Action {
	return Action{
		Name:  "echo",
		Title: "Echo",
		Input: object(Schema{
			"name":  pattern(str("Name", ""), dnsLabel, 63),
			"count": Schema{"type": "integer", "minimum": 1, "maximum": 3},
			"nested": object(Schema{
				"flag": Schema{"type": "boolean"},
			}, "flag"),
		}, "name"),
		Output:   Schema{"type": "object", "properties": Schema{"name": Schema{"type": "string"}}, "required": []string{"name"}},
		Examples: []Example{{Description: "echo", Input: map[string]any{"name": "a"}}},
		Handler: func(_ context.Context, in Input) (map[string]any, error) {
			var v struct{ Name string }
			if err := in.Decode(&v); err != nil {
				return nil, err
			}
			if v.Name == "boom" {
				return nil, paved.Errorf(paved.EConflict, "boom happened")
			}
			return map[string]any{"name": v.Name}, nil
		},
		Summarize: func(out map[string]any) map[string]any { return map[string]any{"name": out["name"]} },
	}
}

func newTestRegistry(t *testing.T) (*Registry, *memRecorder) {
	t.Helper()
	rec := &memRecorder{}
	r, err := NewRegistry(RegistryOptions{PluginID: "paved", Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(echoAction()); err != nil {
		t.Fatal(err)
	}
	return r, rec
}

func TestInvokeValidatesAgainstThePublishedSchema(t *testing.T) {
	r, rec := newTestRegistry(t)
	ctx := paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/jane"})
	tests := []struct {
		name       string
		input      string
		wantCode   paved.Code
		wantFields []string
	}{
		{"valid", `{"name":"ok"}`, "", nil},
		{"empty body means empty object", ``, paved.EInvalid, []string{"name"}},
		{"missing required", `{}`, paved.EInvalid, []string{"name"}},
		{"wrong type", `{"name":5}`, paved.EInvalid, []string{"name"}},
		{"pattern", `{"name":"Not A Label"}`, paved.EInvalid, []string{"name"}},
		{"every bad field at once", `{"name":"x","count":9,"nested":{},"extra":1}`, paved.EInvalid, []string{"count", "extra", "nested.flag"}},
		{"not an object", `[1,2]`, paved.EInvalid, nil},
		{"not JSON", `{"name":`, paved.EInvalid, nil},
		{"two values", `{"name":"a"} {}`, paved.EInvalid, nil},
		{"handler error keeps its code", `{"name":"boom"}`, paved.EConflict, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Invoke(ctx, "paved:echo", json.RawMessage(tt.input), nil)
			if got := paved.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("code = %q, want %q (err %v)", got, tt.wantCode, err)
			}
			var pe *paved.Error
			if tt.wantFields != nil {
				if !errors.As(err, &pe) {
					t.Fatalf("want *paved.Error, got %T", err)
				}
				var got []string
				for _, f := range pe.Fields {
					got = append(got, f.Field)
				}
				if strings.Join(got, ",") != strings.Join(tt.wantFields, ",") {
					t.Fatalf("fields = %v, want %v", got, tt.wantFields)
				}
			}
		})
	}
	if len(rec.list) != len(tests) {
		t.Fatalf("recorded %d invocations, want %d", len(rec.list), len(tests))
	}
	ok := rec.list[0]
	if ok.Status != paved.StatusSucceeded || ok.CallerPlugin != "scaffolder" || ok.UserRef != "user:default/jane" || string(ok.Output) != `{"name":"ok"}` {
		t.Fatalf("unexpected record %+v", ok)
	}
	failed := rec.list[len(rec.list)-1]
	if failed.Status != paved.StatusFailed || failed.ErrorCode != paved.EConflict || failed.Error != "boom happened" {
		t.Fatalf("unexpected failure record %+v", failed)
	}
}

func TestInvokeUnknownActionIsNotFound(t *testing.T) {
	r, _ := newTestRegistry(t)
	_, err := r.Invoke(context.Background(), "paved:nope", json.RawMessage(`{}`), nil)
	if paved.ErrorCode(err) != paved.ENotFound || !strings.Contains(err.Error(), "paved:echo") {
		t.Fatalf("got %v", err)
	}
}

// loginAction declares the secrets it needs, as a Backstage action's
// schema.secrets does.
func loginAction() Action {
	return Action{
		Name: "login", Title: "Login",
		Input:   object(Schema{}),
		Output:  Schema{"type": "object"},
		Secrets: Schema{"type": "object", "properties": Schema{"token": Schema{"type": "string", "minLength": 8}}, "required": []string{"token"}},
		Handler: func(_ context.Context, in Input) (map[string]any, error) {
			return map[string]any{"secret": in.Secrets["token"] != ""}, nil
		},
	}
}

func TestSecretsReachTheHandlerButNotTheAuditLog(t *testing.T) {
	r, rec := newTestRegistry(t)
	if err := r.Register(loginAction()); err != nil {
		t.Fatal(err)
	}
	out, err := r.Invoke(context.Background(), "paved:login", json.RawMessage(`{}`), map[string]string{"token": "s3cret-value"})
	if err != nil {
		t.Fatal(err)
	}
	if out["secret"] != true {
		t.Fatalf("handler did not get the secret: %v", out)
	}
	for _, inv := range rec.list {
		if strings.Contains(string(inv.Output), "s3cret") {
			t.Fatalf("secret in audit log: %+v", inv)
		}
	}
}

// Backstage's actions registry rules for v2 secrets: an action that
// declares none refuses any; one that declares them requires them, matching
// its schema, and the refusal never quotes a secret.
func TestSecretsFollowTheActionsDeclaration(t *testing.T) {
	r, _ := newTestRegistry(t)
	if err := r.Register(loginAction()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, action string
		secrets      map[string]string
		wantField    string // "" = accepted
		wantMessage  string
	}{
		{"undeclared, none sent", "paved:echo", nil, "", ""},
		{"undeclared, some sent", "paved:echo", map[string]string{"token": "s3cret-value"}, "secrets", `action "paved:echo" does not accept secrets`},
		{"undeclared, empty object sent", "paved:echo", map[string]string{}, "secrets", "does not accept secrets"},
		{"declared, none sent (v1)", "paved:login", nil, "secrets", "requires secrets but none were provided"},
		{"declared, one missing", "paved:login", map[string]string{"other": "s3cret-value"}, "secrets.token", "is required"},
		{"declared, one too short", "paved:login", map[string]string{"token": "s3cret"}, "secrets.token", "secrets schema"},
		{"declared and given", "paved:login", map[string]string{"token": "s3cret-value"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := `{"name":"a"}`
			if tt.action == "paved:login" {
				input = `{}`
			}
			_, err := r.Invoke(context.Background(), tt.action, json.RawMessage(input), tt.secrets)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *paved.Error
			if !errors.As(err, &pe) || pe.Code != paved.EInvalid || len(pe.Fields) == 0 {
				t.Fatalf("err = %v, want an invalid-input error naming %s", err, tt.wantField)
			}
			if pe.Fields[0].Field != tt.wantField || !strings.Contains(pe.Fields[0].Message, tt.wantMessage) {
				t.Fatalf("fields = %+v, want %s: …%s…", pe.Fields, tt.wantField, tt.wantMessage)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the refusal quotes a secret: %v", err)
			}
		})
	}
}

func TestListJSONShape(t *testing.T) {
	r, _ := newTestRegistry(t)
	var list struct {
		Actions []struct {
			ID, Name, PluginID string
			Attributes         map[string]bool
			Schema             struct{ Input, Output map[string]any }
			Examples           []map[string]any
		}
	}
	if err := json.Unmarshal(r.ListJSON(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Actions) != 1 {
		t.Fatalf("got %d actions", len(list.Actions))
	}
	a := list.Actions[0]
	if a.ID != "paved:echo" || a.Name != "echo" || a.PluginID != "paved" || a.Schema.Input["type"] != "object" || a.Schema.Output["type"] != "object" {
		t.Fatalf("unexpected listing %+v", a)
	}
	if _, ok := a.Attributes["readOnly"]; !ok {
		t.Fatalf("attributes must always carry readOnly: %v", a.Attributes)
	}
}

func TestRegisterRejectsExamplesThatBreakTheSchema(t *testing.T) {
	r, err := NewRegistry(RegistryOptions{PluginID: "paved"})
	if err != nil {
		t.Fatal(err)
	}
	a := echoAction()
	a.Examples = []Example{{Input: map[string]any{"name": 5}}}
	if err := r.Register(a); err == nil {
		t.Fatal("want an error for an example that does not validate")
	}
}

func TestBuiltInActionsHaveValidSchemasAndExamples(t *testing.T) {
	r, err := NewRegistry(RegistryOptions{PluginID: "paved"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(AppActions(AppActionsOptions{})...); err != nil {
		t.Fatal(err)
	}
	want := []string{"paved:create-argocd-app", "paved:delete-argocd-app", "paved:get-argocd-app", "paved:sync-argocd-app", "paved:wait-argocd-app"}
	if got := strings.Join(r.IDs(), ","); got != strings.Join(want, ",") {
		t.Fatalf("ids = %s", got)
	}
}
