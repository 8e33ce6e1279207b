package scaffolder

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved"
)

// scriptedApps answers GetApp with its states in turn (the last one
// repeated); err answers everything when set.
type scriptedApps struct {
	mu     sync.Mutex
	states []paved.App
	errs   []error
	calls  int
}

func (s *scriptedApps) Instances() []string { return []string{"main"} }
func (s *scriptedApps) CreateApp(context.Context, paved.AppRequest) (paved.App, error) {
	return paved.App{}, paved.Errorf(paved.EInternal, "not used")
}
func (s *scriptedApps) SyncApp(context.Context, paved.SyncRequest) (paved.App, error) {
	return paved.App{}, paved.Errorf(paved.EInternal, "not used")
}
func (s *scriptedApps) DeleteApp(context.Context, paved.DeleteRequest) error { return nil }
func (s *scriptedApps) GetApp(_ context.Context, ref paved.AppRef, _ bool) (paved.App, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.calls, len(s.states)-1)
	s.calls++
	if i < len(s.errs) && s.errs[i] != nil {
		return paved.App{}, s.errs[i]
	}
	app := s.states[i]
	app.AppRef = ref
	return app, nil
}

func waitAction(t *testing.T, apps Apps) Action {
	t.Helper()
	for _, a := range AppActions(AppActionsOptions{Apps: apps, PollInterval: time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
				return nil
			}
		}}) {
		if a.Name == "wait-argocd-app" {
			return a
		}
	}
	t.Fatal("no wait-argocd-app")
	return Action{}
}

func runWait(t *testing.T, apps Apps, input map[string]any) (map[string]any, error) {
	t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	return waitAction(t, apps).Handler(context.Background(), Input{Raw: raw})
}

func TestWaitNamesTheFailedResources(t *testing.T) {
	failed := paved.App{SyncStatus: "OutOfSync", HealthStatus: "Missing", OperationPhase: "Failed",
		OperationMessage: "one or more objects failed to apply, reason: ConfigMap \"Bad_Name\" is invalid",
		Problems:         []paved.AppProblem{{Resource: "ConfigMap shop/Bad_Name", Status: "SyncFailed", Message: "metadata.name: Invalid value"}}}
	_, err := runWait(t, &scriptedApps{states: []paved.App{{SyncStatus: "OutOfSync", OperationPhase: "Running"}, failed}}, map[string]any{"name": "shop", "timeout": "1m"})
	if paved.ErrorCode(err) != paved.EConflict {
		t.Fatalf("err = %v (%s), want a conflict", err, paved.ErrorCode(err))
	}
	msg := paved.ErrorMessage(err)
	for _, want := range []string{`sync of application "shop" failed (Failed)`, "one or more objects failed to apply", "ConfigMap shop/Bad_Name: SyncFailed (metadata.name: Invalid value)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	resourcesFirst(t, msg, "ConfigMap shop/Bad_Name", "one or more objects failed to apply")
}

// resourcesFirst checks that the resource comes before the operation's
// message: the task log of the actions registry path shows only the
// message's first 400 bytes, and the operation's message can fill them.
func resourcesFirst(t *testing.T, msg, resource, operation string) {
	t.Helper()
	if r, o := strings.Index(msg, resource), strings.Index(msg, operation); r < 0 || o < 0 || r > o {
		t.Errorf("message %q: the resource %q should come before the operation's %q", msg, resource, operation)
	}
}

func TestWaitTimeoutNamesTheUnhealthyResources(t *testing.T) {
	stuck := paved.App{SyncStatus: "Synced", HealthStatus: "Degraded", OperationPhase: "Succeeded", OperationMessage: "successfully synced (all tasks run)",
		Problems: []paved.AppProblem{{Resource: "Deployment shop/api", Status: "Degraded", Message: `Deployment "api" exceeded its progress deadline`}}}
	_, err := runWait(t, &scriptedApps{states: []paved.App{stuck}}, map[string]any{"name": "shop", "timeout": "50ms"})
	if paved.ErrorCode(err) != paved.ETimeout {
		t.Fatalf("err = %v (%s), want a timeout", err, paved.ErrorCode(err))
	}
	msg := paved.ErrorMessage(err)
	for _, want := range []string{"timed out after 50ms", "sync=Synced health=Degraded", "last operation Succeeded: successfully synced", `Deployment shop/api: Degraded (Deployment "api" exceeded its progress deadline)`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	resourcesFirst(t, msg, "Deployment shop/api", "last operation Succeeded")
}

func TestWaitForAnAppToAppear(t *testing.T) {
	missing := paved.Errorf(paved.ENotFound, "application not found")
	healthy := paved.App{SyncStatus: "Synced", HealthStatus: "Healthy"}

	// Without appear, a missing application is a 404 at once.
	apps := &scriptedApps{states: []paved.App{{}, healthy}, errs: []error{missing}}
	if _, err := runWait(t, apps, map[string]any{"name": "shop", "timeout": "1m"}); paved.ErrorCode(err) != paved.ENotFound {
		t.Fatalf("without appear: err = %v, want not found", err)
	}
	if apps.calls != 1 {
		t.Errorf("without appear Argo CD was asked %d times, want once", apps.calls)
	}

	// With it, the wait goes on until the application is there and healthy.
	apps = &scriptedApps{states: []paved.App{{}, {}, healthy}, errs: []error{missing, missing}}
	out, err := runWait(t, apps, map[string]any{"name": "shop", "timeout": "1m", "appear": true})
	if err != nil {
		t.Fatalf("with appear: %v", err)
	}
	if out["syncStatus"] != "Synced" || out["healthStatus"] != "Healthy" || apps.calls != 3 {
		t.Errorf("with appear: output %v after %d calls", out, apps.calls)
	}

	// One that never appears times out, saying so.
	_, err = runWait(t, &scriptedApps{states: []paved.App{{}}, errs: []error{missing}}, map[string]any{"name": "shop", "timeout": "20ms", "appear": true})
	if paved.ErrorCode(err) != paved.ETimeout || !strings.Contains(paved.ErrorMessage(err), "application not found") {
		t.Errorf("never there: err = %v (%s)", err, paved.ErrorCode(err))
	}
}
