// Package storetest is the one table of store tests that every engine runs:
// the engine's own tests call Run with a function that opens a fresh, empty
// store.
package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/sqlstore"
)

// Run runs every store test; open must return a new, empty, migrated store
// for each call and close it when t ends.
func Run(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	tests := []struct {
		name string
		test func(t *testing.T, db *sqlstore.DB)
	}{
		{"Ping", testPing},
		{"InvocationRoundTrip", testInvocationRoundTrip},
		{"InvocationDefaults", testInvocationDefaults},
		{"InvocationInvalid", testInvocationInvalid},
		{"InvocationDuplicateID", testInvocationDuplicateID},
		{"InvocationConcurrentGroupCommit", testInvocationConcurrent},
		{"InvocationBadRecordFailsAlone", testInvocationBadRecordAlone},
		{"InvocationNotFound", testInvocationNotFound},
		{"ListInvocationsOrderAndFilters", testListInvocations},
		{"ListInvocationsDefaultLimit", testListInvocationsDefaultLimit},
		{"DeleteInvocationsBefore", testDeleteInvocationsBefore},
		{"SigningKeysLifecycle", testSigningKeys},
		{"SigningKeyInvalid", testSigningKeyInvalid},
		{"SigningKeyRotationsRace", testRotationsRace},
		{"SigningKeysSealedAtRest", testSigningKeysSealedAtRest},
		{"LeaseAcquireRenewRelease", testLease},
		{"LeaseStolenAfterExpiry", testLeaseExpiry},
		{"LeaseInvalid", testLeaseInvalid},
		{"LeaseRaceHasOneWinner", testLeaseRace},
		{"Cursors", testCursors},
		{"MigrateTwice", testMigrateTwice},
		{"MigrationsAllOrNothing", testMigrationsAllOrNothing},
		{"Catalog", testCatalog},
	}
	tests = append(tests, devexTests...)
	tests = append(tests, infraTests...)
	tests = append(tests, approvalTests...)
	tests = append(tests, noticeTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.test(t, open(t))
		})
	}
}

// base is a time with nanoseconds, which the store cuts to microseconds.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

func testPing(t *testing.T, db *sqlstore.DB) {
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if e := db.Engine(); e != "sqlite" && e != "postgres" {
		t.Errorf("Engine() = %q, want sqlite or postgres", e)
	}
	if db.Dialect().Name != db.Engine() {
		t.Errorf("Dialect().Name = %q, Engine() = %q", db.Dialect().Name, db.Engine())
	}
}

func fullInvocation() paved.Invocation {
	return paved.Invocation{
		ID:           "inv-1",
		ActionID:     "paved:argocd:create-app",
		CallerKind:   paved.PrincipalPlugin,
		CallerPlugin: "scaffolder",
		UserRef:      "user:default/jane",
		EntityRef:    "component:default/shop",
		TemplateRef:  "template:default/service",
		TaskID:       "task-42",
		Status:       paved.StatusFailed,
		ErrorCode:    paved.EConflict,
		Error:        `app "shop" already exists`,
		StartedAt:    base,
		Duration:     1234567 * time.Microsecond,
		Output:       json.RawMessage(`{"app": "shop", "urls": ["https://a", "https://b"], "n": 2, "ok": false}`),
	}
}

func testInvocationRoundTrip(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	in := fullInvocation()
	stored, err := db.RecordInvocation(ctx, in)
	if err != nil {
		t.Fatalf("RecordInvocation: %v", err)
	}
	want := in
	want.StartedAt = base.Truncate(time.Microsecond)
	want.Duration = 1234 * time.Millisecond
	assertInvocation(t, "RecordInvocation", stored, want)

	got, err := db.GetInvocation(ctx, in.ID)
	if err != nil {
		t.Fatalf("GetInvocation: %v", err)
	}
	assertInvocation(t, "GetInvocation", got, want)
}

func testInvocationDefaults(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	stored, err := db.RecordInvocation(ctx, paved.Invocation{ActionID: "paved:ping", Status: paved.StatusSucceeded})
	if err != nil {
		t.Fatalf("RecordInvocation: %v", err)
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !uuid.MatchString(stored.ID) {
		t.Errorf("generated ID %q is not a random UUID", stored.ID)
	}
	if stored.StartedAt.Before(before) || stored.StartedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("StartedAt = %v, want now", stored.StartedAt)
	}
	got, err := db.GetInvocation(ctx, stored.ID)
	if err != nil {
		t.Fatalf("GetInvocation: %v", err)
	}
	assertInvocation(t, "GetInvocation", got, stored)
	if got.Output != nil {
		t.Errorf("Output = %q, want nil when none was recorded", got.Output)
	}

	other, err := db.RecordInvocation(ctx, paved.Invocation{ActionID: "paved:ping", Status: paved.StatusSucceeded})
	if err != nil {
		t.Fatalf("RecordInvocation: %v", err)
	}
	if other.ID == stored.ID {
		t.Errorf("two invocations got the same ID %q", other.ID)
	}
}

func testInvocationInvalid(t *testing.T, db *sqlstore.DB) {
	tests := []struct {
		name string
		inv  paved.Invocation
	}{
		{"no action", paved.Invocation{Status: paved.StatusSucceeded}},
		{"unknown status", paved.Invocation{ActionID: "a", Status: "done"}},
		{"output not JSON", paved.Invocation{ActionID: "a", Status: paved.StatusSucceeded, Output: json.RawMessage(`{"a":`)}},
		{"negative duration", paved.Invocation{ActionID: "a", Status: paved.StatusSucceeded, Duration: -time.Second}},
	}
	for _, tt := range tests {
		_, err := db.RecordInvocation(t.Context(), tt.inv)
		if code := paved.ErrorCode(err); code != paved.EInvalid {
			t.Errorf("%s: RecordInvocation error %v (code %q), want code %q", tt.name, err, code, paved.EInvalid)
		}
	}
	invs, err := db.ListInvocations(t.Context(), paved.InvocationFilter{})
	if err != nil {
		t.Fatalf("ListInvocations: %v", err)
	}
	if len(invs) != 0 {
		t.Errorf("invalid invocations were stored: %+v", invs)
	}
}

func testInvocationDuplicateID(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	first := fullInvocation()
	if _, err := db.RecordInvocation(ctx, first); err != nil {
		t.Fatalf("RecordInvocation: %v", err)
	}
	second := first
	second.ActionID = "paved:other"
	_, err := db.RecordInvocation(ctx, second)
	if code := paved.ErrorCode(err); code != paved.EConflict {
		t.Fatalf("RecordInvocation of a taken ID: error %v (code %q), want code %q", err, code, paved.EConflict)
	}
	got, err := db.GetInvocation(ctx, first.ID)
	if err != nil {
		t.Fatalf("GetInvocation: %v", err)
	}
	if got.ActionID != first.ActionID {
		t.Errorf("ActionID = %q after a refused duplicate, want %q", got.ActionID, first.ActionID)
	}
}

func testInvocationNotFound(t *testing.T, db *sqlstore.DB) {
	_, err := db.GetInvocation(t.Context(), "nope")
	if code := paved.ErrorCode(err); code != paved.ENotFound {
		t.Fatalf("GetInvocation(unknown): error %v (code %q), want code %q", err, code, paved.ENotFound)
	}
}

func testListInvocations(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	// Recorded out of order; "c" and "d" start at the same time, so the ID
	// decides their order.
	record := []struct {
		id, action, user, status string
		at                       time.Duration
	}{
		{"b", "create", "user:default/jane", paved.StatusFailed, 2 * time.Minute},
		{"a", "create", "", paved.StatusSucceeded, 1 * time.Minute},
		{"e", "delete", "user:default/jane", paved.StatusSucceeded, 4 * time.Minute},
		{"c", "create", "user:default/bob", paved.StatusSucceeded, 3 * time.Minute},
		{"d", "delete", "user:default/jane", paved.StatusFailed, 3 * time.Minute},
	}
	for _, r := range record {
		_, err := db.RecordInvocation(ctx, paved.Invocation{
			ID: r.id, ActionID: r.action, UserRef: r.user, Status: r.status, StartedAt: base.Add(r.at),
		})
		if err != nil {
			t.Fatalf("RecordInvocation(%s): %v", r.id, err)
		}
	}

	tests := []struct {
		name   string
		filter paved.InvocationFilter
		want   []string
	}{
		{"all, newest first", paved.InvocationFilter{}, []string{"e", "d", "c", "b", "a"}},
		{"by action", paved.InvocationFilter{ActionID: "create"}, []string{"c", "b", "a"}},
		{"unknown action", paved.InvocationFilter{ActionID: "sync"}, []string{}},
		{"since is inclusive", paved.InvocationFilter{Since: base.Add(3 * time.Minute)}, []string{"e", "d", "c"}},
		{"until is exclusive", paved.InvocationFilter{Until: base.Add(3 * time.Minute)}, []string{"b", "a"}},
		{"range and action", paved.InvocationFilter{ActionID: "delete", Since: base.Add(2 * time.Minute), Until: base.Add(4 * time.Minute)}, []string{"d"}},
		{"limit", paved.InvocationFilter{Limit: 2}, []string{"e", "d"}},
		{"limit with filter", paved.InvocationFilter{ActionID: "create", Limit: 1}, []string{"c"}},
		{"sub-second bounds", paved.InvocationFilter{Since: base.Add(time.Minute + time.Microsecond), Until: base.Add(2*time.Minute + time.Microsecond)}, []string{"b"}},
		{"by user", paved.InvocationFilter{UserRef: "user:default/jane"}, []string{"e", "d", "b"}},
		{"by status", paved.InvocationFilter{Status: paved.StatusFailed}, []string{"d", "b"}},
		{"user, status and action", paved.InvocationFilter{UserRef: "user:default/jane", Status: paved.StatusFailed, ActionID: "create"}, []string{"b"}},
		// Pages: after the last of the previous page, ties broken by ID.
		{"after e", paved.InvocationFilter{After: &paved.InvocationCursor{StartedAt: base.Add(4 * time.Minute), ID: "e"}, Limit: 2}, []string{"d", "c"}},
		{"after d (same time as c)", paved.InvocationFilter{After: &paved.InvocationCursor{StartedAt: base.Add(3 * time.Minute), ID: "d"}, Limit: 2}, []string{"c", "b"}},
		{"after c, with a filter", paved.InvocationFilter{After: &paved.InvocationCursor{StartedAt: base.Add(3 * time.Minute), ID: "c"}, ActionID: "create"}, []string{"b", "a"}},
		{"after the last", paved.InvocationFilter{After: &paved.InvocationCursor{StartedAt: base.Add(time.Minute), ID: "a"}}, []string{}},
	}
	for _, tt := range tests {
		invs, err := db.ListInvocations(ctx, tt.filter)
		if err != nil {
			t.Fatalf("%s: ListInvocations: %v", tt.name, err)
		}
		got := []string{}
		for _, inv := range invs {
			got = append(got, inv.ID)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: ListInvocations(%+v) = %v, want %v", tt.name, tt.filter, got, tt.want)
		}
	}
}

func testListInvocationsDefaultLimit(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	total := sqlstore.DefaultInvocationLimit + 5
	for i := range total {
		_, err := db.RecordInvocation(ctx, paved.Invocation{
			ID: fmt.Sprintf("inv-%03d", i), ActionID: "a", Status: paved.StatusSucceeded, StartedAt: base.Add(time.Duration(i) * time.Second),
		})
		if err != nil {
			t.Fatalf("RecordInvocation: %v", err)
		}
	}
	invs, err := db.ListInvocations(ctx, paved.InvocationFilter{})
	if err != nil {
		t.Fatalf("ListInvocations: %v", err)
	}
	if len(invs) != sqlstore.DefaultInvocationLimit {
		t.Fatalf("ListInvocations without a limit returned %d invocations, want %d", len(invs), sqlstore.DefaultInvocationLimit)
	}
	if first, want := invs[0].ID, fmt.Sprintf("inv-%03d", total-1); first != want {
		t.Errorf("first invocation = %s, want the newest, %s", first, want)
	}
	invs, err = db.ListInvocations(ctx, paved.InvocationFilter{Limit: total + 10})
	if err != nil {
		t.Fatalf("ListInvocations: %v", err)
	}
	if len(invs) != total {
		t.Errorf("ListInvocations with a limit above the count returned %d invocations, want %d", len(invs), total)
	}
}

func testSigningKeys(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	keys, err := db.SigningKeys(ctx)
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	if len(keys) != 0 {
		t.Fatalf("a new store has %d signing keys", len(keys))
	}

	// Bytes that are not text check that the column keeps them as they are.
	pem := func(kid string) []byte {
		return append([]byte("-----BEGIN PRIVATE KEY-----\n"+kid+"\n"), 0, 0xff, 0xfe, '\n')
	}
	for i, kid := range []string{"k1", "k2", "k3"} {
		k := paved.SigningKey{KID: kid, PrivateKeyPEM: pem(kid), CreatedAt: base.Add(time.Duration(i) * time.Hour)}
		if err := db.AddSigningKey(ctx, k); err != nil {
			t.Fatalf("AddSigningKey(%s): %v", kid, err)
		}
	}
	err = db.AddSigningKey(ctx, paved.SigningKey{KID: "k2", PrivateKeyPEM: []byte("other"), CreatedAt: base})
	if code := paved.ErrorCode(err); code != paved.EConflict {
		t.Errorf("AddSigningKey of a taken KID: error %v (code %q), want code %q", err, code, paved.EConflict)
	}

	created := func(i int) time.Time { return base.Add(time.Duration(i) * time.Hour).Truncate(time.Microsecond) }
	retiredAt := base.Add(3 * time.Hour)
	want := []paved.SigningKey{
		{KID: "k3", PrivateKeyPEM: pem("k3"), CreatedAt: created(2)},
		{KID: "k2", PrivateKeyPEM: pem("k2"), CreatedAt: created(1)},
		{KID: "k1", PrivateKeyPEM: pem("k1"), CreatedAt: created(0)},
	}
	assertKeys(t, db, "after adding three", want)

	if err := db.RetireSigningKeys(ctx, "k3", retiredAt); err != nil {
		t.Fatalf("RetireSigningKeys: %v", err)
	}
	want[1].RetiredAt = retiredAt.Truncate(time.Microsecond)
	want[2].RetiredAt = retiredAt.Truncate(time.Microsecond)
	assertKeys(t, db, "after retiring all but k3", want)

	// Retiring again keeps the first retirement time: it decides when the
	// tokens a key signed have all expired.
	if err := db.RetireSigningKeys(ctx, "k3", retiredAt.Add(time.Hour)); err != nil {
		t.Fatalf("RetireSigningKeys: %v", err)
	}
	assertKeys(t, db, "after retiring again", want)

	n, err := db.DeleteSigningKeysRetiredBefore(ctx, retiredAt)
	if err != nil {
		t.Fatalf("DeleteSigningKeysRetiredBefore: %v", err)
	}
	if n != 0 {
		t.Errorf("DeleteSigningKeysRetiredBefore(the retirement time) deleted %d keys, want 0", n)
	}
	assertKeys(t, db, "after deleting none", want)

	n, err = db.DeleteSigningKeysRetiredBefore(ctx, retiredAt.Add(time.Microsecond))
	if err != nil {
		t.Fatalf("DeleteSigningKeysRetiredBefore: %v", err)
	}
	if n != 2 {
		t.Errorf("DeleteSigningKeysRetiredBefore(after the retirement) deleted %d keys, want 2", n)
	}
	assertKeys(t, db, "after deleting the retired keys", want[:1])

	// The current key is never deleted, however late the cut-off.
	n, err = db.DeleteSigningKeysRetiredBefore(ctx, base.Add(1000*time.Hour))
	if err != nil {
		t.Fatalf("DeleteSigningKeysRetiredBefore: %v", err)
	}
	if n != 0 {
		t.Errorf("DeleteSigningKeysRetiredBefore deleted %d unretired keys", n)
	}
	assertKeys(t, db, "at the end", want[:1])
}

func testSigningKeyInvalid(t *testing.T, db *sqlstore.DB) {
	for _, k := range []paved.SigningKey{{PrivateKeyPEM: []byte("x")}, {KID: "k"}} {
		err := db.AddSigningKey(t.Context(), k)
		if code := paved.ErrorCode(err); code != paved.EInvalid {
			t.Errorf("AddSigningKey(%+v): error %v (code %q), want code %q", k, err, code, paved.EInvalid)
		}
	}
	if code := paved.ErrorCode(db.RetireSigningKeys(t.Context(), "k", time.Time{})); code != paved.EInvalid {
		t.Errorf("RetireSigningKeys at the zero time: code %q, want %q", code, paved.EInvalid)
	}
}

func testLease(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	acquire := func(holder string, want bool) {
		t.Helper()
		got, err := db.AcquireLease(ctx, "collector", holder, time.Hour)
		if err != nil {
			t.Fatalf("AcquireLease(%s): %v", holder, err)
		}
		if got != want {
			t.Fatalf("AcquireLease(%s) = %v, want %v", holder, got, want)
		}
	}
	acquire("a", true)  // free
	acquire("b", false) // held by a
	acquire("a", true)  // renewed
	acquire("b", false)

	if err := db.ReleaseLease(ctx, "collector", "b"); err != nil {
		t.Fatalf("ReleaseLease by a non-holder: %v", err)
	}
	acquire("b", false) // b's release did not free a's lease

	// Other leases are independent.
	if ok, err := db.AcquireLease(ctx, "other", "b", time.Hour); err != nil || !ok {
		t.Fatalf("AcquireLease(other, b) = %v, %v; want true", ok, err)
	}

	if err := db.ReleaseLease(ctx, "collector", "a"); err != nil {
		t.Fatalf("ReleaseLease: %v", err)
	}
	acquire("b", true) // released
	acquire("a", false)
}

func testLeaseExpiry(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	const ttl = 5 * time.Millisecond
	ok, err := db.AcquireLease(ctx, "collector", "a", ttl)
	if err != nil || !ok {
		t.Fatalf("AcquireLease(a) = %v, %v; want true", ok, err)
	}
	// Waiting past the TTL is the point of the test, not a speed target.
	time.Sleep(10 * ttl)
	ok, err = db.AcquireLease(ctx, "collector", "b", time.Hour)
	if err != nil || !ok {
		t.Fatalf("AcquireLease(b) after a's lease expired = %v, %v; want true", ok, err)
	}
	ok, err = db.AcquireLease(ctx, "collector", "a", time.Hour)
	if err != nil || ok {
		t.Fatalf("AcquireLease(a) after b took the lease = %v, %v; want false", ok, err)
	}
}

func testLeaseInvalid(t *testing.T, db *sqlstore.DB) {
	for _, tt := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", time.Second}, {"n", "", time.Second}, {"n", "a", 0}, {"n", "a", -time.Second}} {
		_, err := db.AcquireLease(t.Context(), tt.name, tt.holder, tt.ttl)
		if code := paved.ErrorCode(err); code != paved.EInvalid {
			t.Errorf("AcquireLease(%q, %q, %v): error %v (code %q), want code %q", tt.name, tt.holder, tt.ttl, err, code, paved.EInvalid)
		}
	}
}

// testLeaseRace lets several goroutines, each on its own connection of the
// pool, race for the same leases; each lease must have exactly one winner.
func testLeaseRace(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	const racers, rounds = 4, 20
	for round := range rounds {
		name := fmt.Sprintf("lease-%d", round)
		start := make(chan struct{})
		won := make([]bool, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				won[i], errs[i] = db.AcquireLease(ctx, name, fmt.Sprintf("replica-%d", i), time.Hour)
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i := range racers {
			if errs[i] != nil {
				t.Fatalf("%s: racer %d: %v", name, i, errs[i])
			}
			if won[i] {
				winners++
			}
		}
		if winners != 1 {
			t.Fatalf("%s: %d racers won the lease, want exactly 1 (%v)", name, winners, won)
		}
	}
}

func testCursors(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	get := func(name, want string) {
		t.Helper()
		got, err := db.GetCursor(ctx, name)
		if err != nil {
			t.Fatalf("GetCursor(%s): %v", name, err)
		}
		if got != want {
			t.Fatalf("GetCursor(%s) = %q, want %q", name, got, want)
		}
	}
	get("argocd", "")
	if err := db.SetCursor(ctx, "argocd", "rv-1"); err != nil {
		t.Fatalf("SetCursor: %v", err)
	}
	get("argocd", "rv-1")
	if err := db.SetCursor(ctx, "argocd", "rv-2"); err != nil {
		t.Fatalf("SetCursor: %v", err)
	}
	get("argocd", "rv-2")
	get("backstage", "")
	if err := db.SetCursor(ctx, "backstage", ""); err != nil {
		t.Fatalf("SetCursor(empty value): %v", err)
	}
	get("backstage", "")
	get("argocd", "rv-2")
	if code := paved.ErrorCode(db.SetCursor(ctx, "", "x")); code != paved.EInvalid {
		t.Errorf("SetCursor without a name: code %q, want %q", code, paved.EInvalid)
	}
}

func testMigrateTwice(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	countVersions := func() int {
		t.Helper()
		var n int
		if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatalf("count schema_migrations: %v", err)
		}
		return n
	}
	applied := countVersions()
	if applied == 0 {
		t.Fatal("schema_migrations is empty after Open")
	}
	if err := db.SetCursor(ctx, "kept", "yes"); err != nil {
		t.Fatalf("SetCursor: %v", err)
	}
	for range 2 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
	if n := countVersions(); n != applied {
		t.Errorf("schema_migrations has %d versions after migrating again, want %d", n, applied)
	}
	if v, err := db.GetCursor(ctx, "kept"); err != nil || v != "yes" {
		t.Errorf("GetCursor after migrating again = %q, %v; want \"yes\"", v, err)
	}
}

// testMigrationsAllOrNothing runs feature migrations, written in SQL both
// engines accept, beside the engine's own: a failing file undoes every file
// of its run, and a good run applies them in the order of their names.
func testMigrationsAllOrNothing(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	migrate := func(files fstest.MapFS) error {
		return sqlstore.Migrate(ctx, db.SQL(), db.Dialect(), files)
	}
	tableExists := func(name string) bool {
		t.Helper()
		_, err := db.SQL().ExecContext(ctx, `SELECT count(*) FROM `+name)
		return err == nil
	}
	versionRecorded := func(version string) bool {
		t.Helper()
		var n int
		q := db.Dialect().Rebind(`SELECT count(*) FROM schema_migrations WHERE version = ?`)
		if err := db.SQL().QueryRowContext(ctx, q, version).Scan(&n); err != nil {
			t.Fatalf("read schema_migrations: %v", err)
		}
		return n == 1
	}

	first := &fstest.MapFile{Data: []byte(`CREATE TABLE feature_a (x INTEGER NOT NULL);
		INSERT INTO feature_a (x) VALUES (1);`)}
	err := migrate(fstest.MapFS{
		"9001_feature_a.sql": first,
		"9002_broken.sql":    {Data: []byte(`INSERT INTO no_such_table (x) VALUES (1);`)},
	})
	if err == nil {
		t.Fatal("Migrate with a broken file succeeded")
	}
	if tableExists("feature_a") || versionRecorded("9001_feature_a") {
		t.Fatal("a failed migration run left the files before the broken one applied")
	}

	// 9002 needs 9001's table, so it only works when run second; README.md
	// is not a migration.
	err = migrate(fstest.MapFS{
		"9002_feature_b.sql": {Data: []byte(`CREATE TABLE feature_b AS SELECT x FROM feature_a;`)},
		"9001_feature_a.sql": first,
		"README.md":          {Data: []byte("not SQL")},
	})
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for _, v := range []string{"9001_feature_a", "9002_feature_b"} {
		if !versionRecorded(v) {
			t.Errorf("version %s is not recorded", v)
		}
	}
	if !tableExists("feature_b") {
		t.Error("feature_b was not created")
	}
	// The engine's own migrations, absent from this run, are kept.
	if !versionRecorded("0001_init") {
		t.Error("version 0001_init disappeared")
	}
}

// assertInvocation compares invocations, times by instant and outputs as JSON
// values: PostgreSQL's JSONB keeps neither key order nor spacing.
func assertInvocation(t *testing.T, what string, got, want paved.Invocation) {
	t.Helper()
	if !got.StartedAt.Equal(want.StartedAt) {
		t.Errorf("%s: StartedAt = %v, want %v", what, got.StartedAt, want.StartedAt)
	}
	if !jsonEqual(got.Output, want.Output) {
		t.Errorf("%s: Output = %s, want %s", what, got.Output, want.Output)
	}
	got.StartedAt, want.StartedAt = time.Time{}, time.Time{}
	got.Output, want.Output = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func assertKeys(t *testing.T, db *sqlstore.DB, when string, want []paved.SigningKey) {
	t.Helper()
	got, err := db.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("%s: SigningKeys: %v", when, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: SigningKeys returned %d keys, want %d", when, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.KID != w.KID || !bytes.Equal(g.PrivateKeyPEM, w.PrivateKeyPEM) ||
			!g.CreatedAt.Equal(w.CreatedAt) || !g.RetiredAt.Equal(w.RetiredAt) {
			t.Errorf("%s: key %d = {%s %q %v retired %v}, want {%s %q %v retired %v}", when, i,
				g.KID, g.PrivateKeyPEM, g.CreatedAt, g.RetiredAt, w.KID, w.PrivateKeyPEM, w.CreatedAt, w.RetiredAt)
		}
	}
}

func testDeleteInvocationsBefore(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		if _, err := db.RecordInvocation(ctx, paved.Invocation{ID: id, ActionID: "create", Status: paved.StatusSucceeded,
			StartedAt: base.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	// Four are older than the bound; batches of three take the oldest first.
	cut := base.Add(3*time.Hour + time.Microsecond)
	if n, err := db.DeleteInvocationsBefore(ctx, cut, 3); err != nil || n != 3 {
		t.Fatalf("first batch: %d, %v; want 3", n, err)
	}
	if n, err := db.DeleteInvocationsBefore(ctx, cut, 3); err != nil || n != 1 {
		t.Fatalf("second batch: %d, %v; want 1", n, err)
	}
	invs, err := db.ListInvocations(ctx, paved.InvocationFilter{})
	if err != nil || len(invs) != 1 || invs[0].ID != "e" {
		t.Fatalf("left: %+v, %v; want e alone", invs, err)
	}
}
