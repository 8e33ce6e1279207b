package postgresql_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/lease"
)

// Where a provisioning was killed: what it had made on the server when the
// process died (its record still says provisioning, its lock still held).
var killPoints = []string{"record only", "role", "database unmarked", "database marked"}

// deadAttempt leaves what a provisioning of name killed at point leaves: the
// record (status provisioning), the objects made so far, each as paved makes
// them, and the dead process's lease on the resource's lock.
func deadAttempt(t *testing.T, e *env, name, point string, params map[string]any) infra.Resource {
	t.Helper()
	ctx := t.Context()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	r := infra.Resource{ID: "dead0000-0000-4000-8000-" + hex.EncodeToString(b), Kind: "postgresql", Name: name, Driver: "postgres",
		Owner: "user:default/jane", CreatedBy: "user:default/jane", Parameters: params, Status: infra.StatusProvisioning,
		CreatedAt: e.clock.Now().Add(-time.Hour).UTC(), UpdatedAt: e.clock.Now().Add(-time.Hour).UTC()}
	if err := e.store.CreateInfraResource(ctx, r); err != nil {
		t.Fatal(err)
	}
	// A short lease keeps the test quick; lease_test shows a real one frees within its TTL.
	if _, err := e.store.AcquireLease(ctx, "infra:postgresql/"+name, "dead-process", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	q := pgx.Identifier{strings.ReplaceAll(name, "-", "_")}.Sanitize()
	var stmts []string
	switch point {
	case "database marked":
		stmts = append(stmts, "COMMENT ON DATABASE "+q+" IS 'paved:"+r.ID+"'")
		fallthrough
	case "database unmarked":
		stmts = append([]string{"CREATE DATABASE " + q + " OWNER " + q}, stmts...)
		fallthrough
	case "role":
		stmts = append([]string{"BEGIN", "CREATE ROLE " + q + " LOGIN", "COMMENT ON ROLE " + q + " IS 'paved:" + r.ID + "'", "COMMIT"}, stmts...)
	}
	for _, stmt := range stmts {
		if _, err := e.admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return r
}

// marks returns the markers of the role and database of ident ("" when
// absent, "-" when unmarked).
func (e *env) marks(t *testing.T, ident string) (role, db string) {
	t.Helper()
	_ = e.admin.QueryRow(t.Context(), `SELECT coalesce(shobj_description(oid, 'pg_authid'), '-') FROM pg_roles WHERE rolname = $1`, ident).Scan(&role)
	_ = e.admin.QueryRow(t.Context(), `SELECT coalesce(shobj_description(oid, 'pg_database'), '-') FROM pg_database WHERE datname = $1`, ident).Scan(&db)
	return role, db
}

// The retry of the killed request adopts what the dead attempt made and
// finishes it: the same resource id, one role and one database, marked, and
// the credentials work. Before, it waited 2 minutes and answered 409.
func TestRetryAdoptsKilledProvisioning(t *testing.T) {
	for _, point := range killPoints {
		t.Run(point, func(t *testing.T) {
			e := newEnv(t, nil)
			name := uniqueName(t, "killed")
			ident := strings.ReplaceAll(name, "-", "_")
			// As recorded: with the kind's defaults.
			params := map[string]any{"region": "eu-west-1", "size": "small", "version": "15"}
			dead := deadAttempt(t, e, name, point, params)
			// Bounded: the dead process's lock must free in seconds.
			ctx, cancel := context.WithTimeout(owner("user:default/jane"), 30*time.Second)
			defer cancel()
			r, created, err := e.svc.Provision(ctx, infra.Request{Kind: "postgresql", Name: name, Parameters: params})
			if err != nil {
				t.Fatalf("retry after the kill: %v", err)
			}
			if !created || r.ID != dead.ID || r.Status != infra.StatusReady {
				t.Errorf("retry = %s created=%v status %s, want the dead attempt's resource %s finished", r.ID, created, r.Status, dead.ID)
			}
			if role, db := e.marks(t, ident); role != "paved:"+dead.ID || db != "paved:"+dead.ID {
				t.Errorf("markers role=%q database=%q, want paved:%s on both", role, db, dead.ID)
			}
			creds, _, err := e.svc.Connection(userToken("user:default/jane"), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(t.Context(), creds["url"])
			if err != nil {
				t.Fatalf("connecting with the adopted resource's credentials: %v", err)
			}
			conn.Close(context.Background())
			all, _ := e.store.ListInfraResources(t.Context())
			if len(all) != 1 {
				t.Errorf("records = %d, want 1", len(all))
			}
		})
	}
}

// Another request for the name of a killed provisioning undoes the dead
// attempt, then provisions its own.
func TestOtherRequestUndoesKilledProvisioning(t *testing.T) {
	e := newEnv(t, nil)
	name := uniqueName(t, "killed")
	ident := strings.ReplaceAll(name, "-", "_")
	dead := deadAttempt(t, e, name, "database unmarked", map[string]any{"region": "eu-west-1"})
	ctx, cancel := context.WithTimeout(owner("user:default/bob"), 30*time.Second)
	defer cancel()
	r, created, err := e.svc.Provision(ctx, infra.Request{Kind: "postgresql", Name: name, Parameters: map[string]any{"region": "us-east-1"}})
	if err != nil {
		t.Fatalf("another request after the kill: %v", err)
	}
	if !created || r.ID == dead.ID || r.Owner != "user:default/bob" {
		t.Errorf("got %s owned by %s, want a new resource of bob's", r.ID, r.Owner)
	}
	if role, db := e.marks(t, ident); role != "paved:"+r.ID || db != "paved:"+r.ID {
		t.Errorf("markers role=%q database=%q, want the new resource's", role, db)
	}
}

// A killed provisioning can be deprovisioned (before: 409 "still being
// provisioned"), and the sweep (reaper, start-up) undoes one nobody retries.
func TestKilledProvisioningIsTornDown(t *testing.T) {
	for _, how := range []string{"deprovision", "sweep"} {
		for _, point := range killPoints {
			t.Run(how+"/"+point, func(t *testing.T) {
				e := newEnv(t, nil)
				name := uniqueName(t, "killed")
				ident := strings.ReplaceAll(name, "-", "_")
				dead := deadAttempt(t, e, name, point, map[string]any{"region": "eu-west-1"})
				ctx, cancel := context.WithTimeout(owner("user:default/jane"), 30*time.Second)
				defer cancel()
				if how == "deprovision" {
					if _, err := e.svc.Deprovision(ctx, dead.ID); err != nil {
						t.Fatalf("Deprovision of the stuck record: %v", err)
					}
				} else {
					// The dead process's lease must run out first; the sweep never waits.
					deadline := time.Now().Add(20 * time.Second)
					for {
						n, err := e.svc.Recover(ctx)
						if err != nil {
							t.Fatal(err)
						}
						if n == 1 || time.Now().After(deadline) {
							break
						}
						time.Sleep(200 * time.Millisecond)
					}
				}
				if e.exists(t, "role", ident) || e.exists(t, "database", ident) {
					t.Errorf("role or database left after the teardown")
				}
				if _, err := e.store.GetInfraResource(t.Context(), dead.ID); paved.ErrorCode(err) != paved.ENotFound {
					t.Errorf("record after the teardown: %v, want gone", err)
				}
			})
		}
	}
}

// A deprovisioning killed after its status changed is finished by the retry.
func TestRetryFinishesKilledDeprovisioning(t *testing.T) {
	e := newEnv(t, nil)
	name := uniqueName(t, "dropped")
	ident := strings.ReplaceAll(name, "-", "_")
	r, _, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: name, Parameters: map[string]any{"region": "eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	// The kill: status deprovisioning, database dropped, role not yet, lock held.
	r.Status = infra.StatusDeprovisioning
	if err := e.store.UpdateInfraResource(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.Exec(t.Context(), "DROP DATABASE "+pgx.Identifier{ident}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AcquireLease(t.Context(), "infra:postgresql/"+name, "dead-process", lease.DefaultTTL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(owner("user:default/jane"), 30*time.Second)
	defer cancel()
	if _, err := e.svc.Deprovision(ctx, r.ID); err != nil {
		t.Fatalf("retried Deprovision: %v", err)
	}
	if e.exists(t, "role", ident) {
		t.Errorf("role left")
	}
}
