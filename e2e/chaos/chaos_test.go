//go:build chaos

// Package chaos is paved's crash suite (make chaos): the real paved binary,
// on SQLite and on PostgreSQL, a real PostgreSQL server as the target of the
// postgres infrastructure driver, Argo CD's in-process fake (argocdtest) and
// a real git repository, killed with SIGKILL at random moments while
// provisionings, deprovisionings, application creates (api and gitops mode)
// and ApplicationSet creates run; after each restart the same calls are
// retried. After every round it checks what a user and an operator would:
// every request has exactly one role and one database, nothing on the server
// lacks a record, no record is left unfinished, every 2xx answer has its
// audit row, no retry waited more than 10 s, no answer was a 500, and the
// git repository is whole (git fsck) with each commit made once.
package chaos_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/e2e/pavedproc"
	"github.com/paved-dev/paved/gitops/gitopstest"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/postgres"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

const (
	token        = "chaos-operator-token-0123456789"
	argoPassword = "chaos-argo-pass"
	// maxRetryWait is how long a retry after a kill may take (issue 9).
	maxRetryWait = 10 * time.Second
)

func rounds() int {
	if n, err := strconv.Atoi(os.Getenv("CHAOS_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 6
}

func TestKillNine(t *testing.T) {
	target := os.Getenv("PAVED_TEST_DATABASE_URL")
	if target == "" {
		t.Skip(`the crash suite needs PostgreSQL: scripts/pg-test-server.sh start && eval "$(scripts/pg-test-server.sh env)"`)
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { runChaos(t, engine, target) })
	}
}

// call is one action call of a round, retried with the same input.
type call struct {
	action string
	input  map[string]any
}

// answer is what one attempt of a call got.
type answer struct {
	status  int
	retry   string
	body    []byte
	taskID  string
	elapsed time.Duration
	err     error
}

type suite struct {
	t       *testing.T
	engine  string
	target  *sql.DB // the provisioning target, as admin
	run     string  // this run's name prefix
	repo    string  // the bare GitOps repository
	opts    pavedproc.Options
	paved   *pavedproc.Paved
	store   *sqlstore.DB
	tasks   int
	kills   int
	longest time.Duration
	// okTasks are the task ids of every 2xx answer.
	okTasks []string
	// commits are the gitops commits 2xx answers reported.
	commits map[string]bool
	live    map[string]bool // postgres resources provisioned and not deprovisioned
}

func runChaos(t *testing.T, engine, targetURL string) {
	s := &suite{t: t, engine: engine, run: "cx" + strings.ToLower(rand.Text()[:4]), commits: map[string]bool{}, live: map[string]bool{}}
	var err error
	if s.target, err = sql.Open("pgx", targetURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.dropTargets(); s.target.Close() })

	argo, err := argocdtest.NewServer(argocdtest.Options{Username: "admin", Password: argoPassword})
	if err != nil {
		t.Fatal(err)
	}
	argo.Start()
	t.Cleanup(argo.Close)
	// The GitOps remote is a git server of its own (git daemon), as in
	// production: a file:// remote is written by paved's own process, so a
	// SIGKILL during a push can leave the remote's ref file empty.
	repoURL, repo := gitopstest.Serve(t)
	s.repo = repo
	kinds, err := filepath.Abs(filepath.Join("..", "..", "examples", "infra-kinds"))
	if err != nil {
		t.Fatal(err)
	}
	s.opts = pavedproc.Options{
		DataDir: t.TempDir(),
		Config: fmt.Sprintf(`
log: {level: info}
argocd:
  instances:
    - name: default
      server: %s
      plainText: true
      username: admin
      password: ${ARGO_PASSWORD}
gitops:
  url: %s
devex: {disabled: true}
infra:
  kindsDir: %s
  reapInterval: 2s
  postgres:
    - name: default
      url: ${TARGET_URL}
`, argo.Addr(), repoURL, kinds),
		Env: []string{"PAVED_STATIC_TOKEN=" + token, "ARGO_PASSWORD=" + argoPassword, "TARGET_URL=" + targetURL},
	}
	if engine == "postgres" {
		s.opts.Database = s.storeDatabase(targetURL)
	}

	n := rounds()
	var prev []string
	for round := 1; round <= n; round++ {
		prev = s.round(round, prev)
		if t.Failed() {
			break
		}
	}
	s.paved.Stop()
	t.Logf("%s: %d rounds, %d kills, %d calls, longest retry wait %s", engine, n, s.kills, s.tasks, s.longest.Round(time.Millisecond))
	fmt.Printf("chaos %s: rounds=%d kills=%d calls=%d longest-retry-wait=%s\n", engine, n, s.kills, s.tasks, s.longest.Round(time.Millisecond))
}

// storeDatabase creates paved's own database on the server, dropped at the end.
func (s *suite) storeDatabase(server string) string {
	name := "paved_" + s.run
	if _, err := s.target.Exec(`CREATE DATABASE ` + name); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _, _ = s.target.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) })
	u, err := url.Parse(server)
	if err != nil {
		s.t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func (s *suite) start() {
	s.paved = pavedproc.Start(s.t, s.opts)
	if s.store != nil {
		return
	}
	var err error
	if s.engine == "postgres" {
		s.store, err = postgres.Open(s.t.Context(), s.opts.Database)
	} else {
		s.store, err = sqlite.Open(s.t.Context(), filepath.Join(s.opts.DataDir, "paved.db"))
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { s.store.Close() })
}

// round runs one round: the calls of the round at once, a SIGKILL at a
// random moment, a restart, every call again, then the checks. It returns
// the postgres resources the round provisioned (the next one deprovisions
// them).
func (s *suite) round(round int, deprovision []string) []string {
	if s.paved == nil {
		s.start()
	}
	var calls []call
	var provisioned []string
	for i := range 3 {
		name := fmt.Sprintf("%s-r%d-%d", s.run, round, i)
		provisioned = append(provisioned, name)
		calls = append(calls, call{"paved:provision-infra", map[string]any{"kind": "postgresql", "name": name, "owner": "group:default/payments",
			"parameters": map[string]any{"region": "eu-west-1"}}})
	}
	for _, name := range deprovision {
		calls = append(calls, call{"paved:deprovision-infra", map[string]any{"kind": "postgresql", "name": name}})
	}
	for i := range 2 {
		app := fmt.Sprintf("%s-api-%d-%d", s.run, round, i)
		calls = append(calls, call{"paved:create-argocd-app", map[string]any{"name": app,
			"source": map[string]any{"repoURL": "https://git.example.com/deploy.git", "path": "apps/" + app}, "destination": map[string]any{"namespace": app}}})
		gapp := fmt.Sprintf("%s-git-%d-%d", s.run, round, i)
		calls = append(calls, call{"paved:create-argocd-app", map[string]any{"name": gapp, "mode": "gitops",
			"source": map[string]any{"repoURL": "https://git.example.com/deploy.git", "path": "apps/" + gapp}, "destination": map[string]any{"namespace": gapp}}})
	}
	set := fmt.Sprintf("%s-set-%d", s.run, round)
	calls = append(calls, call{"paved:create-argocd-appset", map[string]any{"name": set, "repoURL": "https://git.example.com/deploy.git",
		"path": "shop/{{.environment}}", "environments": []any{map[string]any{"name": "dev", "namespace": set + "-dev"}}}})

	// The calls run while paved is killed at a random moment.
	delay := randDuration(1500 * time.Millisecond)
	var wg sync.WaitGroup
	first := make([]answer, len(calls))
	for i, c := range calls {
		wg.Go(func() { first[i] = s.invoke(c, fmt.Sprintf("r%d-c%d", round, i)) })
	}
	time.Sleep(delay)
	s.paved.Kill()
	s.kills++
	wg.Wait()
	s.start()

	// Every call again; each must answer 2xx within maxRetryWait.
	retried := make([]answer, len(calls))
	for i, c := range calls {
		wg.Go(func() { retried[i] = s.invoke(c, fmt.Sprintf("r%d-c%d", round, i)) })
	}
	wg.Wait()
	for i, a := range first {
		if a.err == nil {
			s.check(calls[i], a, false)
		}
	}
	for i, a := range retried {
		s.check(calls[i], a, true)
	}
	for _, name := range deprovision {
		delete(s.live, name)
	}
	for _, name := range provisioned {
		s.live[name] = true
	}
	s.checkTargets(round)
	s.checkAudit(round)
	s.checkGit(round)
	return provisioned
}

func (s *suite) invoke(c call, task string) answer {
	in := map[string]any{}
	for k, v := range c.input {
		in[k] = v
	}
	in["taskId"] = s.run + "-" + task
	body, _ := json.Marshal(in)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.paved.BaseURL+"/api/paved/.backstage/actions/v1/actions/"+c.action+"/invoke", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	a := answer{taskID: in["taskId"].(string), err: err}
	if err == nil {
		a.body, a.err = io.ReadAll(resp.Body)
		resp.Body.Close()
		a.status, a.retry = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	a.elapsed = time.Since(start)
	return a
}

// check holds one answer to the rules: never a 500; a retry answers 2xx
// within maxRetryWait; a 2xx is remembered for the audit and git checks.
func (s *suite) check(c call, a answer, retry bool) {
	t := s.t
	s.tasks++
	what := fmt.Sprintf("%s %v", c.action, c.input["name"])
	if a.status >= 500 && !(a.status == http.StatusServiceUnavailable && a.retry != "") {
		t.Errorf("%s: %d %s", what, a.status, a.body)
	}
	if !retry {
		if a.status/100 == 2 {
			s.ok(a)
		}
		return
	}
	if a.elapsed > s.longest {
		s.longest = a.elapsed
	}
	if a.err != nil || a.status/100 != 2 {
		t.Errorf("retry of %s after the kill: %d %s (err %v)", what, a.status, a.body, a.err)
		return
	}
	if a.elapsed > maxRetryWait {
		t.Errorf("retry of %s after the kill took %s, more than %s", what, a.elapsed, maxRetryWait)
	}
	s.ok(a)
}

func (s *suite) ok(a answer) {
	s.okTasks = append(s.okTasks, a.taskID)
	var body struct {
		Output map[string]any `json:"output"`
	}
	_ = json.Unmarshal(a.body, &body)
	if c, _ := body.Output["commit"].(string); c != "" {
		s.commits[c] = true
	}
}

// checkTargets: each live request has one role and one database on the
// target, marked with its record's id; the record is ready; nothing of this
// run on the server is without a record; deprovisioned ones are gone.
func (s *suite) checkTargets(round int) {
	t := s.t
	records, err := s.store.ListInfraResources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, r := range records {
		if !strings.HasPrefix(r.Name, s.run+"-") {
			continue
		}
		if r.Status != "ready" {
			t.Errorf("round %d: %s %s is %s after the retry", round, r.Kind, r.Name, r.Status)
		}
		byName[strings.ReplaceAll(r.Name, "-", "_")] = r.ID
	}
	for _, q := range []string{
		`SELECT rolname, coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname LIKE $1`,
		`SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname LIKE $1`,
	} {
		rows, err := s.target.QueryContext(t.Context(), q, s.run+`\_%`)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for rows.Next() {
			var name, mark string
			if err := rows.Scan(&name, &mark); err != nil {
				t.Fatal(err)
			}
			seen[name] = true
			if id, ok := byName[name]; !ok {
				t.Errorf("round %d: %s on the server has no record", round, name)
			} else if mark != "paved:"+id {
				t.Errorf("round %d: %s is marked %q, want paved:%s", round, name, mark, id)
			}
		}
		rows.Close()
		for name := range s.live {
			if ident := strings.ReplaceAll(name, "-", "_"); !seen[ident] {
				t.Errorf("round %d: %s provisioned but missing on the server", round, ident)
			}
		}
	}
	if len(byName) != len(s.live) {
		t.Errorf("round %d: %d records of this run, want %d", round, len(byName), len(s.live))
	}
}

// checkAudit: every 2xx answer has its audit row.
func (s *suite) checkAudit(round int) {
	invs, err := s.store.ListInvocations(s.t.Context(), paved.InvocationFilter{Limit: 100000})
	if err != nil {
		s.t.Fatal(err)
	}
	have := map[string]bool{}
	for _, inv := range invs {
		if inv.Status == paved.StatusSucceeded {
			have[inv.TaskID] = true
		}
	}
	for _, id := range s.okTasks {
		if !have[id] {
			s.t.Errorf("round %d: task %s was answered 2xx but has no audit row", round, id)
		}
	}
}

// checkGit: the repository is whole, every commit an answer reported is on
// main, and each gitops application file was added by exactly one commit.
func (s *suite) checkGit(round int) {
	t := s.t
	if out, err := exec.Command("git", "-C", s.repo, "fsck", "--full", "--strict").CombinedOutput(); err != nil {
		t.Errorf("round %d: git fsck: %v\n%s", round, err, out)
	}
	for c := range s.commits {
		if out, err := exec.Command("git", "-C", s.repo, "merge-base", "--is-ancestor", c, "main").CombinedOutput(); err != nil {
			t.Errorf("round %d: commit %s reported to a caller is not on main: %v %s", round, c, err, out)
		}
	}
	out, err := exec.Command("git", "-C", s.repo, "log", "--format=", "--name-status", "--diff-filter=A", "main").CombinedOutput()
	if err != nil {
		t.Fatalf("git log: %v %s", err, out)
	}
	added := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		if _, file, ok := strings.Cut(line, "\t"); ok {
			added[file]++
		}
	}
	for r := 1; r <= round; r++ {
		for i := range 2 {
			app := fmt.Sprintf("%s-git-%d-%d", s.run, r, i)
			n := 0
			for file, c := range added {
				if strings.Contains(file, app+".yaml") {
					n += c
				}
			}
			if n != 1 {
				t.Errorf("round %d: the file of %s was added by %d commits, want 1", round, app, n)
			}
		}
	}
}

func (s *suite) dropTargets() {
	ctx := context.Background()
	for _, q := range []string{`SELECT datname FROM pg_database WHERE datname LIKE $1`, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1`} {
		rows, err := s.target.QueryContext(ctx, q, s.run+`\_%`)
		if err != nil {
			return
		}
		var names []string
		for rows.Next() {
			var n string
			_ = rows.Scan(&n)
			names = append(names, n)
		}
		rows.Close()
		for _, n := range names {
			if strings.HasPrefix(q, "SELECT datname") {
				_, _ = s.target.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+n+`" WITH (FORCE)`)
			} else {
				_, _ = s.target.ExecContext(ctx, `DROP ROLE IF EXISTS "`+n+`"`)
			}
		}
	}
}

func randDuration(max time.Duration) time.Duration {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(max)))
	return time.Duration(n.Int64())
}
