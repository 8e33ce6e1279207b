//go:build e2e

package backstagehost

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBackstageRunsATemplate(t *testing.T) {
	started := time.Now()
	b := StartT(t, Options{TemplatesDir: "testdata/templates"})
	t.Logf("backstage ready after %s at %s", time.Since(started).Round(time.Millisecond), b.BaseURL())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := b.WaitEntity(ctx, "template", "default", "e2e-debug-log"); err != nil {
		t.Fatal(err)
	}
	actions, err := b.Actions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(actions, func(a Action) bool { return a.ID == "debug:log" }) {
		t.Fatalf("debug:log missing from %d actions", len(actions))
	}

	id, err := b.CreateTask(ctx, "template:default/e2e-debug-log", map[string]any{"message": "hello from paved e2e"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := b.WaitTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != "completed" {
		t.Fatalf("task %s: status %s, error %q, log %q", id, task.Status, task.Error, task.Log)
	}
	if !slices.ContainsFunc(task.Log, func(l string) bool { return strings.Contains(l, "hello from paved e2e") }) {
		t.Errorf("task log lacks the message: %q", task.Log)
	}
	if rss, err := b.RSS(); err == nil {
		t.Logf("backstage RSS %d MiB", rss>>20)
	}

	if _, err := b.GetEntity(ctx, "component", "default", "nope"); !IsNotFound(err) {
		t.Errorf("missing entity: err = %v, want not found", err)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.BaseURL()+"/api/scaffolder/v2/actions", nil)
	req.Header.Set("Authorization", "Bearer not-the-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: status %d, want 401", resp.StatusCode)
	}
}
