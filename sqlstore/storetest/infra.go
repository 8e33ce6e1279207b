package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/sqlstore"
)

func infraResource(id, name string) infra.Resource {
	return infra.Resource{
		ID: id, Kind: "postgresql", Name: name, Driver: "postgres", Owner: "group:default/payments",
		CreatedBy: "user:default/jane", EntityRef: "component:default/shop",
		Parameters: map[string]any{"size": "small", "region": "eu-west-1", "replicas": float64(2)},
		Status:     infra.StatusProvisioning, CreatedAt: base, UpdatedAt: base,
	}
}

func testInfraResources(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	r := infraResource("res-1", "orders")
	if err := db.CreateInfraResource(ctx, r); err != nil {
		t.Fatalf("CreateInfraResource: %v", err)
	}
	// Kind and name are unique, whatever the id.
	if err := db.CreateInfraResource(ctx, infraResource("res-2", "orders")); paved.ErrorCode(err) != paved.EConflict {
		t.Errorf("a second resource of the same kind and name: %v, want conflict", err)
	}
	got, err := db.GetInfraResource(ctx, "res-1")
	if err != nil {
		t.Fatalf("GetInfraResource: %v", err)
	}
	want := r
	want.CreatedAt, want.UpdatedAt = base.Truncate(time.Microsecond), base.Truncate(time.Microsecond)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetInfraResource =\n%+v\nwant\n%+v", got, want)
	}

	r.Status, r.Commit, r.Branch = infra.StatusReady, "0123abcd", "main"
	r.Details = map[string]string{"host": "127.0.0.1", "database": "orders"}
	r.Secret = []byte{0, 1, 2, 255}
	r.ExpiresAt = base.Add(time.Hour)
	r.UpdatedAt = base.Add(time.Minute)
	if err := db.UpdateInfraResource(ctx, r); err != nil {
		t.Fatalf("UpdateInfraResource: %v", err)
	}
	got, err = db.FindInfraResource(ctx, "postgresql", "orders")
	if err != nil {
		t.Fatalf("FindInfraResource: %v", err)
	}
	if got.Status != infra.StatusReady || got.Commit != "0123abcd" || got.Details["database"] != "orders" ||
		string(got.Secret) != string([]byte{0, 1, 2, 255}) || !got.ExpiresAt.Equal(base.Add(time.Hour).Truncate(time.Microsecond)) {
		t.Errorf("after update: %+v", got)
	}

	expired, err := db.ExpiredInfraResources(ctx, base.Add(30*time.Minute), 10)
	if err != nil || len(expired) != 0 {
		t.Errorf("ExpiredInfraResources before expiry = %v, %v; want none", expired, err)
	}
	if err := db.CreateInfraResource(ctx, infraResource("res-3", "ledger")); err != nil {
		t.Fatal(err)
	}
	expired, err = db.ExpiredInfraResources(ctx, base.Add(2*time.Hour), 10)
	if err != nil || len(expired) != 1 || expired[0].ID != "res-1" {
		t.Errorf("ExpiredInfraResources after expiry = %v, %v; want res-1 only (res-3 has no ttl)", expired, err)
	}
	all, err := db.ListInfraResources(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "ledger" {
		t.Errorf("ListInfraResources = %v, %v", all, err)
	}

	if err := db.DeleteInfraResource(ctx, "res-1"); err != nil {
		t.Fatalf("DeleteInfraResource: %v", err)
	}
	if _, err := db.GetInfraResource(ctx, "res-1"); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("after delete: %v, want not found", err)
	}
	if err := db.DeleteInfraResource(ctx, "res-1"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if err := db.UpdateInfraResource(ctx, r); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("updating a deleted resource: %v, want not found", err)
	}
	// The name is free again.
	if err := db.CreateInfraResource(ctx, infraResource("res-4", "orders")); err != nil {
		t.Errorf("re-creating after delete: %v", err)
	}
	bad := infraResource("res-5", "bad")
	bad.Status = "done"
	if err := db.CreateInfraResource(ctx, bad); paved.ErrorCode(err) != paved.EInvalid {
		t.Errorf("unknown status: %v, want invalid", err)
	}
}

func testInfraCreateRace(t *testing.T, db *sqlstore.DB) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = db.CreateInfraResource(t.Context(), infraResource(string(rune('a'+i)), "contested")) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch paved.ErrorCode(err) {
		case "":
			won++
		case paved.EConflict:
		default:
			t.Errorf("CreateInfraResource: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d creations of the same kind/name succeeded, want exactly 1", won)
	}
}

func testInfraProvisionings(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	for i, op := range []string{infra.OpProvision, infra.OpDeprovision, infra.OpReap} {
		p := infra.Provisioning{ResourceID: "res-1", Kind: "postgresql", Name: "orders", Operation: op, Actor: "user:default/jane",
			Status: paved.StatusSucceeded, StartedAt: base.Add(time.Duration(i) * time.Minute), Duration: 1500 * time.Millisecond}
		if i == 1 {
			p.Status, p.Error = paved.StatusFailed, "database is in use"
		}
		if err := db.RecordInfraProvisioning(ctx, p); err != nil {
			t.Fatalf("RecordInfraProvisioning %s: %v", op, err)
		}
	}
	if err := db.RecordInfraProvisioning(ctx, infra.Provisioning{ResourceID: "res-2", Operation: infra.OpProvision, Status: paved.StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	list, err := db.InfraProvisionings(ctx, "res-1", 0)
	if err != nil {
		t.Fatalf("InfraProvisionings: %v", err)
	}
	if len(list) != 3 || list[0].Operation != infra.OpReap || list[1].Status != paved.StatusFailed || list[1].Error != "database is in use" ||
		list[2].Duration != 1500*time.Millisecond || !list[2].StartedAt.Equal(base.Truncate(time.Microsecond)) || list[2].Actor != "user:default/jane" {
		t.Errorf("InfraProvisionings(res-1) = %+v", list)
	}
	all, err := db.InfraProvisionings(ctx, "", 0)
	if err != nil || len(all) != 4 {
		t.Errorf("InfraProvisionings() = %d entries, %v; want 4", len(all), err)
	}
	// An extension of the lifetime is logged too (POST infra/v1/resources/:id/extend).
	if err := db.RecordInfraProvisioning(ctx, infra.Provisioning{ResourceID: "res-3", Operation: infra.OpExtend, Status: paved.StatusSucceeded}); err != nil {
		t.Fatalf("RecordInfraProvisioning extend: %v", err)
	}
	if ext, err := db.InfraProvisionings(ctx, "res-3", 0); err != nil || len(ext) != 1 || ext[0].Operation != infra.OpExtend {
		t.Errorf("InfraProvisionings(res-3) = %+v, %v; want the extension", ext, err)
	}
	if err := db.RecordInfraProvisioning(ctx, infra.Provisioning{Operation: "explode", Status: paved.StatusSucceeded}); paved.ErrorCode(err) != paved.EInvalid {
		t.Errorf("unknown operation: %v, want invalid", err)
	}
}

// Unfinished resources are those a dead call may have left: not ready, and
// not changed since the cut-off.
func testInfraUnfinished(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	for i, st := range []string{infra.StatusProvisioning, infra.StatusReady, infra.StatusDeprovisioning, infra.StatusProvisioning} {
		r := infraResource(fmt.Sprintf("res-%d", i), fmt.Sprintf("db-%d", i))
		r.Status, r.UpdatedAt = st, base.Add(time.Duration(i)*time.Minute)
		if err := db.CreateInfraResource(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.UnfinishedInfraResources(ctx, base.Add(2*time.Minute), 10)
	if err != nil {
		t.Fatalf("UnfinishedInfraResources: %v", err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if !reflect.DeepEqual(ids, []string{"res-0", "res-2"}) {
		t.Errorf("UnfinishedInfraResources = %v, want [res-0 res-2] (res-1 is ready, res-3 changed after the cut-off)", ids)
	}
}

var infraTests = []struct {
	name string
	test func(t *testing.T, db *sqlstore.DB)
}{
	{"InfraResources", testInfraResources},
	{"InfraCreateRaceHasOneWinner", testInfraCreateRace},
	{"InfraProvisionings", testInfraProvisionings},
	{"InfraUnfinished", testInfraUnfinished},
}
