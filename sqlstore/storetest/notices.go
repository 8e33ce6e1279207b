package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/sqlstore"
)

var noticeTests = []struct {
	name string
	test func(t *testing.T, db *sqlstore.DB)
}{
	{"InfraNoticeOncePerTTL", testInfraNoticeOncePerTTL},
	{"InfraNoticeClaimHasOneWinner", testInfraNoticeClaim},
	{"InfraNoticeTornDownDueWhenGone", testInfraNoticeTornDown},
}

func notice(id, resource, kind string, expires time.Time) infra.Notice {
	return infra.Notice{ID: id, ResourceID: resource, Kind: "postgresql", Name: "orders", Owner: "group:default/payments",
		Notice: kind, ExpiresAt: expires, CreatedAt: base}
}

func readyExpiring(t *testing.T, db *sqlstore.DB, id, name string, expires time.Time) infra.Resource {
	t.Helper()
	r := infraResource(id, name)
	r.Status, r.ExpiresAt = infra.StatusReady, expires
	if err := db.CreateInfraResource(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func testInfraNoticeOncePerTTL(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	end := base.Add(48 * time.Hour).Truncate(time.Microsecond)
	r := readyExpiring(t, db, "res-1", "orders", end)
	readyExpiring(t, db, "res-2", "later", base.Add(30*24*time.Hour))
	readyExpiring(t, db, "res-3", "over", base.Add(-time.Hour)) // ended: the reaper's
	got, err := db.ExpiringInfraResources(ctx, base, base.Add(72*time.Hour), 10)
	if err != nil || len(got) != 1 || got[0].ID != "res-1" {
		t.Fatalf("ExpiringInfraResources = %+v, %v; want res-1 only", got, err)
	}
	if ok, err := db.RecordInfraNotice(ctx, notice("n-1", r.ID, infra.NoticeExpiring, end)); err != nil || !ok {
		t.Fatalf("RecordInfraNotice = %v, %v", ok, err)
	}
	if ok, err := db.RecordInfraNotice(ctx, notice("n-2", r.ID, infra.NoticeExpiring, end)); err != nil || ok {
		t.Errorf("a second notice for the same TTL = %v, %v; want not recorded", ok, err)
	}
	if got, _ := db.ExpiringInfraResources(ctx, base, base.Add(72*time.Hour), 10); len(got) != 0 {
		t.Errorf("a noticed TTL is still listed: %+v", got)
	}
	// An extension moves the TTL: it is listed again, and its notice is new.
	r.ExpiresAt = end.Add(24 * time.Hour)
	if err := db.UpdateInfraResource(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.ExpiringInfraResources(ctx, base, base.Add(96*time.Hour), 10); len(got) != 1 {
		t.Errorf("the extended TTL is not listed: %+v", got)
	}
	if ok, err := db.RecordInfraNotice(ctx, notice("n-3", r.ID, infra.NoticeExpiring, r.ExpiresAt)); err != nil || !ok {
		t.Errorf("the notice of the new TTL = %v, %v; want recorded", ok, err)
	}
	if _, err := db.RecordInfraNotice(ctx, infra.Notice{ID: "n-4", ResourceID: r.ID, Notice: "soon"}); paved.ErrorCode(err) != paved.EInvalid {
		t.Errorf("a notice of no known type without a TTL: %v, want invalid", err)
	}
	due, err := db.DueInfraNotices(ctx, base, 10)
	if err != nil || len(due) != 2 || due[0].ExpiresAt.IsZero() || due[0].Owner != "group:default/payments" {
		t.Errorf("DueInfraNotices = %+v, %v; want both expiring notices", due, err)
	}
}

func testInfraNoticeClaim(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	r := readyExpiring(t, db, "res-1", "orders", base.Add(time.Hour))
	if _, err := db.RecordInfraNotice(ctx, notice("n-1", r.ID, infra.NoticeExpiring, r.ExpiresAt)); err != nil {
		t.Fatal(err)
	}
	at, stale := base.Add(time.Minute), base.Add(-4*time.Minute)
	var wins sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wins.Go(func() {
			ok, err := db.ClaimInfraNotice(ctx, "n-1", at, stale)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wins.Wait()
	if won != 1 {
		t.Fatalf("%d claims won, want 1", won)
	}
	if due, _ := db.DueInfraNotices(ctx, stale, 10); len(due) != 0 {
		t.Errorf("a freshly claimed notice is due: %+v", due)
	}
	// A stale claim (its sender died or failed) is taken again.
	later := at.Add(6 * time.Minute)
	due, _ := db.DueInfraNotices(ctx, later.Add(-5*time.Minute), 10)
	if len(due) != 1 || due[0].Attempts != 1 {
		t.Fatalf("after the claim went stale: %+v, want n-1 with 1 attempt", due)
	}
	if ok, err := db.ClaimInfraNotice(ctx, "n-1", later, later.Add(-5*time.Minute)); err != nil || !ok {
		t.Fatalf("claiming a stale claim = %v, %v", ok, err)
	}
	if err := db.FinishInfraNotice(ctx, "n-1", later); err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.ClaimInfraNotice(ctx, "n-1", later.Add(time.Hour), later.Add(time.Hour)); ok {
		t.Error("a done notice was claimed")
	}
	if n, err := db.PruneInfraNotices(ctx, later.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneInfraNotices with the resource alive = %d, %v; want 0 (it keeps its TTL noticed)", n, err)
	}
	if err := db.DeleteInfraResource(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneInfraNotices(ctx, later.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("PruneInfraNotices with the resource gone = %d, %v; want 1", n, err)
	}
}

func testInfraNoticeTornDown(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	r := readyExpiring(t, db, "res-1", "orders", base)
	if _, err := db.RecordInfraNotice(ctx, notice("n-1", r.ID, infra.NoticeTornDown, r.ExpiresAt)); err != nil {
		t.Fatal(err)
	}
	if due, _ := db.DueInfraNotices(ctx, base, 10); len(due) != 0 {
		t.Errorf("a torn-down notice is due while its resource lives: %+v", due)
	}
	if err := db.DropInfraNotices(ctx, r.ID, infra.NoticeTornDown); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordInfraNotice(ctx, notice("n-2", r.ID, infra.NoticeTornDown, r.ExpiresAt)); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteInfraResource(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	due, err := db.DueInfraNotices(ctx, base, 10)
	if err != nil || len(due) != 1 || due[0].ID != "n-2" || due[0].Notice != infra.NoticeTornDown {
		t.Errorf("DueInfraNotices once the resource is gone = %+v, %v; want n-2 (n-1 was dropped)", due, err)
	}
}
