package storetest

import (
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// testDevexSLICounts counts each indicator's events by the time they were
// decided, in a one-hour window starting at devexDay.
func testDevexSLICounts(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	from := devexDay
	to := from.Add(time.Hour)
	const tpl, other = "template:default/service", "template:default/other"
	upsertRuns(t, db,
		devexRun("slo-1", tpl, "", devex.TaskCompleted, from.Add(-time.Minute), 2*time.Minute), // finished in
		devexRun("slo-2", tpl, "", devex.TaskCompleted, from, 5*time.Minute),
		devexRun("slo-3", tpl, "", devex.TaskFailed, from, 10*time.Minute),
		devexRun("slo-4", tpl, "", devex.TaskCancelled, from, time.Minute),                // not a failure of the path
		devexRun("slo-5", tpl, "", devex.TaskFailed, from.Add(-2*time.Hour), time.Minute), // finished before
		devexRun("slo-6", tpl, "", devex.TaskProcessing, from, time.Minute),               // not decided
		devexRun("slo-7", other, "", devex.TaskFailed, from, time.Minute),
	)
	counts := func(s devex.SLO) devex.SLICounts {
		t.Helper()
		c, err := db.SLICounts(ctx, s, from, to)
		if err != nil {
			t.Fatalf("SLICounts(%s): %v", s.Name, err)
		}
		return c
	}
	if c := counts(devex.SLO{Name: "runs", SLI: devex.SLIRunSuccess, Template: tpl}); c != (devex.SLICounts{Good: 2, Total: 3}) {
		t.Errorf("run success of %s = %+v, want 2 good of 3", tpl, c)
	}
	if c := counts(devex.SLO{Name: "runs", SLI: devex.SLIRunSuccess}); c != (devex.SLICounts{Good: 2, Total: 4}) {
		t.Errorf("run success of all = %+v, want 2 good of 4", c)
	}

	app := func(key string, created time.Time, healthyAfter time.Duration) devex.AppObservation {
		o := devex.AppObservation{Key: key, Service: key, TemplateRef: tpl, CreatedAt: created}
		if healthyAfter > 0 {
			o.Healthy, o.ObservedAt = true, created.Add(healthyAfter)
		}
		return o
	}
	for _, o := range []devex.AppObservation{
		app("fast", from.Add(time.Minute), 5*time.Minute),       // good at +6m
		app("slow", from.Add(-5*time.Minute), 20*time.Minute),   // bad at +5m (its 10m ran out)
		app("never", from.Add(10*time.Minute), 0),               // bad at +20m
		app("pending", from.Add(55*time.Minute), 0),             // its 10m end after the window: undecided
		app("before", from.Add(-30*time.Minute), 5*time.Minute), // good, but before the window
		app("edge", from.Add(-9*time.Minute), 8*time.Minute),    // good at -1m: before the window
	} {
		// Unhealthy first, then healthy: the first healthy moment is the later look.
		unhealthy := o
		unhealthy.Healthy, unhealthy.ObservedAt = false, o.CreatedAt
		if _, err := db.RecordApps(ctx, []devex.AppObservation{unhealthy}); err != nil {
			t.Fatal(err)
		}
		if o.Healthy {
			if _, err := db.RecordApps(ctx, []devex.AppObservation{o}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tth := devex.SLO{Name: "tth", SLI: devex.SLITimeToHealthy, Template: tpl, Threshold: 10 * time.Minute}
	if c := counts(tth); c != (devex.SLICounts{Good: 1, Total: 3}) {
		t.Errorf("time to healthy = %+v, want 1 good (fast) of 3 (fast, slow, never)", c)
	}
	tth.Template = other
	if c := counts(tth); c != (devex.SLICounts{}) {
		t.Errorf("time to healthy of a template without apps = %+v, want none", c)
	}

	for i, inv := range []paved.Invocation{
		{ActionID: "paved:create-argocd-app", Status: paved.StatusSucceeded, TemplateRef: tpl, StartedAt: from.Add(time.Minute)},
		{ActionID: "paved:create-argocd-app", Status: paved.StatusFailed, ErrorCode: paved.EInvalid, TemplateRef: tpl, StartedAt: from.Add(2 * time.Minute)},
		{ActionID: "paved:create-argocd-app", Status: paved.StatusFailed, ErrorCode: paved.EForbidden, StartedAt: from.Add(3 * time.Minute)},
		{ActionID: "paved:create-argocd-app", Status: paved.StatusFailed, ErrorCode: paved.EUnavailable, TemplateRef: tpl, StartedAt: from.Add(4 * time.Minute)},
		{ActionID: "paved:create-argocd-app", Status: paved.StatusFailed, ErrorCode: paved.EInternal, StartedAt: from.Add(5 * time.Minute)},
		{ActionID: "paved:create-argocd-app", Status: paved.StatusFailed, ErrorCode: paved.EInternal, StartedAt: from.Add(-time.Minute)},
	} {
		inv.CallerKind, inv.CallerPlugin = paved.PrincipalPlugin, "scaffolder"
		if _, err := db.RecordInvocation(ctx, inv); err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
	}
	// A refused or invalid call is the caller's: only 5xx count against paved.
	if c := counts(devex.SLO{Name: "avail", SLI: devex.SLIAvailability}); c != (devex.SLICounts{Good: 3, Total: 5}) {
		t.Errorf("availability = %+v, want 3 good of 5", c)
	}
	if c := counts(devex.SLO{Name: "avail", SLI: devex.SLIAvailability, Template: tpl}); c != (devex.SLICounts{Good: 2, Total: 3}) {
		t.Errorf("availability of %s = %+v, want 2 good of 3", tpl, c)
	}
}
