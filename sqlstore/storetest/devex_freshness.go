package storetest

import (
	"testing"
	"time"

	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

// testDevexFreshness records template versions from runs and the catalog,
// and the version each service was created from.
func testDevexFreshness(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	const tpl, other = "template:default/service", "template:default/other"
	t0 := devexDay
	// Every write freshness reads from moves the generation on.
	lastGen := int64(-1)
	moved := func(what string) {
		t.Helper()
		gen, err := db.FreshnessGeneration(ctx)
		if err != nil {
			t.Fatalf("FreshnessGeneration: %v", err)
		}
		if gen <= lastGen {
			t.Errorf("after %s the generation is %d, was %d", what, gen, lastGen)
		}
		lastGen = gen
	}
	moved("nothing")
	if err := db.SyncTemplateVersions(ctx, []devex.TemplateVersion{{TemplateRef: "Template:default/Service", Version: "v1"},
		{TemplateRef: other, Version: "o1"}}, t0); err != nil {
		t.Fatalf("SyncTemplateVersions: %v", err)
	}
	moved("SyncTemplateVersions")
	run := func(id, version, entity string, created time.Time) devex.Run {
		r := devexRun(id, tpl, "user:default/ann", devex.TaskCompleted, created, time.Minute)
		r.TemplateVersion, r.EntityRef = version, entity
		return r
	}
	failed := run("f-1", "v3", "component:default/broken", t0.Add(time.Hour))
	failed.Status = devex.TaskFailed
	open := run("o-1", "v1", "", t0.Add(time.Hour))
	open.Status, open.FinishedAt = devex.TaskProcessing, time.Time{}
	upsertRuns(t, db,
		run("r-1", "v1", "Component:default/Svc-1", t0.Add(time.Hour)),
		run("r-2", "v2", "component:default/svc-2", t0.Add(3*time.Hour)),
		failed, // a failed run's entity is no service, its version still a version
		open,
	)
	moved("UpsertRuns")
	// A run of svc-2 from before, reported late, does not take it back to v1.
	upsertRuns(t, db, run("r-0", "v1", "component:default/svc-2", t0.Add(2*time.Hour)))

	versions, err := db.TemplateVersions(ctx, tpl)
	if err != nil {
		t.Fatalf("TemplateVersions: %v", err)
	}
	type ver struct {
		version   string
		firstSeen time.Time
		current   bool
	}
	var got []ver
	for _, v := range versions {
		if v.TemplateRef != tpl {
			t.Errorf("version of %q, want only %q", v.TemplateRef, tpl)
		}
		got = append(got, ver{v.Version, v.FirstSeen, v.Current})
	}
	want := []ver{{"v1", t0.Truncate(time.Microsecond), true}, {"v3", t0.Add(time.Hour).Truncate(time.Microsecond), false},
		{"v2", t0.Add(3 * time.Hour).Truncate(time.Microsecond), false}}
	if len(got) != len(want) {
		t.Fatalf("versions = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].version != want[i].version || !got[i].firstSeen.Equal(want[i].firstSeen) || got[i].current != want[i].current {
			t.Errorf("version %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if all, err := db.TemplateVersions(ctx, ""); err != nil || len(all) != 4 {
		t.Errorf("TemplateVersions(all) = %d versions, %v; want 4", len(all), err)
	}

	// svc-1's component is team-b's in the catalog: that owner wins.
	if _, _, err := db.SyncComponents(ctx, []devex.Component{
		{EntityRef: "component:default/svc-1", Kind: "Component", Owner: "group:default/team-b", SourceTemplate: tpl},
		{EntityRef: "component:default/svc-2", Kind: "Component", Owner: "", SourceTemplate: tpl},
	}, t0.Add(4*time.Hour)); err != nil {
		t.Fatalf("SyncComponents: %v", err)
	}
	moved("SyncComponents")
	services, err := db.ServiceVersions(ctx, "", "")
	if err != nil {
		t.Fatalf("ServiceVersions: %v", err)
	}
	type svc struct{ service, owner, version, task string }
	wantSvcs := []svc{{"component:default/svc-1", "group:default/team-b", "v1", "r-1"}, {"component:default/svc-2", "group:default/team-a", "v2", "r-2"}}
	if len(services) != len(wantSvcs) {
		t.Fatalf("services = %+v, want %+v", services, wantSvcs)
	}
	for i, w := range wantSvcs {
		s := services[i]
		if (svc{s.Service, s.Owner, s.Version, s.TaskID}) != w || s.TemplateRef != tpl {
			t.Errorf("service %d = %+v, want %+v of %s", i, s, w, tpl)
		}
	}
	if s, err := db.ServiceVersions(ctx, "group:default/team-b", ""); err != nil || len(s) != 1 || s[0].Service != "component:default/svc-1" {
		t.Errorf("ServiceVersions(team-b) = %+v, %v; want svc-1", s, err)
	}
	if s, err := db.ServiceVersions(ctx, "", other); err != nil || len(s) != 0 {
		t.Errorf("ServiceVersions(other) = %+v, %v; want none", s, err)
	}

	// The catalog lists v2 now and no longer the other template.
	if err := db.SyncTemplateVersions(ctx, []devex.TemplateVersion{{TemplateRef: tpl, Version: "v2"}}, t0.Add(5*time.Hour)); err != nil {
		t.Fatalf("SyncTemplateVersions: %v", err)
	}
	versions, err = db.TemplateVersions(ctx, "")
	if err != nil {
		t.Fatalf("TemplateVersions: %v", err)
	}
	for _, v := range versions {
		wantCurrent := v.TemplateRef == tpl && v.Version == "v2"
		if v.Current != wantCurrent {
			t.Errorf("%s %s current = %v, want %v", v.TemplateRef, v.Version, v.Current, wantCurrent)
		}
		if v.Version == "v2" && !v.FirstSeen.Equal(t0.Add(3*time.Hour).Truncate(time.Microsecond)) {
			t.Errorf("v2 first seen %v, want its run's creation %v (the earlier sighting)", v.FirstSeen, t0.Add(3*time.Hour))
		}
	}

	// svc-1 leaves the catalog: it is no laggard any more.
	if _, _, err := db.SyncComponents(ctx, []devex.Component{{EntityRef: "component:default/svc-2", Kind: "Component", SourceTemplate: tpl}},
		t0.Add(6*time.Hour)); err != nil {
		t.Fatalf("SyncComponents: %v", err)
	}
	if s, err := db.ServiceVersions(ctx, "", ""); err != nil || len(s) != 1 || s[0].Service != "component:default/svc-2" {
		t.Errorf("ServiceVersions after svc-1 left = %+v, %v; want svc-2 only", s, err)
	}
	if _, err := db.DeleteDevexBefore(ctx, t0, t0.AddDate(-5, 0, 0)); err != nil {
		t.Fatalf("DeleteDevexBefore: %v", err)
	}
	moved("DeleteDevexBefore")
}
