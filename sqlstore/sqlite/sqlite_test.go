package sqlite_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
	"github.com/paved-dev/paved/sqlstore/storetest"
)

func open(t testing.TB, path string) *sqlstore.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *sqlstore.DB {
		// A directory that does not exist yet: Open creates it.
		return open(t, filepath.Join(t.TempDir(), "data", "paved.db"))
	})
}

// TestOpenTwice opens one file from two goroutines at once, as two processes
// sharing it would: both migrate without error and see each other's writes.
func TestOpenTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.db")
	dbs := make([]*sqlstore.DB, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = sqlite.Open(t.Context(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if err := dbs[0].SetCursor(t.Context(), "c", "v"); err != nil {
		t.Fatalf("SetCursor: %v", err)
	}
	if v, err := dbs[1].GetCursor(t.Context(), "c"); err != nil || v != "v" {
		t.Fatalf("GetCursor through the other handle = %q, %v; want \"v\"", v, err)
	}
	var n int
	if err := dbs[1].SQL().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql") // the test runs in the package directory
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Errorf("schema_migrations has %d rows, want one per migration file (%d)", n, len(files))
	}
}

func TestOpenSettings(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "paved.db"))
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		if err := db.SQL().QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func TestOpenRefusesMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:?cache=shared", "file:paved.db", "paved.db?mode=ro"} {
		db, err := sqlite.Open(t.Context(), path)
		if err == nil {
			db.Close()
		}
		if code := paved.ErrorCode(err); code != paved.EInvalid {
			t.Errorf("Open(%q): error %v (code %q), want code %q", path, err, code, paved.EInvalid)
		}
	}
}

// TestConcurrentWriters writes from many goroutines at once: none may fail
// with SQLITE_BUSY, and every write must be there.
func TestConcurrentWriters(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "paved.db"))
	const writers, each = 16, 25
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := db.RecordInvocation(t.Context(), invocation()); err != nil {
					failed.Store(err)
					return
				}
				if err := db.SetCursor(t.Context(), "c", string(rune('a'+w))); err != nil {
					failed.Store(err)
					return
				}
				if _, err := db.AcquireLease(t.Context(), "l", string(rune('a'+i%3)), time.Hour); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("a concurrent write failed: %v", err)
	}
	invs, err := db.ListInvocations(t.Context(), paved.InvocationFilter{Limit: sqlstore.MaxInvocationLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) != writers*each {
		t.Errorf("%d invocations stored, want %d", len(invs), writers*each)
	}
}

func invocation() paved.Invocation {
	return paved.Invocation{
		ActionID:     "paved:argocd:create-app",
		CallerKind:   paved.PrincipalPlugin,
		CallerPlugin: "scaffolder",
		UserRef:      "user:default/jane",
		EntityRef:    "component:default/shop",
		TemplateRef:  "template:default/service",
		TaskID:       "task-42",
		Status:       paved.StatusSucceeded,
		StartedAt:    time.Now(),
		Duration:     1500 * time.Millisecond,
		Output:       json.RawMessage(`{"app":"shop","url":"https://argocd.example.com/applications/shop"}`),
	}
}

func BenchmarkRecordInvocation(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "paved.db"))
	ctx := context.Background()
	for b.Loop() {
		if _, err := db.RecordInvocation(ctx, invocation()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkRecordInvocationParallel(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "paved.db"))
	ctx := context.Background()
	b.SetParallelism(4) // 4 writers per core
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.RecordInvocation(ctx, invocation()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// TestFileModes: a store file an earlier run left 0644 (and the -wal and
// -shm files SQLite derives from it) end up 0600, and a new one is 0600.
func TestFileModes(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db")
	if err := os.WriteFile(old, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(old, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	for _, path := range []string{old, filepath.Join(dir, "new", "paved.db")} {
		db := open(t, path)
		if err := db.SetCursor(context.Background(), "c", "v"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(p), err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s: mode %#o, want 0600", filepath.Base(p), m)
			}
		}
	}
}
