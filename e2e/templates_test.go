//go:build e2e

package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/paved-dev/paved/backstage/backstagetest"
	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/pavedproc"
	"github.com/paved-dev/paved/gitops/gitopstest"
)

// templatesPeople are catalog entities for the owner checks: carol is in the
// payments team that owns the database, dave is not.
const templatesPeople = `apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: other
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: carol
spec:
  memberOf: [payments]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: dave
spec:
  memberOf: [other]
`

// uncheckedTemplate is the name of a copy of the database template whose form
// accepts any size, so a value outside the kind's schema reaches paved.
const uncheckedTemplate = "paved-new-postgresql-database-unchecked"

// TestExampleTemplates runs the two templates of examples/templates in a real
// Backstage backend against the paved binary, a GitOps repository behind git
// daemon and a real PostgreSQL server: a service committed to GitOps (once;
// the same name with a changed spec fails with paved's reason in the task
// log), a database provisioned whose credentials only its owner team can
// fetch and use, and a refused size that leaves nothing behind, the field
// named in the task log.
func TestExampleTemplates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root := repoRoot()

	gitURL, gitDir := gitopstest.Serve(t)
	store := scenarioDatabase(t) // paved's own store, a fresh database
	admin := serverURL(t, store)
	users := backstagetest.NewUsers(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	infraKey := base64.StdEncoding.EncodeToString(key)

	pavedAddr, bsAddr, bsPort := freeAddrs(t)

	// Secrets come from the environment, as an operator would pass them.
	p := pavedproc.Start(t, pavedproc.Options{Addr: pavedAddr, Database: store, Config: fmt.Sprintf(`
backstage:
  discovery: http://%s/api/{{pluginId}}
  endpoints:
    auth: %s/api/auth
gitops:
  url: %s
infra:
  kindsDir: %s
`, bsAddr, users.URL, gitURL, filepath.Join(root, "examples", "infra-kinds")),
		Env: []string{"PAVED_INFRA_KEY=" + infraKey, "PAVED_INFRA_POSTGRES_URL=" + admin}})

	templates := copyExampleTemplates(t, root)
	bs := backstagehost.StartT(t, backstagehost.Options{
		Port:         bsPort,
		PavedBaseURL: "http://" + pavedAddr + "/api/{{pluginId}}",
		TemplatesDir: templates,
	})
	for _, name := range []string{"paved-new-service", "paved-new-postgresql-database", uncheckedTemplate} {
		if _, err := bs.WaitEntity(ctx, "template", "default", name); err != nil {
			t.Fatal(err)
		}
	}
	pg, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close(context.Background()) })

	run := func(t *testing.T, template string, values map[string]any) backstagehost.Task {
		t.Helper()
		id, err := bs.CreateTask(ctx, "template:default/"+template, values)
		if err != nil {
			t.Fatal(err)
		}
		task, err := bs.WaitTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return task
	}

	t.Run("new service on the golden path", func(t *testing.T) {
		name := "checkout-" + randomHex(3)
		values := map[string]any{"name": name, "owner": "group:default/payments",
			"repoUrl": "https://git.example.test/payments/" + name + ".git", "path": "deploy", "revision": "main"}
		before := gitopstest.Commits(t, gitDir, "main")
		task := run(t, "paved-new-service", values)
		if task.Status != "completed" {
			t.Fatalf("task %s: %s\n%s", task.Status, task.Error, strings.Join(task.Log, "\n"))
		}
		if got := gitopstest.Commits(t, gitDir, "main"); got != before+1 {
			t.Fatalf("%d commits on main after the task, want %d", got, before+1)
		}
		head := gitopstest.Git(t, gitDir, "rev-parse", "main")
		file := "apps/" + name + ".yaml"
		text := taskText(task)
		if !strings.Contains(text, head) || !strings.Contains(text, file) {
			t.Errorf("the task's text does not name commit %s and %s:\n%s", head, file, text)
		}
		if changed := gitopstest.Git(t, gitDir, "diff-tree", "--root", "--no-commit-id", "--name-only", "-r", "main"); changed != file {
			t.Errorf("the commit changed %q, want only %s", changed, file)
		}

		var app v1alpha1.Application
		raw := gitopstest.Git(t, gitDir, "show", "main:"+file)
		if err := k8syaml.UnmarshalStrict([]byte(raw), &app); err != nil {
			t.Fatalf("%s is not an Argo CD Application: %v\n%s", file, err, raw)
		}
		src := app.Spec.GetSource()
		sp := app.Spec.SyncPolicy
		switch {
		case app.APIVersion != "argoproj.io/v1alpha1" || app.Kind != "Application" || app.Name != name || app.Namespace != "argocd":
			t.Errorf("object = %s %s %s/%s", app.APIVersion, app.Kind, app.Namespace, app.Name)
		case app.Labels["app.kubernetes.io/managed-by"] != "paved" || app.Labels["paved.dev/entity"] != "component.default."+name:
			t.Errorf("labels = %v", app.Labels)
		case app.Annotations["paved.dev/entity-ref"] != "component:default/"+name:
			t.Errorf("annotations = %v", app.Annotations)
		case src.RepoURL != values["repoUrl"] || src.Path != "deploy" || src.TargetRevision != "main":
			t.Errorf("source = %+v", src)
		case app.Spec.Destination.Namespace != name || app.Spec.Destination.Server == "" || app.Spec.Project == "":
			t.Errorf("destination = %+v, project %q", app.Spec.Destination, app.Spec.Project)
		case sp == nil || sp.Automated == nil || !sp.Automated.Prune || !sp.Automated.SelfHeal || !sp.SyncOptions.HasOption("CreateNamespace=true"):
			t.Errorf("syncPolicy = %+v", sp)
		}
		if got := app.Annotations["backstage.io/source-template"]; got != "template:default/paved-new-service" {
			t.Errorf("backstage.io/source-template = %q, want template:default/paved-new-service", got)
		}

		again := run(t, "paved-new-service", values)
		if again.Status != "completed" {
			t.Fatalf("re-run: task %s: %s", again.Status, again.Error)
		}
		if got := gitopstest.Commits(t, gitDir, "main"); got != before+1 {
			t.Errorf("the same request again made a commit: %d commits, want %d", got, before+1)
		}

		// The same name with another repository is a changed spec: the task
		// fails, its log (the task events API, the registry path) carries
		// paved's reason, and the committed Application stays as it was.
		changed := map[string]any{}
		for k, v := range values {
			changed[k] = v
		}
		changed["repoUrl"] = "https://git.example.test/payments/" + name + "-other.git"
		refused := run(t, "paved-new-service", changed)
		reason := file + " already exists in the GitOps repository with a different spec"
		if log := refused.Error + "\n" + strings.Join(refused.Log, "\n"); refused.Status != "failed" || !strings.Contains(log, reason) {
			t.Errorf("a changed spec: task %s, want failed saying %q:\n%s", refused.Status, reason, log)
		} else {
			fmt.Printf("E2E task log of a changed spec: %s\n", firstLineWith(log, reason))
		}
		if got := gitopstest.Commits(t, gitDir, "main"); got != before+1 {
			t.Errorf("a refused change made a commit: %d commits, want %d", got, before+1)
		}
		if now := gitopstest.Git(t, gitDir, "show", "main:"+file); now != raw {
			t.Errorf("a refused change altered %s:\n%s", file, now)
		}
	})

	t.Run("new PostgreSQL database", func(t *testing.T) {
		name := "orders-" + randomHex(3)
		ident := strings.ReplaceAll(name, "-", "_")
		dropLater(t, admin, ident)
		// Carol's membership must be in the catalog (relations are stitched
		// after ingestion) before paved is asked whether she may read.
		waitMemberOf(t, ctx, bs, "carol", "group:default/payments")
		before := gitopstest.Commits(t, gitDir, "main")

		task := run(t, "paved-new-postgresql-database", map[string]any{"name": name, "owner": "group:default/payments",
			"size": "medium", "region": "us-east-1", "ttl": "", "entity": ""})
		if task.Status != "completed" {
			t.Fatalf("task %s: %s\n%s", task.Status, task.Error, strings.Join(task.Log, "\n"))
		}
		pageURL, entityRef := taskLinks(t, task)
		if entityRef != "resource:default/"+name {
			t.Errorf("entity link = %q, want resource:default/%s", entityRef, name)
		}
		// The link is the resource's page in Backstage (the browser sends no
		// token to paved's API); the page reads the connection route below.
		m := regexp.MustCompile(`^/paved/resources/([0-9a-f-]{36})$`).FindStringSubmatch(pageURL)
		if m == nil {
			t.Fatalf("connection link = %q, want Backstage's /paved/resources/<id>", pageURL)
		}
		id := m[1]
		connURL := "http://" + pavedAddr + "/api/paved/infra/" + id + "/connection"
		if text := taskText(task); !strings.Contains(text, "`"+ident+"`") || !strings.Contains(text, "**ready**") || !strings.Contains(text, "group:default/payments") {
			t.Errorf("the task's text does not give the database, its status and owner:\n%s", text)
		}
		var connLimit int
		if err := pg.QueryRow(ctx, `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1 AND rolcanlogin`, ident).Scan(&connLimit); err != nil {
			t.Fatalf("the login role %s: %v", ident, err)
		}
		if connLimit != 50 {
			t.Errorf("connection limit %d, want 50 for medium", connLimit)
		}
		var dbOwner string
		if err := pg.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, ident).Scan(&dbOwner); err != nil || dbOwner != ident {
			t.Fatalf("database %s owned by %q: %v", ident, dbOwner, err)
		}
		if got := gitopstest.Commits(t, gitDir, "main"); got != before {
			t.Errorf("the postgres driver committed to the GitOps repository (%d → %d commits)", before, got)
		}

		status, body := getConnection(t, ctx, connURL, users.Mint(t, "user:default/carol"))
		if status != http.StatusOK {
			t.Fatalf("carol (member of the owner group): %d %s", status, body)
		}
		var conn struct {
			ID, Owner  string
			Connection map[string]string
		}
		if err := json.Unmarshal(body, &conn); err != nil {
			t.Fatal(err)
		}
		password := conn.Connection["password"]
		if conn.ID != id || conn.Owner != "group:default/payments" || conn.Connection["database"] != ident || conn.Connection["username"] != ident || password == "" {
			t.Fatalf("connection details: id %s owner %s database %s username %s password set %t",
				conn.ID, conn.Owner, conn.Connection["database"], conn.Connection["username"], password != "")
		}
		// The test server trusts loopback, so connecting proves the role and
		// grants; the password is checked against the server's SCRAM verifier.
		var verifier string
		if err := pg.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, ident).Scan(&verifier); err != nil {
			t.Fatal(err)
		}
		if err := scramMatches(verifier, password); err != nil {
			t.Errorf("the password paved handed out is not the role's: %v", err)
		}
		if scramMatches(verifier, password+"x") == nil {
			t.Error("the SCRAM check accepts a wrong password")
		}
		owned, err := pgx.Connect(ctx, conn.Connection["url"])
		if err != nil {
			t.Fatalf("connecting with the details from paved: %v", err)
		}
		var one int
		var user, db string
		err = owned.QueryRow(ctx, `SELECT 1, current_user, current_database()`).Scan(&one, &user, &db)
		owned.Close(context.Background())
		if err != nil || one != 1 || user != ident || db != ident {
			t.Fatalf("SELECT 1 as the new role = %d as %s on %s: %v", one, user, db, err)
		}

		// An operator (paved's static token) manages resources but never reads
		// credentials; a user outside the owner team is refused too.
		for who, token := range map[string]string{"dave (not a member)": users.Mint(t, "user:default/dave"), "an operator token": p.Token} {
			status, body := getConnection(t, ctx, connURL, token)
			if status != http.StatusForbidden {
				t.Errorf("%s: %d, want 403: %s", who, status, body)
			}
			if strings.Contains(string(body), password) {
				t.Errorf("%s was shown the password", who)
			}
		}

		events, _ := json.Marshal(task.Events)
		for where, text := range map[string]string{"the task's events": string(events), "paved's log": p.Log(), "Backstage's log": bs.Logs()} {
			if strings.Contains(text, password) {
				t.Errorf("the database password appears in %s", where)
			}
			if strings.Contains(text, infraKey) {
				t.Errorf("the encryption key appears in %s", where)
			}
		}
	})

	t.Run("size outside the kind's schema", func(t *testing.T) {
		name := "ledger-" + randomHex(3)
		ident := strings.ReplaceAll(name, "-", "_")
		dropLater(t, admin, ident)
		before := gitopstest.Commits(t, gitDir, "main")
		values := map[string]any{"name": name, "owner": "group:default/payments", "size": "huge", "region": "eu-west-1", "ttl": "", "entity": ""}

		// Backstage checks values against the template's form, so through the
		// example template the size never reaches paved.
		_, err := bs.CreateTask(ctx, "template:default/paved-new-postgresql-database", values)
		var refused *backstagehost.HTTPError
		if !errors.As(err, &refused) || refused.Status != http.StatusBadRequest {
			t.Errorf("Backstage took size huge for the example template: %v", err)
		}

		// The copy without the size enum hands it to paved, which refuses it.
		task := run(t, uncheckedTemplate, values)
		if task.Status != "failed" {
			t.Fatalf("task %s, want failed; output %v", task.Status, task.Output)
		}
		// The task log names the field (paved's reason phrase, printed by
		// Backstage's ResponseError), and so does paved's audit log.
		if log := task.Error + "\n" + strings.Join(task.Log, "\n"); !strings.Contains(log, "parameters.size") {
			t.Errorf("the task log does not name parameters.size:\n%s", log)
		} else {
			fmt.Printf("E2E task log of a refused size: %s\n", firstLineWith(log, "parameters.size"))
		}
		audit, err := p.CLI(ctx, "", "invocations", "--action", "paved:provision-infra")
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^.*\bfailed\b.*parameters\.size.*$`).MatchString(audit) {
			t.Errorf("paved's audit log has no failed provisioning naming parameters.size:\n%s", audit)
		}
		var n int
		if err := pg.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1) + (SELECT count(*) FROM pg_database WHERE datname = $1)`, ident).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("a refused provisioning left %d of role and database %s behind", n, ident)
		}
		if got := gitopstest.Commits(t, gitDir, "main"); got != before {
			t.Errorf("a refused provisioning committed: %d → %d commits", before, got)
		}
		if refs := gitopstest.Git(t, gitDir, "for-each-ref", "--format=%(refname)"); refs != "refs/heads/main" {
			t.Errorf("refs after a refused provisioning: %s", refs)
		}
		paved, err := pgx.Connect(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		defer paved.Close(context.Background())
		if err := paved.QueryRow(ctx, `SELECT count(*) FROM infra_resources WHERE name = $1`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("paved kept %d records of a refused provisioning", n)
		}
	})
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// exampleTemplates copies the YAML files of examples/templates unchanged into
// a temporary directory, for a test to add variants beside them, and returns
// it with the source directory.
func exampleTemplates(t *testing.T, root string) (dir, src string) {
	t.Helper()
	dir = t.TempDir()
	src = filepath.Join(root, "examples", "templates")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".yaml" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, src
}

// copyExampleTemplates copies examples/templates unchanged into a temporary
// directory, with the people of templatesPeople and the unchecked variant of
// the database template.
func copyExampleTemplates(t *testing.T, root string) string {
	t.Helper()
	dir, src := exampleTemplates(t, root)
	raw, err := os.ReadFile(filepath.Join(src, "new-postgresql-database.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["metadata"].(map[string]any)["name"] = uncheckedTemplate
	size := doc["spec"].(map[string]any)["parameters"].([]any)[0].(map[string]any)["properties"].(map[string]any)["size"].(map[string]any)
	if size["enum"] == nil {
		t.Fatal("the database template's size has no enum any more; the unchecked variant removes it")
	}
	delete(size, "enum")
	delete(size, "enumNames")
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"unchecked.yaml": out, "people.yaml": []byte(templatesPeople)} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serverURL is the admin URL of the server holding database dsn.
func serverURL(t *testing.T, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/postgres"
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// dropLater removes what a provisioning may have left on the shared server,
// whatever the test's outcome.
func dropLater(t *testing.T, admin, ident string) {
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{ident}.Sanitize()+" WITH (FORCE)")
		_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{ident}.Sanitize())
	})
}

// waitMemberOf waits until the catalog has stitched user's memberOf relation.
func waitMemberOf(t *testing.T, ctx context.Context, bs *backstagehost.Backstage, user, group string) {
	t.Helper()
	for {
		e, err := bs.WaitEntity(ctx, "user", "default", user)
		if err != nil {
			t.Fatal(err)
		}
		rels, _ := e["relations"].([]any)
		for _, r := range rels {
			rel, _ := r.(map[string]any)
			if rel["type"] == "memberOf" && rel["targetRef"] == group {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("user %s never became a member of %s in the catalog", user, group)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// firstLineWith is the first line of text that holds s.
func firstLineWith(text, s string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// taskText joins the text outputs of a task.
func taskText(task backstagehost.Task) string {
	var b strings.Builder
	texts, _ := task.Output["text"].([]any)
	for _, x := range texts {
		if m, ok := x.(map[string]any); ok {
			fmt.Fprintln(&b, m["content"])
		}
	}
	return b.String()
}

// taskLinks returns the last url link (the resource's page) and the catalog entity link.
func taskLinks(t *testing.T, task backstagehost.Task) (pageURL, entityRef string) {
	t.Helper()
	links, _ := task.Output["links"].([]any)
	for _, x := range links {
		m, _ := x.(map[string]any)
		if u, ok := m["url"].(string); ok {
			pageURL = u
		}
		if e, ok := m["entityRef"].(string); ok {
			entityRef = e
		}
	}
	if pageURL == "" || entityRef == "" {
		t.Fatalf("task output links = %v", task.Output["links"])
	}
	return pageURL, entityRef
}

func getConnection(t *testing.T, ctx context.Context, u, token string) (int, []byte) {
	t.Helper()
	return requestAs(t, ctx, http.MethodGet, u, token, "")
}

// requestAs sends body (JSON, if any) to u with token and returns the
// answer's status and body.
func requestAs(t *testing.T, ctx context.Context, method, u, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, answer
}

// scramMatches reports whether password fits a PostgreSQL SCRAM-SHA-256
// verifier: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
func scramMatches(verifier, password string) error {
	m := regexp.MustCompile(`^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$`).FindStringSubmatch(verifier)
	if m == nil {
		return errors.New("the role's password is not a SCRAM-SHA-256 verifier")
	}
	iter, _ := strconv.Atoi(m[1])
	salt, err := base64.StdEncoding.DecodeString(m[2])
	if err != nil {
		return err
	}
	stored, err := base64.StdEncoding.DecodeString(m[3])
	if err != nil {
		return err
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, salted)
	mac.Write([]byte("Client Key"))
	sum := sha256.Sum256(mac.Sum(nil))
	if !hmac.Equal(sum[:], stored) {
		return errors.New("StoredKey differs")
	}
	return nil
}
