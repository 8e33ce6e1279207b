package server_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
)

// TestDevexFreshness: a service made from v1 of a template, another from v2,
// the catalog at v2: one laggard in JSON, both services in the CSV.
func TestDevexFreshness(t *testing.T) {
	f := newDevexServer(t)
	store := f.store
	ctx := context.Background()
	at := f.day.Add(-48 * time.Hour)
	const tpl = "template:default/fresh"
	run := func(id, version string, created time.Time) devex.Run {
		return devex.Run{TaskID: id, TemplateRef: tpl, Owner: "group:default/team-a", UserRef: "user:default/jane", EntityRef: "component:default/" + id,
			Status: devex.TaskCompleted, CreatedAt: created, FinishedAt: created.Add(time.Minute), TemplateVersion: version}
	}
	if _, err := store.UpsertRuns(ctx, []devex.Run{run("old-svc", "1.0", at), run("new-svc", "2.0", at.Add(24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if err := store.SyncTemplateVersions(ctx, []devex.TemplateVersion{{TemplateRef: tpl, Version: "2.0"}}, at.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := f.do(t, "GET", "/api/paved/devex/v1/freshness", testToken, "")
	if r.status != 200 {
		t.Fatalf("freshness: %d %s", r.status, r.raw)
	}
	var body devex.Freshness
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
		t.Fatal(err)
	}
	if body.Services != 2 || body.Outdated != 1 || len(body.Laggards) != 1 || body.Laggards[0].Service != "component:default/old-svc" ||
		body.Laggards[0].VersionsBehind != 1 || body.Laggards[0].DaysBehind != 1 || body.Laggards[0].CurrentVersion != "2.0" {
		t.Errorf("freshness = %s, want old-svc 1 version and 1 day behind 2.0", r.raw)
	}
	for _, key := range []string{`"templates":[{"templateRef":"template:default/fresh"`, `"teams":[{"owner":"group:default/team-a"`, `"laggardsTotal":1`} {
		if !strings.Contains(r.raw, key) {
			t.Errorf("freshness = %s, want %s", r.raw, key)
		}
	}
	r = f.do(t, "GET", "/api/paved/devex/v1/freshness?format=csv&owner=team-a", testToken, "")
	rows, err := csv.NewReader(strings.NewReader(r.raw)).ReadAll()
	if r.status != 200 || err != nil || len(rows) != 3 || rows[0][0] != "service" || rows[1][0] != "component:default/old-svc" || rows[1][5] != "true" {
		t.Errorf("freshness as CSV: %d %v %q", r.status, err, rows)
	}
	if r := f.do(t, "GET", "/api/paved/devex/v1/freshness?owner=team-b", testToken, ""); r.status != 200 || !strings.Contains(r.raw, `"services":0`) {
		t.Errorf("freshness of team-b: %d %s, want no service", r.status, r.raw)
	}
	if r := f.do(t, "GET", "/api/paved/devex/v1/freshness?format=xml", testToken, ""); r.status != 400 || !strings.Contains(r.raw, `"format"`) {
		t.Errorf("bad format: %d %s, want a 400 naming format", r.status, r.raw)
	}
	if r := f.do(t, "GET", "/api/paved/devex/v1/freshness", f.users.Mint(t, "user:default/dave"), ""); r.status != 403 {
		t.Errorf("freshness as an outsider: %d %s, want 403", r.status, r.raw)
	}
}
