//go:build e2e

package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/backstagehost"
)

// freshTemplate is the core template with output.entityRef (the service a
// run registers, which freshness follows) and a description the test edits.
func freshTemplate(description string) string {
	tpl := strings.Replace(coreTemplate, "  name: paved-core\n", "  name: paved-fresh\n  description: "+description+"\n", 1)
	tpl = strings.Replace(tpl, "templateRef: template:default/paved-core", "templateRef: template:default/paved-fresh", 1)
	return strings.Replace(tpl, "  output:\n", "  output:\n    entityRef: component:default/${{ parameters.name }}\n", 1)
}

// TestGoldenPathFreshness (issue 14, must-show 4): the real Backstage catalog
// and scaffolder run a template, the template's file is edited (its
// description: no paved.dev/template-version, so the version is the
// catalog's etag), the catalog picks the change up, the template runs again.
// paved's GET devex/v1/freshness then shows one outdated service of two, the
// first run's, one version behind, with the catalog's etags as versions; the
// CSV lists both services, /metrics has devex_golden_path_outdated 1.
func TestGoldenPathFreshness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	file := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(file, []byte(freshTemplate("first version")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, p, bs := startBackstageOn(t, dir)
	const ref = "template:default/paved-fresh"
	etag := func() string {
		e, err := bs.WaitEntity(ctx, "template", "default", "paved-fresh")
		if err != nil {
			t.Fatal(err)
		}
		meta, _ := e["metadata"].(map[string]any)
		v, _ := meta["etag"].(string)
		return v
	}
	run := func(name string) backstagehost.Task {
		t.Helper()
		id, err := bs.CreateTask(ctx, ref, map[string]any{"name": name, "path": "apps/" + name})
		if err != nil {
			t.Fatal(err)
		}
		task, err := bs.WaitTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != "completed" || task.Output["entityRef"] != "component:default/"+name {
			t.Fatalf("task %s: %s, output %v\n%s", name, task.Status, task.Output, strings.Join(task.Log, "\n"))
		}
		return task
	}

	v1 := etag()
	first := "fresh-a-" + randomHex(2)
	run(first)

	if err := os.WriteFile(file, []byte(freshTemplate("second version")), 0o644); err != nil {
		t.Fatal(err)
	}
	var v2 string
	eventually(t, 2*time.Minute, "the catalog to read the edited template", func() (bool, string) {
		v2 = etag()
		return v2 != "" && v2 != v1, "etag still " + v2
	})
	second := "fresh-b-" + randomHex(2)
	run(second)

	type service struct {
		Service, TemplateRef, Version, CurrentVersion string
		Outdated                                      bool
		VersionsBehind                                int64
	}
	var fresh struct {
		Services, Outdated, LaggardsTotal int64
		Laggards                          []service
	}
	get := func(path string) (int, string) { return httpGet(ctx, p.BaseURL+path, p.Token) }
	// The collector reads the scaffolder every 10 s.
	eventually(t, 2*time.Minute, "paved's freshness to count both runs", func() (bool, string) {
		code, body := get("/api/paved/devex/v1/freshness?template=" + ref)
		if code != 200 || json.Unmarshal([]byte(body), &fresh) != nil {
			return false, body
		}
		return fresh.Services == 2, body
	})
	if fresh.Outdated != 1 || fresh.LaggardsTotal != 1 || len(fresh.Laggards) != 1 {
		t.Fatalf("freshness: %+v, want 1 outdated service of 2", fresh)
	}
	lag := fresh.Laggards[0]
	if lag.Service != "component:default/"+first || lag.Version != v1 || lag.CurrentVersion != v2 || lag.VersionsBehind != 1 || lag.TemplateRef != ref {
		t.Fatalf("laggard %+v, want component:default/%s on %s, 1 version behind %s", lag, first, v1, v2)
	}
	t.Logf("E2E freshness: %d services, %d outdated: %s on version %s, current %s (the catalog's etags)", fresh.Services, fresh.Outdated, lag.Service, lag.Version, lag.CurrentVersion)

	code, body := get("/api/paved/devex/v1/freshness?format=csv")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != 200 || err != nil || len(rows) != 3 || rows[1][0] != "component:default/"+first || rows[1][5] != "true" ||
		rows[2][0] != "component:default/"+second || rows[2][5] != "false" || rows[2][3] != v2 {
		t.Fatalf("freshness CSV: %d %v %q", code, err, rows)
	}
	eventually(t, time.Minute, "devex_golden_path_outdated on /metrics", func() (bool, string) {
		_, metrics := get("/metrics")
		for _, line := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(line, "devex_golden_path_outdated{") && strings.Contains(line, `template="`+ref+`"`) && strings.HasSuffix(line, "} 1") {
				return true, line
			}
		}
		return false, grepLines(metrics, "devex_golden_path_")
	})
}
