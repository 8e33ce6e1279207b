package scaffolder

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved"
)

// waitFor runs wait-argocd-app as the given plugin, with MCP's limit at 30ms.
func waitFor(t *testing.T, ctx context.Context, plugin string, apps Apps, input map[string]any) (map[string]any, error) {
	t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx = paved.WithPrincipal(ctx, paved.Principal{Kind: paved.PrincipalPlugin, Subject: plugin, User: "user:default/jane"})
	reg, err := NewRegistry(RegistryOptions{PluginID: "paved"})
	if err != nil {
		t.Fatal(err)
	}
	// Through the registry, so every output is checked against the action's
	// published output schema.
	if err := reg.Register(AppActions(AppActionsOptions{Apps: apps, PollInterval: time.Millisecond,
		CallerWait: map[string]time.Duration{"mcp-actions": 30 * time.Millisecond}})...); err != nil {
		t.Fatal(err)
	}
	return reg.Invoke(ctx, "paved:wait-argocd-app", raw, nil)
}

func TestWaitAnswersProgressingAtTheCallersLimit(t *testing.T) {
	progressing := paved.App{SyncStatus: "Synced", HealthStatus: "Progressing", URL: "https://argocd/applications/shop"}

	// The MCP plugin's client gives up sooner than the 1m asked for: the
	// call answers at its limit with the state and what to do next.
	out, err := waitFor(t, context.Background(), "mcp-actions", &scriptedApps{states: []paved.App{progressing}}, map[string]any{"name": "shop", "timeout": "1m"})
	if err != nil {
		t.Fatalf("mcp-actions: %v", err)
	}
	msg, _ := out["waitMessage"].(string)
	if out["waitStatus"] != "progressing" || out["healthStatus"] != "Progressing" || out["name"] != "shop" ||
		!strings.Contains(msg, "health=Progressing") || !strings.Contains(msg, "paved:wait-argocd-app") {
		t.Fatalf("mcp-actions output = %v", out)
	}

	// A caller without a limit (the scaffolder) keeps the timeout it asked
	// for, and it ends in the timeout error naming the state.
	_, err = waitFor(t, context.Background(), "scaffolder", &scriptedApps{states: []paved.App{progressing}}, map[string]any{"name": "shop", "timeout": "60ms"})
	if paved.ErrorCode(err) != paved.ETimeout || !strings.Contains(paved.ErrorMessage(err), "timed out after 60ms") {
		t.Fatalf("scaffolder: err = %v (%s), want the timeout", err, paved.ErrorCode(err))
	}

	// A timeout shorter than the caller's limit is the caller's choice: it
	// fails as asked.
	_, err = waitFor(t, context.Background(), "mcp-actions", &scriptedApps{states: []paved.App{progressing}}, map[string]any{"name": "shop", "timeout": "10ms"})
	if paved.ErrorCode(err) != paved.ETimeout {
		t.Fatalf("short timeout: err = %v (%s), want the timeout", err, paved.ErrorCode(err))
	}

	// A failed sync is a failure at once, whoever calls.
	failed := paved.App{SyncStatus: "OutOfSync", OperationPhase: "Failed", OperationMessage: "one or more objects failed to apply"}
	_, err = waitFor(t, context.Background(), "mcp-actions", &scriptedApps{states: []paved.App{failed}}, map[string]any{"name": "shop", "timeout": "1m"})
	if paved.ErrorCode(err) != paved.EConflict {
		t.Fatalf("failed sync: err = %v (%s), want a conflict", err, paved.ErrorCode(err))
	}

	// Healthy says so.
	out, err = waitFor(t, context.Background(), "mcp-actions", &scriptedApps{states: []paved.App{{SyncStatus: "Synced", HealthStatus: "Healthy"}}}, map[string]any{"name": "shop"})
	if err != nil || out["waitStatus"] != "healthy" {
		t.Fatalf("healthy: %v %v", out, err)
	}
}

// A caller that leaves (its request's context ends) stops the polling of
// Argo CD at once instead of keeping it up for the whole timeout.
func TestWaitStopsWhenTheCallerLeaves(t *testing.T) {
	apps := &scriptedApps{states: []paved.App{{SyncStatus: "OutOfSync", HealthStatus: "Missing"}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := waitFor(t, ctx, "scaffolder", apps, map[string]any{"name": "shop", "timeout": "30m"})
		done <- err
	}()
	for apps.count() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a cancelled wait succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait went on after its caller left")
	}
	n := apps.count()
	time.Sleep(50 * time.Millisecond)
	if after := apps.count(); after != n {
		t.Fatalf("Argo CD polled %d more times after the caller left", after-n)
	}
}

func (s *scriptedApps) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}
