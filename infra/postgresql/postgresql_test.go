package postgresql_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/backstage/backstagetest"
	"github.com/paved-dev/paved/devex/devextest"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/infra/postgresql"
	"github.com/paved-dev/paved/server"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// adminURL is the PostgreSQL server of scripts/pg-test-server.sh (.ci/run).
func adminURL(t testing.TB) string {
	u := os.Getenv("PAVED_TEST_DATABASE_URL")
	if u == "" {
		t.Skip(`PAVED_TEST_DATABASE_URL is not set: scripts/pg-test-server.sh start && eval "$(scripts/pg-test-server.sh env)"`)
	}
	return u
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	admin  *pgx.Conn
	store  *sqlstore.DB
	svc    *infra.Service
	clock  *clock
	driver *postgresql.Driver
}

func newEnv(t *testing.T, membership infra.Membership) *env {
	t.Helper()
	url := adminURL(t)
	driver, err := postgresql.New([]postgresql.Server{{Name: "default", URL: url}})
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
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key := make([]byte, infra.KeySize)
	_, _ = rand.Read(key)
	sealer, _ := infra.NewSealer(key)
	c := &clock{t: time.Now()}
	svc, err := infra.NewService(infra.Options{Kinds: []infra.Kind{kind}, Drivers: map[string]infra.Driver{"postgres": driver},
		Store: store, Sealer: sealer, Membership: membership, Now: c.Now, MaxTTL: 24 * time.Hour, Leases: store})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	return &env{admin: admin, store: store, svc: svc, clock: c, driver: driver}
}

// uniqueName keeps tests that share one server (and their re-runs) apart.
func uniqueName(t *testing.T, prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := prefix + "-" + hex.EncodeToString(b)
	ident := strings.ReplaceAll(name, "-", "_")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), os.Getenv("PAVED_TEST_DATABASE_URL"))
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{ident}.Sanitize()+" WITH (FORCE)")
		_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{ident}.Sanitize())
	})
	return name
}

func (e *env) exists(t *testing.T, catalog, name string) bool {
	t.Helper()
	q := map[string]string{"role": `SELECT count(*) FROM pg_roles WHERE rolname = $1`, "database": `SELECT count(*) FROM pg_database WHERE datname = $1`}[catalog]
	var n int
	if err := e.admin.QueryRow(t.Context(), q, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func owner(user string) context.Context {
	return paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: user})
}

func userToken(user string) context.Context {
	return paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalUser, Subject: user, User: user})
}

func TestProvisionConnectDeprovision(t *testing.T) {
	e := newEnv(t, nil)
	name := uniqueName(t, "orders")
	ident := strings.ReplaceAll(name, "-", "_")
	r, created, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: name,
		Parameters: map[string]any{"size": "medium", "region": "eu-west-1"}})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if !created || r.Status != infra.StatusReady || r.Details["database"] != ident || len(r.Secret) == 0 {
		t.Fatalf("Provision = %+v", r)
	}
	for _, v := range r.Details {
		if len(v) > 30 && !strings.Contains(v, ".") {
			t.Errorf("details %v look like they hold a secret", r.Details)
		}
	}

	creds, _, err := e.svc.Connection(userToken("user:default/jane"), r.ID)
	if err != nil {
		t.Fatalf("Connection as owner: %v", err)
	}
	if creds["username"] != ident || creds["database"] != ident || len(creds["password"]) < 40 {
		t.Fatalf("credentials = %v (password hidden)", map[string]string{"username": creds["username"], "database": creds["database"]})
	}
	if strings.Contains(string(r.Secret), creds["password"]) {
		t.Errorf("the stored secret holds the password in clear")
	}

	// Connect as the new role and use the database.
	conn, err := pgx.Connect(t.Context(), creds["url"])
	if err != nil {
		t.Fatalf("connecting with the returned credentials: %v", err)
	}
	var got int
	_, err = conn.Exec(t.Context(), "CREATE TABLE orders (id int primary key)")
	if err == nil {
		_, err = conn.Exec(t.Context(), "INSERT INTO orders VALUES (42)")
	}
	if err == nil {
		err = conn.QueryRow(t.Context(), "SELECT id FROM orders").Scan(&got)
	}
	conn.Close(context.Background())
	if err != nil || got != 42 {
		t.Fatalf("using the database as its owner: %d, %v", got, err)
	}

	// The server keeps a SCRAM verifier of exactly this password, and the
	// connection limit of the size.
	var verifier string
	var limit int
	if err := e.admin.QueryRow(t.Context(), `SELECT rolpassword, rolconnlimit FROM pg_authid WHERE rolname = $1`, ident).Scan(&verifier, &limit); err != nil {
		t.Fatal(err)
	}
	if !scramMatches(t, verifier, creds["password"]) || scramMatches(t, verifier, creds["password"]+"x") {
		t.Errorf("the stored verifier does not match the returned password")
	}
	if limit != 50 {
		t.Errorf("connection limit = %d, want 50 for medium", limit)
	}

	// PUBLIC may not connect: a role of another resource is refused.
	other := uniqueName(t, "other")
	r2, _, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: other, Parameters: map[string]any{"region": "us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	creds2, _, err := e.svc.Connection(userToken("user:default/jane"), r2.ID)
	if err != nil {
		t.Fatal(err)
	}
	cross := strings.Replace(creds2["url"], "/"+creds2["database"]+"?", "/"+ident+"?", 1)
	if c, err := pgx.Connect(t.Context(), cross); err == nil {
		c.Close(context.Background())
		t.Errorf("another resource's role connected to %s", ident)
	}

	// Asking again changes nothing and keeps the password.
	again, created, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: name,
		Parameters: map[string]any{"size": "medium", "region": "eu-west-1"}})
	if err != nil || created || again.ID != r.ID {
		t.Errorf("Provision again: %v created=%v, want the same resource", err, created)
	}

	// Only the owner: another user, an operator or a plugin without a user
	// token never get the credentials.
	for name, ctx := range map[string]context.Context{
		"another user":           userToken("user:default/mallory"),
		"owner through a plugin": owner("user:default/jane"),
		"operator":               paved.WithPrincipal(context.Background(), paved.Principal{Kind: paved.PrincipalStatic, Subject: "ops"}),
	} {
		if _, _, err := e.svc.Connection(ctx, r.ID); paved.ErrorCode(err) != paved.EForbidden {
			t.Errorf("Connection by %s: %v, want forbidden", name, err)
		}
	}
	if _, err := e.svc.Deprovision(owner("user:default/mallory"), r.ID); paved.ErrorCode(err) != paved.EForbidden {
		t.Errorf("Deprovision by another user: %v, want forbidden", err)
	}
	if !e.exists(t, "database", ident) {
		t.Fatalf("a refused deprovisioning dropped the database")
	}

	if _, err := e.svc.Deprovision(owner("user:default/jane"), r.ID); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if e.exists(t, "database", ident) || e.exists(t, "role", ident) {
		t.Errorf("database or role %s left after deprovisioning", ident)
	}
	if _, _, err := e.svc.Connection(userToken("user:default/jane"), r.ID); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("Connection after deprovisioning: %v, want not found", err)
	}
}

// scramMatches checks password against a SCRAM-SHA-256 verifier as the
// server does: recompute it with the verifier's salt and iterations.
func scramMatches(t *testing.T, verifier, password string) bool {
	t.Helper()
	var iter int
	var salt64, rest string
	head, keys, ok := strings.Cut(strings.TrimPrefix(verifier, "SCRAM-SHA-256$"), "$")
	if !ok {
		t.Fatalf("%q is not a SCRAM verifier", verifier[:min(len(verifier), 14)])
	}
	iterS, salt64, _ := strings.Cut(head, ":")
	rest = keys
	if _, err := fmt.Sscan(iterS, &iter); err != nil {
		t.Fatal(err)
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		t.Fatal(err)
	}
	want, err := postgresql.ScramVerifier(password, salt, iter)
	if err != nil {
		t.Fatal(err)
	}
	return want == verifier && rest != ""
}

func TestNothingHalfCreated(t *testing.T) {
	e := newEnv(t, nil)
	// A database of that name exists already and is not paved's: the role
	// paved creates first must be dropped again.
	name := uniqueName(t, "taken")
	ident := strings.ReplaceAll(name, "-", "_")
	if _, err := e.admin.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{ident}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: name, Parameters: map[string]any{"region": "eu-west-1"}})
	if paved.ErrorCode(err) != paved.EConflict {
		t.Fatalf("Provision over a foreign database = %v, want conflict", err)
	}
	if e.exists(t, "role", ident) {
		t.Errorf("a failed provisioning left role %s", ident)
	}
	if !e.exists(t, "database", ident) {
		t.Errorf("a failed provisioning dropped a database it did not create")
	}
	// A foreign role of that name is left alone too.
	name2 := uniqueName(t, "taken")
	ident2 := strings.ReplaceAll(name2, "-", "_")
	if _, err := e.admin.Exec(t.Context(), "CREATE ROLE "+pgx.Identifier{ident2}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: name2, Parameters: map[string]any{"region": "eu-west-1"}}); paved.ErrorCode(err) != paved.EConflict {
		t.Errorf("Provision over a foreign role = %v, want conflict", err)
	}
	if e.exists(t, "database", ident2) || !e.exists(t, "role", ident2) {
		t.Errorf("after a refused provisioning: database created or foreign role dropped")
	}
	if all, _ := e.store.ListInfraResources(t.Context()); len(all) != 0 {
		t.Errorf("failed provisionings left records: %v", all)
	}
	log, _ := e.store.InfraProvisionings(t.Context(), "", 0)
	if len(log) != 2 || log[0].Status != paved.StatusFailed {
		t.Errorf("log = %+v, want two failed provisionings", log)
	}
}

func TestInjectionAttemptsAreRefused(t *testing.T) {
	e := newEnv(t, nil)
	before := objects(t, e.admin)
	attacks := []string{`x"; DROP ROLE postgres; --`, `x'; DROP DATABASE postgres; --`, "x\x00y", `Robert'); DROP TABLE students;--`, "x$$y"}
	for _, a := range attacks {
		reqs := map[string]infra.Request{
			"name":               {Kind: "postgresql", Name: a, Parameters: map[string]any{"region": "eu-west-1"}},
			"owner":              {Kind: "postgresql", Name: "ok", Owner: "group:default/" + a, Parameters: map[string]any{"region": "eu-west-1"}},
			"kind":               {Kind: a, Name: "ok", Parameters: map[string]any{"region": "eu-west-1"}},
			"parameters.size":    {Kind: "postgresql", Name: "ok", Parameters: map[string]any{"region": "eu-west-1", "size": a}},
			"parameters.region":  {Kind: "postgresql", Name: "ok", Parameters: map[string]any{"region": a}},
			"parameters.version": {Kind: "postgresql", Name: "ok", Parameters: map[string]any{"region": "eu-west-1", "version": a}},
		}
		for field, req := range reqs {
			_, _, err := e.svc.Provision(owner("user:default/jane"), req)
			if paved.ErrorCode(err) != paved.EInvalid || !strings.Contains(err.Error(), field) {
				t.Errorf("%s = %q: %v, want invalid naming %s", field, a, err, field)
			}
		}
		// The driver refuses on its own too, whatever calls it.
		if _, err := postgresql.Identifier(a); paved.ErrorCode(err) != paved.EInvalid {
			t.Errorf("Identifier(%q) = %v, want invalid", a, err)
		}
	}
	if after := objects(t, e.admin); after != before {
		t.Errorf("the server's roles and databases went from %s to %s", before, after)
	}
	if all, _ := e.store.ListInfraResources(t.Context()); len(all) != 0 {
		t.Errorf("refused requests left records: %v", all)
	}
}

func TestReapDropsExpiredDatabase(t *testing.T) {
	e := newEnv(t, nil)
	name := uniqueName(t, "scratch")
	ident := strings.ReplaceAll(name, "-", "_")
	r, _, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: name, Parameters: map[string]any{"region": "eu-west-1"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := e.svc.Reap(t.Context()); n != 0 || !e.exists(t, "database", ident) {
		t.Fatalf("Reap before expiry reaped %d", n)
	}
	e.clock.Add(61 * time.Minute)
	if n, err := e.svc.Reap(t.Context()); err != nil || n != 1 {
		t.Fatalf("Reap after expiry = %d, %v; want 1", n, err)
	}
	if e.exists(t, "database", ident) || e.exists(t, "role", ident) {
		t.Errorf("the expired database or role is still there")
	}
	if _, err := e.store.GetInfraResource(t.Context(), r.ID); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("record after reaping: %v", err)
	}
}

// TestConnectionEndpoint drives GET /api/paved/infra/:id/connection through
// paved's router with real Backstage user tokens; group membership comes
// from a fake Backstage catalog over HTTP.
func TestConnectionEndpoint(t *testing.T) {
	bs := devextest.New(t, "catalog-token-0123456789")
	bs.AddUser("user:default/carol", "group:default/payments")
	bs.AddUser("user:default/dave", "group:default/other")
	members := backstage.NewReadClient(backstage.NewDiscovery(bs.Discovery(), nil), backstage.StaticTokenSource(bs.Token), nil)
	e := newEnv(t, members)
	name := uniqueName(t, "ledger")
	r, _, err := e.svc.Provision(owner("user:default/carol"), infra.Request{Kind: "postgresql", Name: name, Owner: "group:default/payments",
		Parameters: map[string]any{"region": "eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	users := backstagetest.NewUsers(t)
	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{AllowedPlugins: []string{"scaffolder", "mcp-actions"}, PluginID: "paved", Discovery: backstage.NewDiscovery(users.URL+"/api/{{pluginId}}", nil),
		StaticTokens: []backstage.StaticToken{{Token: "operator-token-0123456789", Subject: "ops"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := server.New(server.Deps{PluginID: "paved", Auth: verifier, Infra: e.svc, Membership: members})
	path := "/api/paved/infra/" + r.ID + "/connection"
	tests := []struct {
		name, token, path string
		status            int
	}{
		{"member of the owner group", users.Mint(t, "user:default/carol"), path, 200},
		{"not a member", users.Mint(t, "user:default/dave"), path, 403},
		{"operator token", "operator-token-0123456789", path, 403},
		{"no token", "", path, 401},
		{"unknown resource", users.Mint(t, "user:default/carol"), "/api/paved/infra/00000000-0000-4000-8000-000000000000/connection", 404},
		{"not an id", users.Mint(t, "user:default/carol"), "/api/paved/infra/x'%20OR%201=1/connection", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body.String())
			}
			if tt.status != 200 {
				if strings.Contains(rec.Body.String(), "password") {
					t.Errorf("a refused request got %s", rec.Body.String())
				}
				return
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", rec.Header().Get("Cache-Control"))
			}
			var body struct {
				Connection map[string]string `json:"connection"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(t.Context(), body.Connection["url"])
			if err != nil {
				t.Fatalf("connecting with the credentials from the endpoint: %v", err)
			}
			defer conn.Close(context.Background())
			var one int
			if err := conn.QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Errorf("SELECT 1 = %d, %v", one, err)
			}
		})
	}
}
