package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for the admin connection

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/postgres"
	"github.com/paved-dev/paved/sqlstore/storetest"
)

// serverDSN returns the DSN of the test server (scripts/pg-test-server.sh), a
// superuser or database owner; the tests skip without one, except in CI.
func serverDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("PAVED_TEST_DATABASE_URL")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PAVED_TEST_DATABASE_URL is not set; CI must run the PostgreSQL tests (scripts/pg-test-server.sh start)")
		}
		t.Skip("PAVED_TEST_DATABASE_URL is not set; run: eval \"$(scripts/pg-test-server.sh start)\"")
	}
	return dsn
}

// freshDatabase creates an empty database with a random name, dropped when t
// ends, and returns its DSN.
func freshDatabase(t testing.TB) string {
	t.Helper()
	server := serverDSN(t)
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatalf("open the test server: %v", err)
	}
	t.Cleanup(func() { admin.Close() })

	name := "paved_test_" + strings.ToLower(rand.Text()[:16])
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		// FORCE ends connections a failed test left open.
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return withDatabase(t, server, name)
}

// withDatabase returns dsn naming database name instead of its own.
func withDatabase(t testing.TB, dsn, name string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("PAVED_TEST_DATABASE_URL is not a URL: %v", err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name // a later key wins
}

func open(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	// Registered after freshDatabase's clean-up, so it runs before the drop.
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	serverDSN(t)
	storetest.Run(t, func(t *testing.T) *sqlstore.DB {
		return open(t, freshDatabase(t))
	})
}

// TestOpenConcurrently starts several replicas on one new database at once:
// the advisory lock must let each of them migrate without error, once.
func TestOpenConcurrently(t *testing.T) {
	dsn := freshDatabase(t)
	const replicas = 4
	dbs := make([]*sqlstore.DB, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i := range replicas {
		if errs[i] != nil {
			t.Errorf("replica %d: Open: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if t.Failed() {
		return
	}
	var n int
	if err := dbs[0].SQL().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql") // the test runs in the package directory
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Errorf("schema_migrations has %d rows, want one per migration file (%d)", n, len(files))
	}
	if dbs[0].Engine() != "postgres" {
		t.Errorf("Engine() = %q, want postgres", dbs[0].Engine())
	}
}

// TestLeaseRaceAcrossReplicas races replicas with pools of their own for
// leases, as separate paved processes would.
func TestLeaseRaceAcrossReplicas(t *testing.T) {
	dsn := freshDatabase(t)
	const replicas, rounds = 3, 20
	dbs := make([]*sqlstore.DB, replicas)
	for i := range dbs {
		dbs[i] = open(t, dsn)
	}
	for round := range rounds {
		name := fmt.Sprintf("lease-%d", round)
		won := make([]bool, replicas)
		errs := make([]error, replicas)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() {
				<-start
				won[i], errs[i] = db.AcquireLease(t.Context(), name, fmt.Sprintf("replica-%d", i), time.Hour)
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i := range dbs {
			if errs[i] != nil {
				t.Fatalf("%s: replica %d: %v", name, i, errs[i])
			}
			if won[i] {
				winners++
			}
		}
		if winners != 1 {
			t.Fatalf("%s: %d replicas won, want exactly 1 (%v)", name, winners, won)
		}
	}
}

// TestOpenErrorsHideSecrets checks that a failed Open names neither the DSN
// nor its password. The first cases need no server.
func TestOpenErrorsHideSecrets(t *testing.T) {
	const password = "s3cr3t-Pa55word"
	tests := []struct {
		name, dsn string
		code      paved.Code
	}{
		{"unparsable URL", "postgres://paved:" + password + "@127.0.0.1:notaport/paved", paved.EInvalid},
		{"unparsable key=value", "host=127.0.0.1 password=" + password + " port=x", paved.EInvalid},
		// Port 1 on loopback: nothing listens there, the dial is refused at once.
		{"nothing listening", "postgres://paved:" + password + "@127.0.0.1:1/paved?connect_timeout=5", paved.EUnavailable},
	}
	if server := os.Getenv("PAVED_TEST_DATABASE_URL"); server != "" {
		u, err := url.Parse(withDatabase(t, server, "paved_no_such_database"))
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), password)
		tests = append(tests, struct {
			name, dsn string
			code      paved.Code
		}{"no such database", u.String(), paved.EUnavailable})
	}
	for _, tt := range tests {
		db, err := postgres.Open(t.Context(), tt.dsn)
		if err == nil {
			db.Close()
			t.Errorf("%s: Open succeeded", tt.name)
			continue
		}
		if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), tt.dsn) {
			t.Errorf("%s: the error shows a secret: %v", tt.name, err)
		}
		if code := paved.ErrorCode(err); code != tt.code {
			t.Errorf("%s: error %v (code %q), want code %q", tt.name, err, code, tt.code)
		}
	}
}

func BenchmarkRecordInvocation(b *testing.B) {
	db := open(b, freshDatabase(b))
	ctx := context.Background()
	for b.Loop() {
		if _, err := db.RecordInvocation(ctx, benchInvocation()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkRecordInvocationParallel(b *testing.B) {
	db := open(b, freshDatabase(b))
	ctx := context.Background()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.RecordInvocation(ctx, benchInvocation()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func benchInvocation() paved.Invocation {
	return paved.Invocation{
		ActionID:     "paved:argocd:create-app",
		CallerKind:   paved.PrincipalPlugin,
		CallerPlugin: "scaffolder",
		UserRef:      "user:default/jane",
		EntityRef:    "component:default/shop",
		Status:       paved.StatusSucceeded,
		StartedAt:    time.Now(),
		Duration:     1500 * time.Millisecond,
		Output:       json.RawMessage(`{"app":"shop","url":"https://argocd.example.com/applications/shop"}`),
	}
}
