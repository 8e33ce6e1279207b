package devex

import (
	"context"
	"testing"
	"time"
)

func TestDORATiersAtTheirEdges(t *testing.T) {
	const h = time.Hour
	for _, c := range []struct {
		name, got, want string
	}{
		{"30 deployments in 30 days: daily", DeploymentFrequencyTier(30, 30*day), TierElite},
		{"29 in 30 days", DeploymentFrequencyTier(29, 30*day), TierHigh},
		{"1 in 30 days", DeploymentFrequencyTier(1, 30*day), TierHigh},
		{"1 in 31 days", DeploymentFrequencyTier(1, 31*day), TierMedium},
		{"1 in 182 days", DeploymentFrequencyTier(1, 182*day), TierMedium},
		{"1 in 183 days", DeploymentFrequencyTier(1, 183*day), TierLow},
		{"no deployment", DeploymentFrequencyTier(0, 30*day), TierNone},
		{"lead 59m59s", LeadTimeTier(h-time.Second, 1), TierElite},
		{"lead 1h", LeadTimeTier(h, 1), TierHigh},
		{"lead 7d", LeadTimeTier(week, 3), TierMedium},
		{"lead 182d", LeadTimeTier(182*day, 3), TierLow},
		{"lead without samples", LeadTimeTier(0, 0), TierNone},
		{"restore 59m", TimeToRestoreTier(59*time.Minute, 1), TierElite},
		{"restore 23h", TimeToRestoreTier(23*h, 1), TierHigh},
		{"restore 1d", TimeToRestoreTier(day, 1), TierMedium},
		{"restore 7d", TimeToRestoreTier(week, 1), TierLow},
		{"restore without incidents", TimeToRestoreTier(0, 0), TierNone},
		{"cfr 15%", ChangeFailureTier(0.15, 20), TierElite},
		{"cfr 16%", ChangeFailureTier(0.16, 25), TierHigh},
		{"cfr 30%", ChangeFailureTier(0.30, 10), TierHigh},
		{"cfr 45%", ChangeFailureTier(0.45, 20), TierMedium},
		{"cfr 46%", ChangeFailureTier(0.46, 50), TierLow},
		{"cfr without changes", ChangeFailureTier(0, 0), TierNone},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
}

// TestKeysHandComputed: 14 days, 10 deployments (+2 failed operations) on
// 6 days, 3 of the 12 changes failed; lead times 20m, 50m, 3h, 26h (median
// (50m+3h)/2 = 1h55m = 6900 s: high); restores 10m, 2h, 5h (median 2h: high).
func TestKeysHandComputed(t *testing.T) {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	k := Keys(KeysRow{Group: "component:default/shop", Deployments: 10, DeploymentDays: 6, Changes: 12, FailedChanges: 3,
		LeadTimesMS: []int64{ms(20 * time.Minute), ms(50 * time.Minute), ms(3 * time.Hour), ms(26 * time.Hour)},
		RestoresMS:  []int64{ms(10 * time.Minute), ms(2 * time.Hour), ms(5 * time.Hour)}, OpenIncidents: 1}, 14*day)
	want := FourKeys{Group: "component:default/shop", Deployments: 10, DeploymentDays: 6, DeploymentsPerDay: 0.7143,
		DeploymentFrequencyTier: TierHigh, LeadTimeSeconds: 6900, LeadTimeP90Seconds: 26 * 3600, LeadTimeSamples: 4, LeadTimeTier: TierHigh,
		Changes: 12, FailedChanges: 3, ChangeFailureRate: 0.25, ChangeFailureTier: TierHigh,
		TimeToRestoreSeconds: 7200, Restored: 3, OpenIncidents: 1, TimeToRestoreTier: TierHigh}
	if k != want {
		t.Errorf("Keys =\n%+v\nwant\n%+v", k, want)
	}
	empty := Keys(KeysRow{}, 28*day)
	if empty.DeploymentFrequencyTier != TierNone || empty.LeadTimeTier != TierNone || empty.ChangeFailureTier != TierNone ||
		empty.TimeToRestoreTier != TierNone || empty.ChangeFailureRate != 0 {
		t.Errorf("Keys of nothing = %+v, want every tier none", empty)
	}
}

func TestFacts(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	d := func(id, rev string, s int) DeploymentEvent {
		return DeploymentEvent{ID: id, Revision: rev, Succeeded: true, DeployedAt: at(s)}
	}
	base := AppState{Key: "k", Synced: true, OperationPhase: "Succeeded", ObservedAt: at(500)}

	// A rollback: a, b, then a again; b was rolled back.
	s := base
	s.History = []DeploymentEvent{d("1", "a", 10), d("2", "b", 20), d("3", "a", 30)}
	s.Revision, s.Health, s.HealthSince, s.ReconciledAt = "a", HealthHealthy, at(40), at(41)
	f := Facts(s)
	if len(f.Failures) != 1 || f.Failures[0] != (ChangeFailure{"2", FailureRollback}) {
		t.Errorf("rollback: failures %+v, want change 2 rolled back", f.Failures)
	}
	if f.Healthy == nil || f.Healthy.DeployID != "3" || !f.Healthy.At.Equal(at(40)) || !f.RestoredAt.Equal(at(40)) {
		t.Errorf("rollback: healthy %+v, restored %v; want change 3 at 40 s", f.Healthy, f.RestoredAt)
	}
	// A sync of the same revision again is no rollback.
	s.History = []DeploymentEvent{d("1", "a", 10), d("2", "a", 20)}
	if f := Facts(s); len(f.Failures) != 0 {
		t.Errorf("resync: failures %+v, want none", f.Failures)
	}

	// Health not assessed since the sync: neither the new change's health
	// nor its failure.
	s = base
	s.History = []DeploymentEvent{d("1", "a", 10), d("2", "b", 100)}
	s.Revision, s.Health, s.ReconciledAt = "b", HealthDegraded, at(99)
	f = Facts(s)
	if len(f.Failures) != 0 || f.Healthy != nil || f.Degraded == nil || !f.Degraded.DegradedAt.Equal(at(500)) {
		t.Errorf("stale health: %+v; want an incident since the look and no verdict on change 2", f)
	}
	// Reconciled in the sync's second: a later look decides.
	s.ReconciledAt = at(100)
	if f := Facts(s); len(f.Failures) != 0 {
		t.Errorf("reconciled in the sync's second, first look: failures %+v, want none", f.Failures)
	}
	s.SeenSynced = true
	if f := Facts(s); len(f.Failures) != 1 || f.Failures[0] != (ChangeFailure{"2", FailureDegraded}) {
		t.Errorf("a later look: failures %+v, want change 2 degraded", f.Failures)
	}
	// With Argo CD's transition time, it decides: Degraded since before the
	// sync (even assessed after it) is not this change's failure; since
	// after it, it is.
	s.SeenSynced, s.ReconciledAt, s.HealthSince = false, at(101), at(50)
	if f := Facts(s); len(f.Failures) != 0 || !f.Degraded.DegradedAt.Equal(at(50)) {
		t.Errorf("degraded before the sync: failures %+v, incident %+v; want none, since 50 s", f.Failures, f.Degraded)
	}
	s.HealthSince = at(100)
	if f := Facts(s); len(f.Failures) != 0 {
		t.Errorf("degraded in the sync's second: failures %+v, want none", f.Failures)
	}
	s.HealthSince = at(120)
	if f := Facts(s); len(f.Failures) != 1 || f.Failures[0] != (ChangeFailure{"2", FailureDegraded}) {
		t.Errorf("degraded after the sync: failures %+v, want change 2 degraded", f.Failures)
	}

	// Healthy since the sync's second, at the first look: Healthy then.
	s.Health, s.HealthSince, s.ReconciledAt = HealthHealthy, at(100), at(100)
	if f := Facts(s); f.Healthy == nil || !f.Healthy.At.Equal(at(100)) {
		t.Errorf("healthy since the sync's second: %+v, want at 100 s", f.Healthy)
	}
	// Healthy since before the sync, at the first look in its second: the
	// previous revision's health, no verdict yet.
	s.HealthSince = at(90)
	if f := Facts(s); f.Healthy != nil {
		t.Errorf("healthy since before the sync: %+v, want no verdict yet", f.Healthy)
	}
	s.ReconciledAt = at(101)

	// Healthy through the sync: Healthy at the sync's end.
	s.Health, s.HealthSince = HealthHealthy, at(5)
	if f := Facts(s); f.Healthy == nil || !f.Healthy.At.Equal(at(100)) {
		t.Errorf("healthy through the sync: %+v, want at 100 s", f.Healthy)
	}
	// An Argo CD without transition times: the look's time, or the sync's
	// end on first sight.
	s.HealthSince = time.Time{}
	if f := Facts(s); f.Healthy == nil || !f.Healthy.At.Equal(at(500)) || !f.Healthy.AtFirstSight.Equal(at(100)) {
		t.Errorf("no transition time: %+v", f.Healthy)
	}

	// A failed sync operation is a failed change of its own.
	s.OperationPhase, s.Revision = "Failed", "c"
	f = Facts(s)
	last := f.Changes[len(f.Changes)-1]
	if last.ID != "failed:c" || len(f.Failures) != 1 || f.Failures[0] != (ChangeFailure{"failed:c", FailureOperation}) {
		t.Errorf("failed operation: changes %+v, failures %+v", f.Changes, f.Failures)
	}
}

// doraGenStore counts FourKeys calls and reports a settable generation.
type doraGenStore struct {
	QueryStore
	gen, calls int64
}

func (s *doraGenStore) DORAGeneration(context.Context) (int64, error) { return s.gen, nil }

func (s *doraGenStore) FourKeys(_ context.Context, f Filter, groupBy string) ([]KeysRow, KeysRow, error) {
	s.calls++
	r := KeysRow{Group: groupBy, Changes: s.calls}
	return []KeysRow{r}, r, nil
}

// TestDORACachedPerGeneration: the same question is answered from the
// cache while the store's generation stays, asked again when it moves, and
// another range, filter or grouping is its own question.
func TestDORACachedPerGeneration(t *testing.T) {
	ctx := context.Background()
	st := &doraGenStore{}
	svc := NewService(st)
	f := Filter{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	ask := func(f Filter, by string) int64 {
		t.Helper()
		rep, err := svc.DORA(ctx, f, by)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Overall.Changes
	}
	if a, b := ask(f, "service"), ask(f, "service"); a != 1 || b != 1 || st.calls != 1 {
		t.Fatalf("two asks: %d, %d after %d reads; want one read", a, b, st.calls)
	}
	if ask(f, "team") != 2 || ask(Filter{From: f.From, To: f.To, Owner: "group:default/a"}, "service") != 3 {
		t.Fatalf("other questions answered from the cache (%d reads)", st.calls)
	}
	st.gen++
	if got := ask(f, "service"); got != 4 {
		t.Fatalf("after a write: %d, want a fresh read (4)", got)
	}
}
