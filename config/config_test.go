package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaultsWithoutFile(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PluginID != "paved" || cfg.Listen != "127.0.0.1:7010" || cfg.Database.Engine() != "sqlite" {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if cfg.Database.SQLitePath != filepath.Join(".data", "paved.db") {
		t.Fatalf("sqlite path = %q", cfg.Database.SQLitePath)
	}
	if cfg.BaseURL != "http://127.0.0.1:7010" {
		t.Fatalf("base url = %q", cfg.BaseURL)
	}
	// Below an MCP client's usual 60 s request timeout.
	if d := cfg.Limits.CallerWaits()["mcp-actions"]; d != 50*time.Second {
		t.Fatalf("limits.callerWait[mcp-actions] = %s, want 50s", d)
	}
}

func TestLoadFileWithEnvSubstitutionAndOverrides(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, `
pluginId: golden
listen: 127.0.0.1:9000
argocd:
  instances:
    - name: prod
      server: argocd.example.com:443
      token: ${ARGO_TOKEN}
      defaultProject: ${ARGO_PROJECT:-platform}
auth:
  staticTokens:
    - token: ${CLI_TOKEN}
      subject: cli
`)
	cfg, err := Load(path, env(map[string]string{
		"ARGO_TOKEN":         "tok: with # yaml",
		"CLI_TOKEN":          "0123456789abcdef0123",
		"PAVED_LISTEN":       "127.0.0.1:9100",
		"PAVED_DATABASE_URL": "postgres://paved:s3cret@127.0.0.1:5432/paved",
	}))
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.ArgoCD.Instances[0]
	if in.Token != "tok: with # yaml" || in.DefaultProject != "platform" {
		t.Fatalf("substitution failed: %+v", in)
	}
	if cfg.Listen != "127.0.0.1:9100" || cfg.PluginID != "golden" || cfg.Database.Engine() != "postgres" {
		t.Fatalf("overrides failed: %+v", cfg)
	}
	masked := cfg.Masked()
	for _, secret := range []string{"tok: with", "0123456789abcdef0123", "s3cret"} {
		if strings.Contains(masked, secret) {
			t.Fatalf("masked config leaks %q:\n%s", secret, masked)
		}
	}
	if !strings.Contains(masked, "argocd.example.com:443") {
		t.Fatalf("masked config lost non-secret fields:\n%s", masked)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, `
pluginId: "Bad Id"
listen: nowhere
log: {level: loud}
argocd:
  instances:
    - name: a
      server: ""
    - name: a
      server: x:1
      token: t
      username: u
auth:
  staticTokens: [{token: short, subject: ""}]
limits:
  callerWait: {"MCP Actions": 10s, scaffolder: 0s}
`)
	_, err := Load(path, env(nil))
	var p *Problems
	if !errors.As(err, &p) {
		t.Fatalf("want *Problems, got %v", err)
	}
	want := []string{"pluginId", "listen", "log.level", "argocd.instances[0].server",
		"argocd.instances[0]: needs a token", "argocd.instances[1].name: duplicate",
		"argocd.instances[1]: set either", "auth.staticTokens[0].token", "auth.staticTokens[0].subject",
		`limits.callerWait: "MCP Actions" is not a Backstage plugin id`, "limits.callerWait.scaffolder: must be positive"}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
}

func TestLoadRejectsUnknownKeysAndMissingEnv(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	writeFile(t, unknown, "listne: 127.0.0.1:1\n")
	if _, err := Load(unknown, env(nil)); err == nil || !strings.Contains(err.Error(), "listne") {
		t.Fatalf("want unknown field error, got %v", err)
	}
	missing := filepath.Join(dir, "missing.yaml")
	writeFile(t, missing, "auth: {staticTokens: [{token: '${NOPE}', subject: x}]}\n")
	if _, err := Load(missing, env(nil)); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Fatalf("want missing env error, got %v", err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	writeFile(t, empty, "")
	if _, err := Load(empty, env(nil)); err != nil {
		t.Fatalf("empty file should load: %v", err)
	}
}

func TestMaskURL(t *testing.T) {
	got := MaskURL("postgres://u:pw@h:5432/db?sslmode=disable&password=pw2")
	if strings.Contains(got, "pw@") || strings.Contains(got, "pw2") {
		t.Fatalf("MaskURL leaked: %s", got)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestGuardrailsAndAudit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, `
guardrails:
  apps:
    - templates: [template:default/new-service]
      projects: [team-*]
      destinations: ["https://kubernetes.default.svc/team-*"]
      repoURLs: ["https://git.example.com/*"]
  infra:
    - owners: [group:default/platform]
      sizes: [small, medium, large]
    - kinds: [postgresql]
      sizes: [small]
audit: {retention: 2160h}
`)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	set, err := cfg.Guardrails.Set()
	if err != nil || set == nil || len(set.Apps) != 1 || len(set.Infra) != 2 || cfg.Audit.Retention.D() != 2160*time.Hour || cfg.Audit.PruneInterval.D() != time.Hour {
		t.Fatalf("guardrails %+v audit %+v: %v", set, cfg.Audit, err)
	}
	writeFile(t, path, "guardrails: {apps: [{projects: ['']}]}\naudit: {retention: 1h}\n")
	_, err = Load(path, env(nil))
	if err == nil || !strings.Contains(err.Error(), "guardrails.apps[0].projects") || !strings.Contains(err.Error(), "audit.retention") {
		t.Errorf("bad guardrails and retention: %v", err)
	}
}
