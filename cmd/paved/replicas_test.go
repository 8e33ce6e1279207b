package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and inspect the shared database

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/backstage/backstagetest"
	"github.com/paved-dev/paved/devex/devextest"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/gitops/gitopstest"
)

// The product rule these tests hold paved to: several replicas on one
// PostgreSQL database behave as one paved. Each test starts two paved
// processes' worth of run() (own listen port, own data directory) on a fresh
// database, the same Argo CD and the same fake Backstage.

const (
	replicaToken   = "replica-operator-token-0123456789"
	backstageToken = "replica-backstage-token-0123456789"
	argoPassword   = "argo-pass-123"
	// replicaInfraKey is 32 bytes, base64.
	replicaInfraKey = "cmVwbGljYS1pbmZyYS1rZXktMDEyMzQ1Njc4OWFiY2Q="
)

// sharedDatabase creates an empty database on the test server, dropped when
// t ends, and returns its DSN and an admin connection to it.
func sharedDatabase(t *testing.T) (string, *sql.DB) {
	t.Helper()
	server := os.Getenv("PAVED_TEST_DATABASE_URL")
	if server == "" {
		t.Skip(`the two-replica tests need PostgreSQL: PAVED_TEST_DATABASE_URL is not set (scripts/pg-test-server.sh start && eval "$(scripts/pg-test-server.sh env)"; make test sets it)`)
	}
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatalf("open the test server: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "paved_replicas_" + strings.ToLower(rand.Text()[:16])
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("PAVED_TEST_DATABASE_URL must be a postgres:// URL for these tests")
	}
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the drop, so it runs before it.
	t.Cleanup(func() { db.Close() })
	return u.String(), db
}

// pair is two replicas of paved and what they share.
type pair struct {
	a, b      *running
	db        *sql.DB
	argo      *argocdtest.Server
	backstage *devextest.Backstage
	gateway   *gateway
	users     *backstagetest.Users
	repo      string // the shared GitOps repository (bare)
}

// replicaOptions is what a test varies in the replicas' configuration.
type replicaOptions struct {
	// pluginTokens makes paved read Backstage with its own plugin tokens
	// (verified by the gateway against replica b's JWKS) instead of a static token.
	pluginTokens bool
	// devexOff turns the adoption collector off on both replicas.
	devexOff bool
	// seed fills the fake Backstage before the replicas start.
	seed func(*devextest.Backstage)
	// config is appended to the replicas' configuration.
	config string
}

// startPair starts replica a, then replica b, on one fresh database.
func startPair(t *testing.T, o replicaOptions) *pair {
	t.Helper()
	dsn, db := sharedDatabase(t)
	argo := fakeArgoCD(t)
	bs := devextest.New(t, backstageToken)
	users := backstagetest.NewUsers(t)
	gw := newGateway(t, bs)
	if o.seed != nil {
		o.seed(bs)
	}
	kinds, err := filepath.Abs(filepath.Join("..", "..", "examples", "infra-kinds"))
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "gitops.git")
	repoURL, err := gitops.InitBare(repo)
	if err != nil {
		t.Fatal(err)
	}
	cfg := argoConfig(argo.Addr()) + fmt.Sprintf(`
log: {level: info}
backstage:
  discovery: %s/api/{{pluginId}}
  endpoints: {auth: %s/api/auth}
catalog:
  interval: 5s
  watchDebounce: 100ms
devex:
  disabled: %t
  interval: 10s
  backstageToken: "${BACKSTAGE_TOKEN:-}"
  readerGroups: [group:default/platform]
gitops:
  url: %s
infra:
  kindsDir: %s
  reapInterval: 1s
`, gw.URL, users.URL, o.devexOff, repoURL, kinds) + o.config
	env := func(replica string) map[string]string {
		e := map[string]string{
			"PAVED_DATABASE_URL": dsn, "PAVED_STATIC_TOKEN": replicaToken, "PAVED_TOKEN": replicaToken, "ARGO_PASSWORD": argoPassword,
			// Replicas share the infra key: it seals credentials and signing keys.
			"PAVED_INFRA_KEY": replicaInfraKey,
		}
		if !o.pluginTokens {
			e["BACKSTAGE_TOKEN"] = gatewayToken(replica)
		}
		return e
	}
	p := &pair{db: db, argo: argo, backstage: bs, gateway: gw, users: users, repo: repo}
	p.a = startPaved(t, cfg, env("a"))
	p.b = startPaved(t, cfg, env("b"))
	gw.jwksFrom(p.b.base)
	return p
}

// gateway stands in front of the fake Backstage as Backstage's own auth
// does: a request with paved's plugin token passes when the token verifies,
// exactly as Backstage verifies it, against the JWKS that replica b
// publishes; each replica's static token (gatewayToken) passes, and tells
// which replica called.
type gateway struct {
	URL string

	mu       sync.Mutex
	verifier map[string]*backstage.Verifier // by audience (the plugin called)
	jwksBase string
	seen     []gatewayCall
}

type gatewayCall struct {
	path, kid, token string
	replica          string // by its static token; "" for a plugin token
	err              error
}

// gatewayToken is the static token replica ("a" or "b") reads Backstage with.
func gatewayToken(replica string) string { return "replica-" + replica + "-backstage-token-0123456789" }

func newGateway(t *testing.T, bs *devextest.Backstage) *gateway {
	target, err := url.Parse(bs.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	g := &gateway{verifier: map[string]*backstage.Verifier{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if replica := strings.TrimSuffix(strings.TrimPrefix(auth, "Bearer replica-"), "-backstage-token-0123456789"); replica == "a" || replica == "b" {
			g.mu.Lock()
			g.seen = append(g.seen, gatewayCall{path: r.URL.Path, replica: replica})
			g.mu.Unlock()
		} else {
			plugin, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/"), "/")
			call := gatewayCall{path: r.URL.Path, token: strings.TrimPrefix(auth, "Bearer "), kid: kidOf(strings.TrimPrefix(auth, "Bearer "))}
			call.err = g.verify(r.Context(), plugin, auth)
			g.mu.Lock()
			g.seen = append(g.seen, call)
			g.mu.Unlock()
			if call.err != nil {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, `{"error":{"name":"AuthenticationError","message":%q}}`, call.err.Error())
				return
			}
		}
		r.Header.Set("Authorization", "Bearer "+backstageToken)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// jwksFrom makes the gateway read paved's keys from the replica at base.
func (g *gateway) jwksFrom(base string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.jwksBase = base
}

func (g *gateway) verify(ctx context.Context, audience, authorization string) error {
	g.mu.Lock()
	v, ok := g.verifier[audience]
	if !ok && g.jwksBase != "" {
		var err error
		v, err = backstage.NewVerifier(backstage.VerifierConfig{
			PluginID:  audience,
			Discovery: backstage.NewDiscovery(g.jwksBase+"/api/{{pluginId}}", nil),
			// Backstage refetches a JWKS when it meets an unknown kid on a
			// token issued after its last fetch, with its 10s clock margin.
			AllowedPlugins: []string{"paved"},
			Leeway:         10 * time.Second,
		})
		if err != nil {
			g.mu.Unlock()
			return err
		}
		g.verifier[audience] = v
	}
	g.mu.Unlock()
	if v == nil {
		return fmt.Errorf("replica b is not started yet")
	}
	_, err := v.Authenticate(ctx, authorization)
	return err
}

// calls returns the requests whose path ends with suffix, made by replica
// ("" for the requests with a plugin token).
func (g *gateway) calls(suffix string, replica ...string) []gatewayCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []gatewayCall
	for _, c := range g.seen {
		if strings.HasSuffix(c.path, suffix) && (len(replica) == 0 || c.replica == replica[0]) {
			out = append(out, c)
		}
	}
	return out
}

// kidOf returns the kid in a JWT's header, "" when there is none.
func kidOf(token string) string {
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct{ Kid string }
	_ = json.Unmarshal(raw, &h)
	return h.Kid
}

// stop ends a replica as SIGTERM does and waits for run to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
		r.done <- nil // for startPaved's clean-up
	case <-time.After(30 * time.Second):
		t.Fatal("paved did not stop within 30s")
	}
}

// answer is one HTTP answer of paved.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (r *running) call(t *testing.T, method, path, body string) answer {
	t.Helper()
	return r.callAs(t, replicaToken, method, path, body)
}

// callAs calls paved with a bearer token.
func (r *running) callAs(t *testing.T, token, method, path, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return answer{}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// invoke calls an action through Backstage's distributed-actions route.
func (r *running) invoke(t *testing.T, action, input string) answer {
	t.Helper()
	return r.call(t, http.MethodPost, "/api/paved/.backstage/actions/v1/actions/"+action+"/invoke", input)
}

// output decodes the output of a successful invocation.
func (a answer) output(t *testing.T) map[string]any {
	t.Helper()
	var body struct {
		Output map[string]any `json:"output"`
	}
	if err := json.Unmarshal(a.body, &body); err != nil || body.Output == nil {
		t.Fatalf("not an action output (%d): %s", a.status, a.body)
	}
	return body.Output
}

// eventually polls cond until it holds or the deadline passes; what is
// asserted is cond, the deadline only bounds the wait.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, within, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// concurrently sends the same invocation n times to each replica at once and
// returns every answer.
func (p *pair) concurrently(t *testing.T, n int, action, input string) []answer {
	t.Helper()
	var mu sync.Mutex
	var out []answer
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 2 * n {
		r := p.a
		if i%2 == 1 {
			r = p.b
		}
		wg.Go(func() {
			<-start
			a := r.invoke(t, action, input)
			mu.Lock()
			out = append(out, a)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return out
}

// created counts the answers that created the thing, that found it, and the
// others (printed).
func created(t *testing.T, answers []answer) (yes, no int, others []string) {
	t.Helper()
	for _, a := range answers {
		if a.status != http.StatusOK {
			others = append(others, fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body)))
			continue
		}
		switch a.output(t)["created"] {
		case true:
			yes++
		case false:
			no++
		default:
			others = append(others, string(a.body))
		}
	}
	return yes, no, others
}

// TestReplicasCreateOnce sends the same create to both replicas at once:
// exactly one answer says it created the application (or the resource), the
// others find it, and Argo CD (or the GitOps repository) holds it once.
func TestReplicasCreateOnce(t *testing.T) {
	p := startPair(t, replicaOptions{})

	app := `{"name":"checkout","source":{"repoURL":"https://git.example.com/deploy.git","path":"apps/checkout"},
	  "destination":{"namespace":"checkout"},"createNamespace":true,"entityRef":"component:default/checkout"}`
	creates := p.argo.Calls(argocdtest.MethodAppCreate)
	yes, no, others := created(t, p.concurrently(t, 10, "paved:create-argocd-app", app))
	if yes != 1 || no != 19 || len(others) > 0 {
		t.Errorf("create-argocd-app ×20 over two replicas: %d created, %d found, others %q; want 1 and 19", yes, no, others)
	}
	if _, ok := p.argo.App("argocd", "checkout"); !ok {
		t.Fatal("the application is not in Argo CD")
	}
	t.Logf("Argo CD saw %d creates for 20 calls", p.argo.Calls(argocdtest.MethodAppCreate)-creates)

	// Another spec under the same name is a conflict on either replica.
	changed := strings.Replace(app, "apps/checkout", "apps/checkout-v2", 1)
	for _, r := range []*running{p.a, p.b} {
		if a := r.invoke(t, "paved:create-argocd-app", changed); a.status != http.StatusConflict || !strings.Contains(string(a.body), "existing application spec is different") {
			t.Errorf("a different spec: %d %s, want 409 with Argo CD's message", a.status, a.body)
		}
	}

	appset := `{"name":"shop","repoURL":"https://git.example.com/deploy.git","path":"services/shop/{{.environment}}",
	  "environments":[{"name":"dev","namespace":"shop-dev"},{"name":"prod","namespace":"shop-prod"}]}`
	yes, no, others = created(t, p.concurrently(t, 10, "paved:create-argocd-appset", appset))
	if yes != 1 || no != 19 || len(others) > 0 {
		t.Errorf("create-argocd-appset ×20 over two replicas: %d created, %d found, others %q; want 1 and 19", yes, no, others)
	}

	gitopsApp := `{"name":"orders","mode":"gitops","source":{"repoURL":"https://git.example.com/deploy.git","path":"apps/orders"},
	  "destination":{"namespace":"orders"}}`
	before := gitopstest.Commits(t, p.repo, "main")
	yes, no, others = created(t, p.concurrently(t, 10, "paved:create-argocd-app", gitopsApp))
	if yes != 1 || no != 19 || len(others) > 0 {
		t.Errorf("create-argocd-app in gitops mode ×20 over two replicas: %d created, %d found, others %q; want 1 and 19", yes, no, others)
	}
	if n := gitopstest.Commits(t, p.repo, "main") - before; n != 1 {
		t.Errorf("create-argocd-app in gitops mode ×20 made %d commits, want 1", n)
	}

	prov := `{"kind":"s3-bucket","name":"assets","owner":"group:default/platform","parameters":{"region":"eu-west-1"}}`
	before = gitopstest.Commits(t, p.repo, "main")
	yes, no, others = created(t, p.concurrently(t, 10, "paved:provision-infra", prov))
	if yes != 1 || no != 19 || len(others) > 0 {
		t.Errorf("provision-infra ×20 over two replicas: %d created, %d found, others %q; want 1 and 19", yes, no, others)
	}
	if n := gitopstest.Commits(t, p.repo, "main") - before; n != 1 {
		t.Errorf("provision-infra ×20 made %d commits, want 1", n)
	}
	var rows int
	if err := p.db.QueryRow(`SELECT count(*) FROM infra_resources WHERE kind = 's3-bucket' AND name = 'assets'`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("infra_resources rows for s3-bucket/assets = %d (%v), want 1", rows, err)
	}
	otherParams := strings.Replace(prov, "eu-west-1", "us-east-1", 1)
	if a := p.b.invoke(t, "paved:provision-infra", otherParams); a.status != http.StatusConflict {
		t.Errorf("other parameters under the same name: %d %s, want 409", a.status, a.body)
	}

	// A resource goes once: one call deprovisions it, the others find it gone.
	before = gitopstest.Commits(t, p.repo, "main")
	answers := map[string]int{}
	for _, a := range p.concurrently(t, 5, "paved:deprovision-infra", `{"kind":"s3-bucket","name":"assets"}`) {
		if a.status != http.StatusOK {
			answers[fmt.Sprintf("%d %s", a.status, a.body)]++
			continue
		}
		answers[fmt.Sprintf("deprovisioned: %v", a.output(t)["deprovisioned"])]++
	}
	if answers["deprovisioned: true"] != 1 || answers["deprovisioned: false"] != 9 {
		t.Errorf("deprovision-infra ×10 over two replicas: %v, want one deprovisioned and nine already gone", answers)
	}
	if n := gitopstest.Commits(t, p.repo, "main") - before; n != 1 {
		t.Errorf("deprovision-infra ×10 made %d commits, want 1", n)
	}
	if err := p.db.QueryRow(`SELECT count(*) FROM infra_provisionings WHERE name = 'assets' AND operation = 'deprovision'`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("deprovisionings recorded for s3-bucket/assets = %d (%v), want 1", rows, err)
	}
}

// jwksKids lists the kids of the JWKS a replica publishes.
func jwksKids(t *testing.T, r *running) []string {
	t.Helper()
	a := r.callAs(t, "", http.MethodGet, "/api/paved/.backstage/auth/v1/jwks.json", "")
	var set struct{ Keys []struct{ Kid string } }
	if a.status != http.StatusOK || json.Unmarshal(a.body, &set) != nil {
		t.Fatalf("jwks.json: %d %s", a.status, a.body)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

var rotated = regexp.MustCompile(`new signing key (\S+);`)

// TestReplicasShareSigningKeys: a plugin token one replica signs verifies
// against the JWKS the other publishes, before and after a rotation on the
// first, and the old key stays published while its tokens live.
func TestReplicasShareSigningKeys(t *testing.T) {
	p := startPair(t, replicaOptions{pluginTokens: true, devexOff: true})
	for _, u := range []string{"ann", "bob", "cid", "dan", "eve"} {
		p.backstage.AddUser("user:default/"+u, "group:default/platform")
	}
	// A user outside the reader groups by her token makes paved read her
	// groups from the catalog, with a plugin token it signs.
	readAs := func(r *running, user string) gatewayCall {
		t.Helper()
		a := r.callAs(t, p.users.Mint(t, "user:default/"+user), http.MethodGet, "/api/paved/devex/v1/summary", "")
		calls := p.gateway.calls("/by-name/user/default/" + user)
		if len(calls) != 1 {
			t.Fatalf("summary as %s: %d %s; %d catalog calls, want 1", user, a.status, a.body, len(calls))
		}
		if calls[0].err != nil || a.status != http.StatusOK {
			t.Fatalf("summary as %s: %d %s; the catalog refused the plugin token: %v", user, a.status, a.body, calls[0].err)
		}
		return calls[0]
	}

	old := readAs(p.a, "ann")
	if kids := jwksKids(t, p.b); !slices.Contains(kids, old.kid) {
		t.Fatalf("b publishes %v, not a's key %s", kids, old.kid)
	}

	out, err := p.a.cli(t, "", "keys", "rotate")
	m := rotated.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("keys rotate on a: %v %q", err, out)
	}
	fresh := m[1]
	if fresh == old.kid {
		t.Fatal("the rotation kept the key")
	}
	eventually(t, 10*time.Second, "b publishes the new key next to the old one", func() (bool, string) {
		kids := jwksKids(t, p.b)
		return slices.Contains(kids, fresh) && slices.Contains(kids, old.kid), fmt.Sprint(kids)
	})
	if next := readAs(p.a, "bob"); next.kid != fresh {
		t.Errorf("a signs with %s after rotating to %s", next.kid, fresh)
	}
	if next := readAs(p.b, "cid"); next.kid != fresh {
		t.Errorf("b signs with %s after a rotated to %s", next.kid, fresh)
	}
	// A token signed before the rotation still verifies against b's JWKS,
	// read by a verifier that never saw it.
	v, err := backstage.NewVerifier(backstage.VerifierConfig{PluginID: "catalog", AllowedPlugins: []string{"paved"}, Leeway: 10 * time.Second,
		Discovery: backstage.NewDiscovery(p.b.base+"/api/{{pluginId}}", nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(context.Background(), "Bearer "+old.token); err != nil {
		t.Errorf("a token of the retired key no longer verifies against b's JWKS: %v", err)
	}

	// Rotations on both replicas at once leave the newest key active (each
	// used to retire all but its own, which could leave none), and both
	// replicas sign with it.
	var wg sync.WaitGroup
	for _, r := range []*running{p.a, p.b} {
		wg.Go(func() {
			if a := r.call(t, http.MethodPost, "/api/paved/admin/keys/rotate", ""); a.status != http.StatusOK {
				t.Errorf("rotate: %d %s", a.status, a.body)
			}
		})
	}
	wg.Wait()
	var active []string
	rows, err := p.db.Query(`SELECT kid, retired_at IS NULL FROM signing_keys ORDER BY created_at DESC, kid DESC`)
	if err != nil {
		t.Fatal(err)
	}
	var newest string
	for rows.Next() {
		var kid string
		var live bool
		_ = rows.Scan(&kid, &live)
		if newest == "" {
			newest = kid
		}
		if live {
			active = append(active, kid)
		}
	}
	rows.Close()
	if !slices.Contains(active, newest) {
		t.Fatalf("after rotations on both replicas at once the newest key %s is retired; active: %v", newest, active)
	}
	active = []string{newest}
	if ka, kb := readAs(p.a, "dan").kid, readAs(p.b, "eve").kid; ka != active[0] || kb != active[0] {
		t.Errorf("after rotations at once a signs with %s, b with %s; the active key is %s", ka, kb, active[0])
	}
}

// scrape sums the samples of a metric on a replica's /metrics.
func scrape(t *testing.T, r *running, name string) float64 {
	t.Helper()
	a := r.call(t, http.MethodGet, "/metrics", "")
	sum := 0.0
	for _, line := range strings.Split(string(a.body), "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// runsStarted is the runsStarted KPI a replica's adoption summary reports.
func runsStarted(t *testing.T, r *running) int {
	t.Helper()
	a := r.call(t, http.MethodGet, "/api/paved/devex/v1/summary", "")
	var s struct {
		KPIs map[string]struct{ Value float64 } `json:"kpis"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &s) != nil {
		t.Fatalf("summary: %d %s", a.status, a.body)
	}
	return int(s.KPIs["runsStarted"].Value)
}

// reapedBy counts the reaps a replica logged.
func reapedBy(r *running) int { return strings.Count(r.stderr.String(), "reaped an expired resource") }

// provisionExpired provisions an s3-bucket through r and moves its expiry
// into the past in the shared store (the shortest ttl is a minute).
func (p *pair) provisionExpired(t *testing.T, r *running, name string) {
	t.Helper()
	in := fmt.Sprintf(`{"kind":"s3-bucket","name":%q,"owner":"group:default/platform","parameters":{"region":"eu-west-1"},"ttl":"90m"}`, name)
	if a := r.invoke(t, "paved:provision-infra", in); a.status != http.StatusOK {
		t.Fatalf("provision %s: %d %s", name, a.status, a.body)
	}
	if _, err := p.db.Exec(`UPDATE infra_resources SET expires_at = now() - interval '1 second' WHERE kind = 's3-bucket' AND name = $1`, name); err != nil {
		t.Fatal(err)
	}
}

// reapedOnce waits until the resource is gone and checks it was reaped by
// exactly one replica, once.
func (p *pair) reapedOnce(t *testing.T, name string) {
	t.Helper()
	eventually(t, 20*time.Second, name+" reaped", func() (bool, string) {
		var n int
		err := p.db.QueryRow(`SELECT count(*) FROM infra_resources WHERE kind = 's3-bucket' AND name = $1`, name).Scan(&n)
		return err == nil && n == 0, fmt.Sprintf("%d rows, %v", n, err)
	})
	var reaps int
	if err := p.db.QueryRow(`SELECT count(*) FROM infra_provisionings WHERE kind = 's3-bucket' AND name = $1 AND operation = 'reap'`, name).Scan(&reaps); err != nil || reaps != 1 {
		t.Errorf("%s: %d reaps in infra_provisionings (%v), want 1", name, reaps, err)
	}
}

// TestReplicasRunBackgroundWorkOnce: the catalog refresh, the adoption
// collector and the reaper each run on one replica (the first one started,
// which takes every lease); stopping it hands each job to the other.
func TestReplicasRunBackgroundWorkOnce(t *testing.T) {
	start := time.Now().Add(-3 * time.Hour)
	p := startPair(t, replicaOptions{seed: func(bs *devextest.Backstage) {
		for i, status := range []string{"completed", "failed", "completed"} {
			id := fmt.Sprintf("task-%d", i)
			at := start.Add(time.Duration(i) * time.Minute)
			bs.AddTask(id, "template:default/service", "user:default/ann", "group:default/platform", "PT2H", at)
			bs.Claim(id, at.Add(time.Second))
			bs.Finish(id, status, "", at.Add(time.Minute))
		}
	}})
	const refreshes = "paved_catalog_refresh_duration_seconds_count"

	eventually(t, 20*time.Second, "b serves the runs collected", func() (bool, string) {
		n := runsStarted(t, p.b)
		return n == 3, fmt.Sprint(n)
	})
	p.provisionExpired(t, p.b, "scratch")
	p.reapedOnce(t, "scratch")

	// The first replica to take the collector's lease keeps it (usually a,
	// started first, unless its first attempt failed).
	lists := func(r *running) int {
		name := "a"
		if r == p.b {
			name = "b"
		}
		return len(p.gateway.calls("/scaffolder/v2/tasks", name))
	}
	collector, other := p.a, p.b
	if lists(p.a) == 0 {
		collector, other = p.b, p.a
		t.Logf("b collects; a's log on the collector: %s", grepLines(p.a.stderr.String(), "devex"))
	}
	// Its second collection, one interval later, shows that both replicas
	// ran their jobs for a while.
	eventually(t, 25*time.Second, "the collector collects again", func() (bool, string) {
		return lists(collector) >= 2, fmt.Sprintf("task lists: a %d, b %d", lists(p.a), lists(p.b))
	})
	if n := lists(other); n != 0 {
		t.Errorf("both replicas listed Backstage's tasks (%d and %d times): the collector ran twice", lists(collector), n)
	}
	a, b := scrape(t, p.a, refreshes), scrape(t, p.b, refreshes)
	if (a == 0) == (b == 0) {
		t.Errorf("catalog refreshes from Argo CD: a %v, b %v; want one replica only", a, b)
	}
	if n := p.argo.Calls(argocdtest.MethodAppWatch); n != 2 {
		t.Errorf("Argo CD's watch stream was opened %d times, want twice (by the catalog's lease holder, and by the devex collector's for the four keys)", n)
	}
	// The reaper logs after it removed the row: wait for the line.
	eventually(t, 5*time.Second, "the reap logged", func() (bool, string) {
		a, b := reapedBy(p.a), reapedBy(p.b)
		return a+b >= 1, fmt.Sprintf("reaps logged: a %d, b %d", a, b)
	})
	if a, b := reapedBy(p.a), reapedBy(p.b); a+b != 1 {
		t.Errorf("reaps logged: a %d, b %d; want one in all", a, b)
	}
	if n := runsStarted(t, p.b); n != 3 {
		t.Errorf("runsStarted = %d, want the 3 seeded tasks", n)
	}
	if a, b := scrape(t, p.a, "devex_template_run_started_total"), scrape(t, p.b, "devex_template_run_started_total"); a+b != 3 {
		t.Errorf("devex.template.run.started: a %v + b %v, want 3 in all", a, b)
	}

	// The collector stops (SIGTERM): the other replica does every job now.
	collector.stop(t)
	reapedBefore := reapedBy(other)
	p.provisionExpired(t, other, "scratch-2")
	p.reapedOnce(t, "scratch-2")
	eventually(t, 5*time.Second, "the remaining replica reaps", func() (bool, string) {
		n := reapedBy(other)
		return n == reapedBefore+1, fmt.Sprintf("%d reaps logged, %d before", n, reapedBefore)
	})
	eventually(t, 30*time.Second, "the remaining replica takes the catalog and the collector over", func() (bool, string) {
		refreshed, listed := scrape(t, other, refreshes), lists(other)
		return refreshed > 0 && listed > 0, fmt.Sprintf("%v refreshes, %d task lists", refreshed, listed)
	})
	if n := runsStarted(t, other); n != 3 {
		t.Errorf("after the other replica collected too: runsStarted = %d, want 3", n)
	}
}

// entities reads a replica's catalog snapshot: its ETag and body.
func entities(t *testing.T, r *running) (string, string) {
	t.Helper()
	a := r.call(t, http.MethodGet, "/api/paved/catalog/entities", "")
	if a.status != http.StatusOK {
		t.Fatalf("catalog/entities: %d %s", a.status, a.body)
	}
	return a.header.Get("ETag"), string(a.body)
}

// TestReplicasServeOneCatalogAndAuditLog: after a change in Argo CD both
// replicas serve the same snapshot (one ETag), and the audit log read on one
// replica lists the calls made through the other.
func TestReplicasServeOneCatalogAndAuditLog(t *testing.T) {
	p := startPair(t, replicaOptions{devexOff: true})
	client, err := argocd.New([]argocd.InstanceConfig{{Name: "default", Server: p.argo.Addr(), PlainText: true,
		Username: "admin", Password: argoPassword, DefaultProject: "default", Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.CreateApp(context.Background(), paved.AppRequest{
		AppRef:      paved.AppRef{Instance: "default", Name: "ledger"},
		Sources:     []paved.AppSource{{RepoURL: "https://git.example.com/deploy.git", Path: "ledger"}},
		Destination: paved.AppDestination{Server: argocdtest.InClusterServer, Namespace: "ledger"},
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "both replicas serve the new application under one ETag", func() (bool, string) {
		ea, ba := entities(t, p.a)
		eb, bb := entities(t, p.b)
		has := `"argocd/app-name":"ledger"`
		return ea != "" && ea == eb && strings.Contains(ba, has) && strings.Contains(bb, has), fmt.Sprintf("a %s, b %s", ea, eb)
	})
	ea, bodyA := entities(t, p.a)
	eb, bodyB := entities(t, p.b)
	if ea != eb || bodyA != bodyB {
		t.Errorf("one ETag, two snapshots: a %s, b %s", ea, eb)
	}

	// The change feed: a cursor one replica handed out is good on the other.
	var feed struct {
		Cursor string `json:"cursor"`
		Reset  bool   `json:"reset"`
		Added  []struct {
			Entity struct {
				Metadata struct{ Name string }
			} `json:"entity"`
		} `json:"added"`
	}
	if a := p.a.call(t, http.MethodGet, "/api/paved/catalog/changes", ""); a.status != http.StatusOK || json.Unmarshal(a.body, &feed) != nil || feed.Cursor == "" {
		t.Fatalf("catalog/changes on a: %d %s", a.status, a.body)
	}
	if _, err := client.CreateApp(context.Background(), paved.AppRequest{
		AppRef:      paved.AppRef{Instance: "default", Name: "billing"},
		Sources:     []paved.AppSource{{RepoURL: "https://git.example.com/deploy.git", Path: "billing"}},
		Destination: paved.AppDestination{Server: argocdtest.InClusterServer, Namespace: "billing"},
	}); err != nil {
		t.Fatal(err)
	}
	cursor := feed.Cursor
	eventually(t, 20*time.Second, "b's change feed, from a's cursor, adds the new application", func() (bool, string) {
		feed.Added, feed.Reset = nil, false
		a := p.b.call(t, http.MethodGet, "/api/paved/catalog/changes?wait=2s&cursor="+url.QueryEscape(cursor), "")
		if a.status != http.StatusOK || json.Unmarshal(a.body, &feed) != nil || feed.Reset {
			t.Fatalf("catalog/changes on b with a's cursor: %d %s", a.status, a.body)
		}
		for _, e := range feed.Added {
			if e.Entity.Metadata.Name == "billing" {
				return true, ""
			}
		}
		cursor = feed.Cursor
		return false, string(a.body)
	})

	for range 3 {
		if a := p.a.invoke(t, "paved:get-argocd-app", `{"name":"ledger"}`); a.status != http.StatusOK {
			t.Fatalf("get-argocd-app through a: %d %s", a.status, a.body)
		}
	}
	if a := p.a.invoke(t, "paved:get-argocd-app", `{"name":"missing"}`); a.status != http.StatusNotFound {
		t.Fatalf("get-argocd-app of a missing app through a: %d %s", a.status, a.body)
	}
	a := p.b.call(t, http.MethodGet, "/api/paved/invocations?action=paved:get-argocd-app", "")
	var list struct {
		Items []struct {
			ActionID, Status, CallerPlugin string
		} `json:"items"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &list) != nil {
		t.Fatalf("invocations on b: %d %s", a.status, a.body)
	}
	statuses := map[string]int{}
	for _, it := range list.Items {
		statuses[it.Status]++
	}
	if len(list.Items) != 4 || statuses["succeeded"] != 3 || statuses["failed"] != 1 {
		t.Errorf("b's audit log lists %d get-argocd-app calls %v, want the 3 succeeded and 1 failed made through a", len(list.Items), statuses)
	}
}

// grepLines returns the lines of log that contain what.
func grepLines(log, what string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, what) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
