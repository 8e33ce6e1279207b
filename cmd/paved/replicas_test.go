package main

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and inspect the shared database

	"github.com/paved-dev/paved/argocd/argocdtest"
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
	repo      string // the shared GitOps repository (bare)
}

// replicaOptions is what a test varies between the replicas' configurations.
type replicaOptions struct {
	// extra is YAML appended to both replicas' configuration.
	extra string
	// extraA and extraB are appended to one replica's only.
	extraA, extraB string
}

// startPair starts replica a, then replica b, on one fresh database.
func startPair(t *testing.T, o replicaOptions) *pair {
	t.Helper()
	dsn, db := sharedDatabase(t)
	argo := fakeArgoCD(t)
	bs := devextest.New(t, backstageToken)
	kinds, err := filepath.Abs(filepath.Join("..", "..", "examples", "infra-kinds"))
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "gitops.git")
	repoURL, err := gitops.InitBare(repo)
	if err != nil {
		t.Fatal(err)
	}
	base := argoConfig(argo.Addr()) + fmt.Sprintf(`
log: {level: info}
backstage:
  discovery: %s
catalog:
  interval: 5s
  watchDebounce: 100ms
devex:
  interval: 10s
  backstageToken: ${BACKSTAGE_TOKEN}
gitops:
  url: %s
infra:
  kindsDir: %s
  reapInterval: 1s
`, bs.Discovery(), repoURL, kinds) + o.extra
	env := func() map[string]string {
		return map[string]string{
			"PAVED_DATABASE_URL": dsn, "PAVED_STATIC_TOKEN": replicaToken, "PAVED_TOKEN": replicaToken,
			"ARGO_PASSWORD": argoPassword, "BACKSTAGE_TOKEN": backstageToken,
		}
	}
	p := &pair{db: db, argo: argo, backstage: bs, repo: repo}
	p.a = startPaved(t, base+o.extraA, env())
	p.b = startPaved(t, base+o.extraB, env())
	return p
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
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return answer{}
	}
	req.Header.Set("Authorization", "Bearer "+replicaToken)
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

	prov := `{"kind":"s3-bucket","name":"assets","owner":"group:default/platform","parameters":{"region":"eu-west-1"}}`
	before := gitopstest.Commits(t, p.repo, "main")
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
}
