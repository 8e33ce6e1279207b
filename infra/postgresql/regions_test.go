package postgresql_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/e2e/loopback"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/infra/postgresql"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// The second server: PAVED_TEST_DATABASE_URL_2 when set (e.g. from
// PAVED_PG_PORT=55433 PAVED_PG_URL_VAR=PAVED_TEST_DATABASE_URL_2
// scripts/pg-test-server.sh start), else a throwaway one that
// scripts/pg-test-server.sh starts on a free port for this test binary and
// TestMain stops.
var second struct {
	once     sync.Once
	url, dir string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if second.dir != "" {
		stop := exec.Command(filepath.Join("..", "..", "scripts", "pg-test-server.sh"), "stop", second.dir)
		if out, err := stop.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the second PostgreSQL server: %v\n%s", err, out)
		}
		_ = os.RemoveAll(second.dir)
	}
	os.Exit(code)
}

func secondURL(t *testing.T) string {
	t.Helper()
	adminURL(t)
	if u := os.Getenv("PAVED_TEST_DATABASE_URL_2"); u != "" {
		return u
	}
	second.once.Do(startSecond)
	if second.err != nil {
		t.Fatalf("starting a second PostgreSQL server: %v", second.err)
	}
	return second.url
}

func startSecond() {
	dir, err := os.MkdirTemp("", "paved-pg-second-")
	if err != nil {
		second.err = err
		return
	}
	second.dir = dir
	// The port is free when picked (below the ephemeral range, which outgoing
	// connections take from), but another process may bind it before
	// PostgreSQL does: then the start fails and another port is tried.
	var out []byte
	for attempt := 1; ; attempt++ {
		port, err := loopback.FreePort()
		if err != nil {
			second.err = err
			return
		}
		cmd := exec.Command(filepath.Join("..", "..", "scripts", "pg-test-server.sh"), "start", dir)
		cmd.Env = append(os.Environ(), fmt.Sprintf("PAVED_PG_PORT=%d", port), "PAVED_PG_URL_VAR=URL")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if out, err = cmd.Output(); err == nil {
			break
		}
		if attempt == 3 {
			second.err = fmt.Errorf("%v\n%s", err, stderr.String())
			return
		}
	}
	_, u, ok := strings.Cut(strings.TrimSpace(string(out)), "export URL=")
	if !ok {
		second.err = fmt.Errorf("pg-test-server.sh printed %q", out)
		return
	}
	second.url = u
}

func port(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// twoServers is a service whose postgres driver has one server per region:
// eu-west-1 on the first test server (A), us-east-1 on the second (B).
type twoServers struct {
	a, b         *pgx.Conn
	urlA, urlB   string
	portA, portB string
	store        *sqlstore.DB
	clock        *clock
	svc          *infra.Service
	driver       *postgresql.Driver
}

func newTwoServers(t *testing.T) *twoServers {
	t.Helper()
	e := &twoServers{urlA: adminURL(t), urlB: secondURL(t), clock: &clock{t: time.Now()}}
	e.portA, e.portB = port(t, e.urlA), port(t, e.urlB)
	if e.portA == e.portB {
		t.Fatalf("both test servers listen on port %s", e.portA)
	}
	var err error
	if e.store, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	for _, c := range []struct {
		conn **pgx.Conn
		url  string
	}{{&e.a, e.urlA}, {&e.b, e.urlB}} {
		conn, err := pgx.Connect(t.Context(), c.url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		*c.conn = conn
	}
	e.svc, e.driver = e.service(t, []postgresql.Server{{Region: "eu-west-1", URL: e.urlA}, {Name: "us", Region: "us-east-1", URL: e.urlB}})
	return e
}

// service builds a service over e's store with the given servers, as a
// restart of paved with another configuration would.
func (e *twoServers) service(t *testing.T, servers []postgresql.Server) (*infra.Service, *postgresql.Driver) {
	t.Helper()
	driver, err := postgresql.New(servers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(driver.Close)
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "infra-kinds", "postgresql.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kind, err := infra.ParseKind(raw, map[string]infra.Driver{"postgres": driver})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, infra.KeySize)
	for i := range key {
		key[i] = byte(i) // one key for every service over this store
	}
	sealer, _ := infra.NewSealer(key)
	svc, err := infra.NewService(infra.Options{Kinds: []infra.Kind{kind}, Drivers: map[string]infra.Driver{"postgres": driver},
		Store: e.store, Sealer: sealer, Now: e.clock.Now, MaxTTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return svc, driver
}

// name returns a fresh resource name and its identifier, dropped from both
// servers at the end whatever happens.
func (e *twoServers) name(t *testing.T, prefix string) (string, string) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := prefix + "-" + hex.EncodeToString(b)
	ident := strings.ReplaceAll(name, "-", "_")
	t.Cleanup(func() {
		for _, u := range []string{e.urlA, e.urlB} {
			conn, err := pgx.Connect(context.Background(), u)
			if err != nil {
				continue
			}
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{ident}.Sanitize()+" WITH (FORCE)")
			_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{ident}.Sanitize())
			conn.Close(context.Background())
		}
	})
	return name, ident
}

// on reports whether the role and the database ident exist on a server.
func on(t *testing.T, conn *pgx.Conn, ident string) (role, db bool) {
	t.Helper()
	var r, d int
	if err := conn.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1), (SELECT count(*) FROM pg_database WHERE datname = $1)`, ident).Scan(&r, &d); err != nil {
		t.Fatal(err)
	}
	return r == 1, d == 1
}

// othersObjects are the throwaway databases and roles that other test
// packages create and drop on the shared test server while this one runs
// (make test runs packages in parallel): sqlstore/postgres, cmd/paved's
// replicas and regions, costs, server's hostile tests.
var othersObjects = regexp.MustCompile(`^(paved_(test|replicas|hostile|costs)_[a-z0-9]{16}|regional_[0-9a-f]+)$`)

// objects lists the roles and databases on a server, but other test
// packages' throwaway ones: a test compares them before and after.
func objects(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT 'role', rolname FROM pg_roles UNION ALL SELECT 'database', datname FROM pg_database ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var list []string
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			t.Fatal(err)
		}
		if !othersObjects.MatchString(name) {
			list = append(list, typ+" "+name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d: %s", len(list), strings.Join(list, ", "))
}

func TestRegionPicksTheServer(t *testing.T) {
	e := newTwoServers(t)
	region := e.svc.Kinds()[0].Parameters["properties"].(map[string]any)["region"].(map[string]any)
	if enum := fmt.Sprint(region["enum"]); enum != "[eu-west-1 us-east-1]" {
		t.Errorf("published region enum = %s, want the configured regions", enum)
	}

	usName, usIdent := e.name(t, "inus")
	r, _, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: usName,
		Parameters: map[string]any{"size": "large", "region": "us-east-1"}})
	if err != nil {
		t.Fatalf("Provision in us-east-1: %v", err)
	}
	if r.Details["server"] != "us" || r.Details["region"] != "us-east-1" || r.Details["port"] != e.portB {
		t.Errorf("details = %v, want server us, region us-east-1, port %s", r.Details, e.portB)
	}
	if role, db := on(t, e.b, usIdent); !role || !db {
		t.Fatalf("on server B: role %v, database %v; want both", role, db)
	}
	if role, db := on(t, e.a, usIdent); role || db {
		t.Fatalf("a us-east-1 database reached server A: role %v, database %v", role, db)
	}
	var limit int
	if err := e.b.QueryRow(t.Context(), `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, usIdent).Scan(&limit); err != nil || limit != 200 {
		t.Errorf("connection limit on B = %d, %v; want 200 for large", limit, err)
	}

	creds, _, err := e.svc.Connection(userToken("user:default/jane"), r.ID)
	if err != nil {
		t.Fatalf("Connection: %v", err)
	}
	if creds["port"] != e.portB || !strings.Contains(creds["url"], ":"+e.portB+"/") {
		t.Errorf("connection details name port %s (url on B: %v), want B's %s", creds["port"], strings.Contains(creds["url"], ":"+e.portB+"/"), e.portB)
	}
	conn, err := pgx.Connect(t.Context(), creds["url"])
	if err != nil {
		t.Fatalf("connecting with the details: %v", err)
	}
	var serverPort string
	err = conn.QueryRow(t.Context(), `SELECT current_setting('port')`).Scan(&serverPort)
	conn.Close(context.Background())
	if err != nil || serverPort != e.portB {
		t.Errorf("the details reach the server on port %s (%v), want B (%s)", serverPort, err, e.portB)
	}

	euName, euIdent := e.name(t, "ineu")
	eu, _, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: euName,
		Parameters: map[string]any{"region": "eu-west-1"}, TTL: time.Hour})
	if err != nil {
		t.Fatalf("Provision in eu-west-1: %v", err)
	}
	if eu.Details["server"] != "eu-west-1" || eu.Details["port"] != e.portA {
		t.Errorf("details = %v, want server eu-west-1 on port %s", eu.Details, e.portA)
	}
	if role, db := on(t, e.a, euIdent); !role || !db {
		t.Fatalf("on server A: role %v, database %v; want both", role, db)
	}
	if role, db := on(t, e.b, euIdent); role || db {
		t.Fatalf("an eu-west-1 database reached server B")
	}

	if _, err := e.svc.Deprovision(owner("user:default/jane"), r.ID); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if role, db := on(t, e.b, usIdent); role || db {
		t.Errorf("after deprovisioning, on B: role %v, database %v", role, db)
	}
	if role, db := on(t, e.a, euIdent); !role || !db {
		t.Errorf("deprovisioning the us-east-1 database touched server A's")
	}

	e.clock.Add(61 * time.Minute)
	if n, err := e.svc.Reap(t.Context()); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want 1", n, err)
	}
	if role, db := on(t, e.a, euIdent); role || db {
		t.Errorf("the reaper left the expired database on A: role %v, database %v", role, db)
	}
}

func TestUnconfiguredRegionLeavesNothing(t *testing.T) {
	e := newTwoServers(t)
	beforeA, beforeB := objects(t, e.a), objects(t, e.b)
	name, ident := e.name(t, "nowhere")
	for _, region := range []any{"ap-south-1", "", "EU-WEST-1", " eu-west-1", 42,
		`eu-west-1"; DROP ROLE postgres; --`, `eu-west-1'; DROP DATABASE postgres; --`, "eu-west-1\x00", "us-east-1$$"} {
		_, _, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: name,
			Parameters: map[string]any{"region": region}})
		if paved.ErrorCode(err) != paved.EInvalid || !strings.Contains(err.Error(), "parameters.region") {
			t.Errorf("region %q: %v, want invalid naming parameters.region", region, err)
		}
	}
	// The driver refuses on its own too, whatever calls it.
	kind := e.svc.Kinds()[0]
	_, err := e.driver.Provision(t.Context(), kind, infra.Resource{ID: "00000000-0000-4000-8000-000000000001", Name: name,
		Parameters: map[string]any{"region": "ap-south-1"}})
	if paved.ErrorCode(err) != paved.EInvalid || !strings.Contains(err.Error(), "parameters.region") {
		t.Errorf("the driver given region ap-south-1: %v, want invalid naming parameters.region", err)
	}
	if afterA, afterB := objects(t, e.a), objects(t, e.b); afterA != beforeA || afterB != beforeB {
		t.Errorf("server A went from %s to %s, B from %s to %s", beforeA, afterA, beforeB, afterB)
	}
	for _, c := range []*pgx.Conn{e.a, e.b} {
		if role, db := on(t, c, ident); role || db {
			t.Errorf("a refused provisioning left role %v, database %v", role, db)
		}
	}
	if all, _ := e.store.ListInfraResources(t.Context()); len(all) != 0 {
		t.Errorf("refused requests left records: %v", all)
	}
}

func TestRemovedServerIsNeverReplaced(t *testing.T) {
	e := newTwoServers(t)
	name, ident := e.name(t, "orphan")
	r, _, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: name,
		Parameters: map[string]any{"region": "us-east-1"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// A database of the same name on A that paved did not make must survive.
	if _, err := e.a.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{ident}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	configs := map[string][]postgresql.Server{
		"us-east-1 removed":                 {{Region: "eu-west-1", URL: e.urlA}},
		"server us moved to another region": {{Region: "eu-west-1", URL: e.urlA}, {Name: "us", Region: "ap-south-1", URL: e.urlB}},
		"us-east-1 now served by A":         {{Name: "eu", Region: "us-east-1", URL: e.urlA}},
	}
	for what, servers := range configs {
		t.Run(what, func(t *testing.T) {
			svc, _ := e.service(t, servers)
			if _, _, err := svc.Connection(userToken("user:default/jane"), r.ID); paved.ErrorCode(err) != paved.EUnavailable || !strings.Contains(err.Error(), "us-east-1") {
				t.Errorf("Connection: %v, want unavailable naming us-east-1", err)
			}
			if _, err := svc.Deprovision(owner("user:default/jane"), r.ID); paved.ErrorCode(err) != paved.EUnavailable || !strings.Contains(err.Error(), "us-east-1") {
				t.Errorf("Deprovision: %v, want unavailable naming us-east-1", err)
			}
			e.clock.Add(2 * time.Hour)
			if n, _ := svc.Reap(t.Context()); n != 0 {
				t.Errorf("Reap reaped %d", n)
			}
			if got, err := e.store.GetInfraResource(t.Context(), r.ID); err != nil || got.Status != infra.StatusReady {
				t.Errorf("record after the refusals: %+v, %v; want it ready", got, err)
			}
			if role, db := on(t, e.b, ident); !role || !db {
				t.Errorf("server B lost the resource: role %v, database %v", role, db)
			}
			if role, db := on(t, e.a, ident); role || !db {
				t.Errorf("server A was touched: role %v, foreign database %v", role, db)
			}
		})
	}

	// The server back in the configuration: it goes as usual.
	if _, err := e.svc.Deprovision(owner("user:default/jane"), r.ID); err != nil {
		t.Fatalf("Deprovision with the server configured again: %v", err)
	}
	if role, db := on(t, e.b, ident); role || db {
		t.Errorf("on B after deprovisioning: role %v, database %v", role, db)
	}
	if _, db := on(t, e.a, ident); !db {
		t.Errorf("the foreign database on A was dropped")
	}
}

func TestPublishedRegionsFollowTheConfiguration(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "infra-kinds", "postgresql.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dsn := "postgres://paved@127.0.0.1:5432/postgres"
	pinned := strings.Replace(string(raw), "template:\n", "template:\n  server: default\n", 1)
	tests := []struct {
		name    string
		servers []postgresql.Server
		kind    string
		want    []string
	}{
		{"one region", []postgresql.Server{{Region: "ap-south-1", URL: dsn}}, string(raw), []string{"ap-south-1"}},
		{"regions and a default", []postgresql.Server{{Region: "us-east-1", URL: dsn}, {Name: "default", URL: dsn}, {Region: "eu-central-1", URL: dsn}},
			string(raw), []string{"eu-central-1", "us-east-1"}},
		{"single server without a region", []postgresql.Server{{Name: "default", URL: dsn}}, string(raw), []string{"eu-west-1", "us-east-1"}},
		{"kind pinned to a server", []postgresql.Server{{Region: "ap-south-1", URL: dsn}, {Name: "default", URL: dsn}}, pinned, []string{"eu-west-1", "us-east-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := postgresql.New(tt.servers)
			if err != nil {
				t.Fatal(err)
			}
			k, err := infra.ParseKind([]byte(tt.kind), map[string]infra.Driver{"postgres": d})
			if err != nil {
				t.Fatal(err)
			}
			region := k.Parameters["properties"].(map[string]any)["region"].(map[string]any)
			var got []string
			for _, v := range region["enum"].([]any) {
				got = append(got, v.(string))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("region enum = %v, want %v", got, tt.want)
			}
			if !slices.Contains(k.Parameters["required"].([]any), any("region")) {
				t.Errorf("region is not required: %v", k.Parameters["required"])
			}
		})
	}
	// Regions only, and a kind pinned to a server that is not there: paved
	// stops at start.
	d, _ := postgresql.New([]postgresql.Server{{Region: "ap-south-1", URL: dsn}})
	if _, err := infra.ParseKind([]byte(pinned), map[string]infra.Driver{"postgres": d}); err == nil || !strings.Contains(err.Error(), `"default"`) {
		t.Errorf("a kind pinned to an unconfigured server: %v", err)
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := postgresql.New([]postgresql.Server{
		{Region: "eu-west-1", URL: "postgres://paved@a/postgres"},
		{Name: "eu2", Region: "eu-west-1", URL: "postgres://paved@b/postgres"},
		{Name: "x", Region: "eu'; DROP ROLE postgres; --", URL: "postgres://paved@c/postgres"},
		{Name: "empty", Region: "us-east-1"},
		{Name: "bad", URL: "postgres://paved:s3cret-pw@c:notaport/postgres"},
		{URL: "postgres://paved@d/postgres"},
		{Name: "eu-west-1", URL: "postgres://paved@e/postgres"},
	})
	if err == nil {
		t.Fatal("New accepted every server")
	}
	msg := err.Error()
	for _, w := range []string{`"eu2": region "eu-west-1" is served by "eu-west-1"`, `"x": region must match`, `"empty": the URL is empty`,
		`"bad": the URL does not parse`, "server 5: a name or a region is required", `"eu-west-1": the name is used twice`} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "s3cret-pw") {
		t.Errorf("the error shows a password: %s", msg)
	}
}
