package server_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/backstage/backstagetest"
	"github.com/paved-dev/paved/catalog"
	"github.com/paved-dev/paved/costs"
	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/devex/devextest"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/infra/manifests"
	"github.com/paved-dev/paved/permission"
	"github.com/paved-dev/paved/scaffolder"
	"github.com/paved-dev/paved/server"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/postgres"
	"github.com/paved-dev/paved/sqlstore/sqlite"
	"github.com/paved-dev/paved/telemetry"
)

// The hostile-input sweep: every route of server/routes.go, every input
// channel (method, path parameters, query parameters, headers, body), driven
// through the router paved serves with the real store, verifier, registry,
// actions, catalog, adoption and infrastructure services, and the test
// servers of Argo CD and Backstage. Whatever the input, the answer is a 2xx
// or a 4xx in Backstage's error JSON naming the bad field, never a 5xx or a
// panic, and a refused call changes nothing.

const hostileKind = `name: notes
title: Notes
owner: group:default/platform
driver: manifests
type: notes
parameters:
  type: object
  required: [note]
  properties:
    note: {type: string, maxLength: 200}
    copies: {type: integer, minimum: 1, maximum: 10, default: 1}
template:
  application:
    destination: {namespace: notes}
  files:
    - path: notes.yaml
      content: |
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Name }}-notes
        data:
          note: {{ quote .Params.note }}
          copies: {{ quote .Params.copies }}
`

const hostileMaxBody = 1 << 20 // the default of limits.maxBodyBytes

// hostileFixture is paved wired as cmd/paved wires it, on one engine.
type hostileFixture struct {
	handler  http.Handler
	echo     *echo.Echo
	store    *sqlstore.DB
	argo     *argocdtest.Server
	repo     string // the GitOps repository (bare)
	users    *backstagetest.Users
	readerTk string // a user token of a member of the reader group
	otherTk  string // a user token of nobody in particular
	// approvals holds postgresql-crossplane requests of size large for
	// group platform's approval.
	approvals *approval.Service
}

// hostileEngines runs fn on SQLite and, when the test server is configured,
// on PostgreSQL: text that SQLite stores PostgreSQL may refuse (NUL bytes,
// invalid UTF-8), which must still be a 400 and not a 500.
func hostileEngines(t *testing.T, fn func(t *testing.T, f *hostileFixture)) {
	t.Run("sqlite", func(t *testing.T) {
		store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paved.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		fn(t, newHostile(t, store))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := hostilePostgres(t)
		store, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		fn(t, newHostile(t, store))
	})
}

// hostilePostgres creates a throwaway database on the test server
// (scripts/pg-test-server.sh), dropped when t ends.
func hostilePostgres(t *testing.T) string {
	t.Helper()
	server := os.Getenv("PAVED_TEST_DATABASE_URL")
	if server == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PAVED_TEST_DATABASE_URL is not set; CI must run the PostgreSQL tests")
		}
		t.Skip("PAVED_TEST_DATABASE_URL is not set")
	}
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "paved_hostile_" + strings.ToLower(rand.Text()[:16])
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`) })
	if strings.HasPrefix(server, "postgres://") || strings.HasPrefix(server, "postgresql://") {
		u, err := url.Parse(server)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return server + " dbname=" + name
}

func newHostile(t testing.TB, store *sqlstore.DB) *hostileFixture {
	t.Helper()
	return newHostileWith(t, store, nil)
}

// newHostileWith is newHostile with paved's own policy made of policy's
// lines before the defaults.
func newHostileWith(t testing.TB, store *sqlstore.DB, policy []permission.PolicyRule) *hostileFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()

	fake, err := argocdtest.NewServer(argocdtest.Options{APITokens: []string{argoToken}})
	if err != nil {
		t.Fatal(err)
	}
	fake.Start()
	t.Cleanup(fake.Close)
	argo, err := argocd.New([]argocd.InstanceConfig{{
		Name: "prod", Server: fake.Addr(), UIURL: "https://argocd.test", Token: argoToken, PlainText: true, DefaultProject: "default", Timeout: 10 * time.Second,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { argo.Close() })

	signer, err := backstage.NewSigner(ctx, store, "paved", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	users := backstagetest.NewUsers(t)
	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{
		AllowedPlugins: []string{"scaffolder", "mcp-actions"},
		PluginID:       "paved",
		Discovery:      backstage.NewDiscovery(users.URL+"/api/{{pluginId}}", nil),
		StaticTokens:   []backstage.StaticToken{{Token: testToken, Subject: "test"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	bs := devextest.New(t, "catalog-token-0123456789")
	bs.AddUser("user:default/carol", "group:default/platform")
	reader := backstage.NewReadClient(backstage.NewDiscovery(bs.Discovery(), nil), backstage.StaticTokenSource(bs.Token), nil)

	repoDir := filepath.Join(dir, "gitops.git")
	repoURL, err := gitops.InitBare(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := gitops.Open(gitops.Config{URL: repoURL, Branch: "main", AuthorName: "paved", AuthorEmail: "paved@test"})
	if err != nil {
		t.Fatal(err)
	}
	apps := gitops.Writer{Repo: repo, Render: argocd.Manifests{}, AppsPath: "apps", DefaultProject: "default", Namespace: "argocd"}
	drivers := map[string]infra.Driver{"manifests": manifests.New(manifests.Options{Render: argocd.Manifests{}, Repo: repo, RepoURL: repoURL, Branch: "main"})}
	kinds, _, err := infra.LoadKinds(filepath.Join("..", "examples", "infra-kinds"), drivers)
	if err != nil {
		t.Fatal(err)
	}
	// A kind with free text and a number among its parameters, as an
	// operator may write one.
	notes, err := infra.ParseKind([]byte(hostileKind), drivers)
	if err != nil {
		t.Fatal(err)
	}
	kinds = append(kinds, notes)
	sealer, err := infra.NewSealer(make([]byte, infra.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := infra.NewService(infra.Options{Kinds: kinds, Drivers: drivers, Store: store, Sealer: sealer, Membership: reader, MaxTTL: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	approvals, err := approval.NewService(approval.Options{
		Rules: []approval.Rule{{Kind: "postgresql-crossplane", Parameters: map[string][]string{"size": {"large"}}, Approvers: "group:default/platform"}},
		Store: store, Infra: svc, Membership: reader, Leases: store,
	})
	if err != nil {
		t.Fatal(err)
	}

	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved", Recorder: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{Apps: argo, MaxWait: 2 * time.Second, GitOps: apps})...); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppSetActions(scaffolder.AppSetActionsOptions{AppSets: argo,
		GitOps: gitops.Writer{Repo: repo, Render: argocd.Manifests{}, DefaultProject: "default", Namespace: "argocd"}})...); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.InfraActions(scaffolder.InfraActionsOptions{Infra: svc})...); err != nil {
		t.Fatal(err)
	}

	refresher := catalog.NewRefresher(catalog.RefresherOptions{
		Options:      catalog.Options{Instances: []catalog.Instance{{Name: "prod"}}, LocationURL: "http://paved.test/api/paved/catalog/entities.yaml"},
		Apps:         argo,
		Store:        store,
		SyncInterval: 50 * time.Millisecond,
	})
	if leader, err := refresher.Refresh(ctx); err != nil || !leader {
		t.Fatalf("catalog refresh: %v %v", leader, err)
	}

	var authz paved.Authorizer
	if policy != nil {
		pol, err := permission.NewPolicy(policy, permission.Readers{DevEx: []string{"group:default/platform"}})
		if err != nil {
			t.Fatal(err)
		}
		authz = permission.New(permission.Options{Decider: pol, Membership: reader})
	}

	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "paved"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	e := server.New(server.Deps{
		Authorizer:     authz,
		PluginID:       "paved",
		Metrics:        tel.Metrics,
		TracerProvider: tel.Tracer,
		MeterProvider:  tel.Meter,
		Auth:           verifier,
		Actions:        reg,
		Keys:           signer,
		Invocations:    store,
		MaxBodyBytes:   hostileMaxBody,
		Ready:          []server.Check{{Name: "store", Check: store.Ping}},
		Catalog:        refresher,
		DevEx:          devex.NewService(store), DevExReaders: []string{"group:default/platform"}, Membership: reader,
		Feedback: devex.NewFeedbacks(devex.FeedbackOptions{Store: store, Tasks: reader}),
		Infra:    svc, Resources: svc, Apps: argo,
		Costs: &costs.Reporter{Store: store}, Approvals: approvals,
	})
	return &hostileFixture{
		handler: e, echo: e, store: store, argo: fake, repo: repoDir, users: users,
		readerTk: users.Mint(t, "user:default/carol"),
		otherTk:  users.Mint(t, "user:default/mallory"), approvals: approvals,
	}
}

// hostileRequest is one request of the sweep. Path is sent as the raw
// request target, so it may hold any escape.
type hostileRequest struct {
	method, target string
	header         http.Header
	body           string
}

type hostileResponse struct {
	status int
	header http.Header
	raw    []byte
}

func (f *hostileFixture) serve(t testing.TB, r hostileRequest) hostileResponse {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", strings.NewReader(r.body))
	req.Method = r.method
	u, err := url.ParseRequestURI(r.target)
	if err != nil {
		// A target Go's URL parser refuses never reaches a handler: net/http
		// answers 400 itself. Route it as raw as it comes.
		u = &url.URL{Path: r.target, RawPath: r.target}
	}
	req.URL = u
	req.RequestURI = r.target
	req.ContentLength = int64(len(r.body))
	for k, v := range r.header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("%s %q panicked through the router: %v", r.method, r.target, p)
			}
		}()
		f.handler.ServeHTTP(rec, req)
	}()
	return hostileResponse{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
}

// backstageErrorNames are the names errors.go gives each status.
var backstageErrorNames = map[int]string{
	400: "InputError", 413: "InputError", 401: "AuthenticationError", 403: "NotAllowedError",
	404: "NotFoundError", 409: "ConflictError", 503: "ServiceUnavailableError", 504: "ServiceUnavailableError", 500: "ServiceUnavailableError",
}

// checkError fails unless resp is a client error in Backstage's error JSON,
// with the name of its status and a message; when field is set, the
// message or a field error must name it.
func checkError(t testing.TB, what string, r hostileRequest, resp hostileResponse, field string) {
	t.Helper()
	if resp.status < 400 || resp.status >= 500 {
		t.Errorf("%s: %s %.200q: status %d, want a 4xx; body %.400s", what, r.method, r.target, resp.status, resp.raw)
		return
	}
	if r.method == http.MethodHead {
		return
	}
	if msg := checkErrorJSON(resp); msg != "" {
		t.Errorf("%s: %s %.200q: %s; body %.400s", what, r.method, r.target, msg, resp.raw)
		return
	}
	if field != "" && !namesField(resp.raw, field) {
		t.Errorf("%s: %s %.200q: the error does not name %q: %.400s", what, r.method, r.target, field, resp.raw)
	}
}

// checkErrorJSON returns what is wrong with resp as Backstage's error JSON
// ("" when nothing).
func checkErrorJSON(resp hostileResponse) string {
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Sprintf("Content-Type %q, want application/json", ct)
	}
	var body struct {
		Error *struct {
			Name    string             `json:"name"`
			Message string             `json:"message"`
			Fields  []paved.FieldError `json:"fields"`
		} `json:"error"`
		Request *struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
		Response *struct {
			StatusCode int `json:"statusCode"`
		} `json:"response"`
	}
	dec := json.NewDecoder(strings.NewReader(string(resp.raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return "not Backstage's error JSON: " + err.Error()
	}
	switch {
	case body.Error == nil || body.Request == nil || body.Response == nil:
		return "error, request or response missing"
	case body.Response.StatusCode != resp.status:
		return fmt.Sprintf("response.statusCode %d, status %d", body.Response.StatusCode, resp.status)
	case body.Error.Name != backstageErrorNames[resp.status]:
		return fmt.Sprintf("error.name %q, want %q for %d", body.Error.Name, backstageErrorNames[resp.status], resp.status)
	case strings.TrimSpace(body.Error.Message) == "":
		return "empty error.message"
	case body.Request.Method == "":
		return "empty request.method"
	case strings.Contains(body.Error.Message, "internal error"):
		return "an internal error as a client error"
	}
	for _, fe := range body.Error.Fields {
		if fe.Field == "" || fe.Message == "" {
			return fmt.Sprintf("a field error without field or message: %+v", fe)
		}
	}
	return ""
}

// namesField reports whether the error's message or one of its field errors
// names field (a dotted path; a field error for a child counts).
func namesField(raw []byte, field string) bool {
	var body struct {
		Error struct {
			Message string             `json:"message"`
			Fields  []paved.FieldError `json:"fields"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &body)
	for _, fe := range body.Error.Fields {
		if fe.Field == field || strings.HasPrefix(fe.Field, field+".") {
			return true
		}
	}
	return strings.Contains(body.Error.Message, field)
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// hostileRoute is one route of routes.go, called with valid values in its
// path parameters.
type hostileRoute struct {
	method, route, target string
	// auth: the route needs a token.
	auth bool
}

const (
	hostileV1 = "/api/paved/.backstage/actions/v1/actions/"
	hostileV2 = "/api/paved/.backstage/actions/v2/actions/"
	// hostileResourceID is well formed and names no resource.
	hostileResourceID = "0b6f5a2e-6d0c-4c43-9a4e-5f3e2b1c0d9a"
)

var hostileRoutes = []hostileRoute{
	{"GET", "/healthz", "/healthz", false},
	{"GET", "/readyz", "/readyz", false},
	{"GET", "/metrics", "/metrics", false},
	{"GET", "/api/paved/.backstage/auth/v1/jwks.json", "/api/paved/.backstage/auth/v1/jwks.json", false},
	{"GET", "/api/paved/.backstage/actions/v1/actions", "/api/paved/.backstage/actions/v1/actions", true},
	{"GET", "/api/paved/.backstage/actions/v1/status", "/api/paved/.backstage/actions/v1/status", true},
	{"POST", "/api/paved/.backstage/actions/v1/actions/:id/invoke", hostileV1 + "paved:list-infra-kinds/invoke", true},
	{"POST", "/api/paved/.backstage/actions/v2/actions/:id/invoke", hostileV2 + "paved:list-infra-kinds/invoke", true},
	{"GET", "/api/paved/.well-known/backstage/permissions/metadata", "/api/paved/.well-known/backstage/permissions/metadata", true},
	{"POST", "/api/paved/.well-known/backstage/permissions/apply-conditions", "/api/paved/.well-known/backstage/permissions/apply-conditions", true},
	{"GET", "/api/paved/invocations", "/api/paved/invocations", true},
	{"POST", "/api/paved/admin/keys/rotate", "/api/paved/admin/keys/rotate", true},
	{"GET", "/api/paved/catalog/entities", "/api/paved/catalog/entities", true},
	{"GET", "/api/paved/catalog/entities.yaml", "/api/paved/catalog/entities.yaml", true},
	{"GET", "/api/paved/catalog/changes", "/api/paved/catalog/changes", true},
	{"GET", "/api/paved/devex/v1/summary", "/api/paved/devex/v1/summary", true},
	{"GET", "/api/paved/devex/v1/templates", "/api/paved/devex/v1/templates", true},
	{"GET", "/api/paved/devex/v1/timeseries", "/api/paved/devex/v1/timeseries", true},
	{"GET", "/api/paved/devex/v1/coverage", "/api/paved/devex/v1/coverage", true},
	{"GET", "/api/paved/devex/v1/deployments", "/api/paved/devex/v1/deployments", true},
	{"GET", "/api/paved/devex/v1/funnel", "/api/paved/devex/v1/funnel", true},
	{"GET", "/api/paved/devex/v1/satisfaction", "/api/paved/devex/v1/satisfaction", true},
	{"GET", "/api/paved/devex/v1/slos", "/api/paved/devex/v1/slos", true},
	{"GET", "/api/paved/devex/v1/freshness", "/api/paved/devex/v1/freshness", true},
	{"GET", "/api/paved/devex/v1/dora", "/api/paved/devex/v1/dora", true},
	{"GET", "/api/paved/devex/v1/feedback/comments", "/api/paved/devex/v1/feedback/comments", true},
	{"GET", "/api/paved/devex/v1/feedback/runs", "/api/paved/devex/v1/feedback/runs", true},
	{"GET", "/api/paved/devex/v1/feedback/runs/:taskId", "/api/paved/devex/v1/feedback/runs/task-1", true},
	{"PUT", "/api/paved/devex/v1/feedback/runs/:taskId", "/api/paved/devex/v1/feedback/runs/task-1", true},
	{"GET", "/api/paved/devex/v1/costs", "/api/paved/devex/v1/costs", true},
	{"GET", "/api/paved/infra/:id/connection", "/api/paved/infra/" + hostileResourceID + "/connection", true},
	{"GET", "/api/paved/infra/v1/resources", "/api/paved/infra/v1/resources?owner=group:default/platform", true},
	{"GET", "/api/paved/infra/v1/resources/:id", "/api/paved/infra/v1/resources/" + hostileResourceID, true},
	{"POST", "/api/paved/infra/v1/resources/:id/extend", "/api/paved/infra/v1/resources/" + hostileResourceID + "/extend", true},
	{"DELETE", "/api/paved/infra/v1/resources/:id", "/api/paved/infra/v1/resources/" + hostileResourceID, true},
	{"GET", "/api/paved/apps/v1/by-entity", "/api/paved/apps/v1/by-entity?entityRef=component:default/shop", true},
	{"POST", "/api/paved/apps/v1/instances/:instance/apps/:name/sync", "/api/paved/apps/v1/instances/prod/apps/shop/sync", true},
	{"GET", "/api/paved/approvals/v1/requests", "/api/paved/approvals/v1/requests?state=pending", true},
	{"GET", "/api/paved/approvals/v1/requests/:id", "/api/paved/approvals/v1/requests/" + hostileResourceID, true},
	{"POST", "/api/paved/approvals/v1/requests/:id/approve", "/api/paved/approvals/v1/requests/" + hostileResourceID + "/approve", true},
	{"POST", "/api/paved/approvals/v1/requests/:id/reject", "/api/paved/approvals/v1/requests/" + hostileResourceID + "/reject", true},
}

// hostileNoValidCall are the routes whose valid call needs a resource or an
// application that the sweep's fixture does not have (TestUIRoutesByPrincipal
// covers them with one).
var hostileNoValidCall = map[string]bool{
	"/api/paved/infra/:id/connection":                        true,
	"/api/paved/infra/v1/resources/:id":                      true,
	"/api/paved/infra/v1/resources/:id/extend":               true,
	"/api/paved/apps/v1/instances/:instance/apps/:name/sync": true,
	"/api/paved/approvals/v1/requests/:id":                   true,
	"/api/paved/approvals/v1/requests/:id/approve":           true,
	"/api/paved/approvals/v1/requests/:id/reject":            true,
}

// userRoute says whether a route answers user tokens about the user's own
// things only (a resource's credentials, feedback on one's runs): a valid
// call with a static token is refused there.
func userRoute(route string) bool {
	return route == "/api/paved/infra/:id/connection" || strings.HasPrefix(route, "/api/paved/devex/v1/feedback/runs")
}

// hostileState is everything a refused call must leave as it was.
type hostileState struct {
	argoWrites  map[string]int
	gitRefs     string
	resources   int
	invocations int
	succeeded   int // invocations that did not fail
	jwks        string
	catalogSeq  int64
}

var argoWriteMethods = []string{
	argocdtest.MethodAppCreate, argocdtest.MethodAppSync, argocdtest.MethodAppDelete,
	argocdtest.MethodProjectCreate, argocdtest.MethodProjectUpdate, argocdtest.MethodProjectDelete,
	argocdtest.MethodAppSetCreate, argocdtest.MethodAppSetDelete,
}

func (f *hostileFixture) state(t testing.TB) hostileState {
	t.Helper()
	ctx := context.Background()
	s := hostileState{argoWrites: map[string]int{}}
	for _, m := range argoWriteMethods {
		s.argoWrites[m] = f.argo.Calls(m)
	}
	s.gitRefs = gitRefs(t, f.repo)
	count := func(query string) int {
		var n int
		if err := f.store.SQL().QueryRowContext(ctx, query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	s.resources = count(`SELECT count(*) FROM infra_resources`) + count(`SELECT count(*) FROM infra_provisionings`)
	s.invocations = count(`SELECT count(*) FROM invocations`)
	s.succeeded = count(`SELECT count(*) FROM invocations WHERE status <> 'failed'`)
	cs, err := f.store.CatalogState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.catalogSeq = cs.Seq
	r := f.serve(t, hostileRequest{method: "GET", target: "/api/paved/.backstage/auth/v1/jwks.json"})
	s.jwks = string(r.raw)
	return s
}

// gitRefs lists the refs of a bare repository and what they point at.
func gitRefs(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(filepath.Join(dir, "refs"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		b.WriteString(path + "=" + string(raw) + "\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "packed-refs")); err == nil {
		b.Write(raw)
	}
	return b.String()
}

// unchanged fails when anything but invocations (which must have grown by
// exactly invocations) differs between before and after.
func unchanged(t testing.TB, what string, before, after hostileState, invocations int) {
	t.Helper()
	for m, n := range before.argoWrites {
		if after.argoWrites[m] != n {
			t.Errorf("%s: Argo CD %s called %d times", what, m, after.argoWrites[m]-n)
		}
	}
	if after.gitRefs != before.gitRefs {
		t.Errorf("%s: the GitOps repository changed:\n%s\n→\n%s", what, before.gitRefs, after.gitRefs)
	}
	if after.resources != before.resources {
		t.Errorf("%s: %d infrastructure resources or provisionings recorded", what, after.resources-before.resources)
	}
	if after.invocations-before.invocations != invocations {
		t.Errorf("%s: %d invocations recorded, want %d", what, after.invocations-before.invocations, invocations)
	}
	if after.succeeded != before.succeeded {
		t.Errorf("%s: %d invocations succeeded", what, after.succeeded-before.succeeded)
	}
	if after.jwks != before.jwks {
		t.Errorf("%s: the signing keys changed", what)
	}
	if after.catalogSeq != before.catalogSeq {
		t.Errorf("%s: the catalog changed", what)
	}
}

// TestHostileSweepCoversEveryRoute keeps the sweep honest: a route added to
// routes.go without a row here fails.
func TestHostileSweepCoversEveryRoute(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := newHostile(t, store)
	known := map[string]bool{}
	for _, r := range hostileRoutes {
		known[r.method+" "+r.route] = true
	}
	for _, r := range f.echo.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		if !known[r.Method+" "+r.Path] {
			t.Errorf("route %s %s is not in hostileRoutes", r.Method, r.Path)
		}
	}
}

// TestHostileValidCallsPass checks the baseline the sweep varies: each
// route's valid call is a 2xx (so a 4xx below is the input's doing).
func TestHostileValidCallsPass(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		for _, r := range hostileRoutes {
			req := hostileRequest{method: r.method, target: r.target, header: bearer(testToken), body: "{}"}
			if hostileNoValidCall[r.route] {
				continue // no such resource or app exists; covered by TestHostilePathParams and TestUIRoutesByPrincipal
			}
			if strings.HasPrefix(r.route, "/api/paved/devex/v1/feedback/runs") {
				continue // a user's own runs: no static token has any (TestFeedbackRoutes)
			}
			resp := f.serve(t, req)
			if resp.status/100 != 2 {
				t.Errorf("%s %s: %d %s", r.method, r.target, resp.status, resp.raw)
			}
		}
	})
}

// hostileAuthorizations are Authorization headers that authenticate no one.
func hostileAuthorizations(f *hostileFixture) map[string][]string {
	long := strings.Repeat("a", 40<<10)
	return map[string][]string{
		"absent":                 nil,
		"empty":                  {""},
		"scheme only":            {"Bearer"},
		"scheme and space":       {"Bearer "},
		"basic":                  {"Basic dGVzdDp0ZXN0"},
		"token without scheme":   {testToken},
		"wrong static token":     {"Bearer " + testToken + "x"},
		"static token with NUL":  {"Bearer " + testToken + "\x00"},
		"overlong token":         {"Bearer " + long},
		"three dots":             {"Bearer a.b.c"},
		"not base64 JWT":         {"Bearer !!!.???.***"},
		"alg none":               {"Bearer " + unsignedJWT(`{"alg":"none","typ":"vnd.backstage.plugin"}`, `{"sub":"scaffolder","aud":"paved","iat":1,"exp":9999999999}`)},
		"user typ, no signature": {"Bearer " + unsignedJWT(`{"alg":"ES256","typ":"vnd.backstage.user","kid":"backstagetest-user"}`, `{"sub":"user:default/carol","iat":1,"exp":9999999999}`)},
		"unknown typ":            {"Bearer " + unsignedJWT(`{"alg":"ES256","typ":"JWT"}`, `{}`)},
		"user token, bad sig":    {"Bearer " + f.readerTk[:len(f.readerTk)-4] + "AAAA"},
		"invalid UTF-8":          {"Bearer \xff\xfe\xfd"},
	}
}

func unsignedJWT(header, claims string) string {
	enc := func(s string) string {
		return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(base64Std(s)), "=")
	}
	return enc(header) + "." + enc(claims) + "."
}

// TestHostileAuth sends every bad Authorization to every route that needs
// a token: 401 AuthenticationError, and the handler never runs.
func TestHostileAuth(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		before := f.state(t)
		for name, auth := range hostileAuthorizations(f) {
			for _, r := range hostileRoutes {
				if !r.auth {
					continue
				}
				req := hostileRequest{method: r.method, target: r.target, header: http.Header{}, body: `{}`}
				if auth != nil {
					req.header["Authorization"] = auth
				}
				resp := f.serve(t, req)
				checkError(t, "authorization "+name, req, resp, "")
				if resp.status != http.StatusUnauthorized {
					t.Errorf("authorization %s: %s %s: %d, want 401", name, r.method, r.target, resp.status)
				}
			}
		}
		// Two Authorization headers: only the first counts, and a bad first one fails.
		req := hostileRequest{method: "GET", target: "/api/paved/invocations", header: http.Header{"Authorization": {"Bearer nope-nope-nope", "Bearer " + testToken}}}
		checkError(t, "two authorizations", req, f.serve(t, req), "")
		unchanged(t, "bad authorizations", before, f.state(t), 0)
	})
}

// TestHostileForbidden: authenticated callers without the right to a route.
func TestHostileForbidden(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		before := f.state(t)
		cases := []struct {
			what, method, target, token string
			status                      int
		}{
			{"rotate with a user token", "POST", "/api/paved/admin/keys/rotate", f.readerTk, 403},
			{"devex for a non-member", "GET", "/api/paved/devex/v1/summary", f.otherTk, 403},
			{"connection with a static token", "GET", "/api/paved/infra/" + hostileResourceID + "/connection", testToken, 0},
			{"connection of an unknown id", "GET", "/api/paved/infra/" + hostileResourceID + "/connection", f.readerTk, 404},
		}
		for _, c := range cases {
			req := hostileRequest{method: c.method, target: c.target, header: bearer(c.token)}
			resp := f.serve(t, req)
			checkError(t, c.what, req, resp, "")
			if c.status != 0 && resp.status != c.status {
				t.Errorf("%s: %d, want %d: %s", c.what, resp.status, c.status, resp.raw)
			}
		}
		unchanged(t, "forbidden calls", before, f.state(t), 0)
	})
}

// TestHostileMethods: every route with every other method, and methods no
// route knows, are a 4xx in Backstage's error JSON.
func TestHostileMethods(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		before := f.state(t)
		methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "BREW", "get"}
		for _, r := range hostileRoutes {
			for _, m := range methods {
				if m == r.method {
					continue
				}
				req := hostileRequest{method: m, target: r.target, header: bearer(testToken), body: `{"name":"x"}`}
				checkError(t, "method "+m, req, f.serve(t, req), "")
			}
		}
		unchanged(t, "wrong methods", before, f.state(t), 0)
	})
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// hostileQuery is one query string on one route; status 0 accepts any 2xx,
// and field is what a 4xx must name.
type hostileQuery struct {
	target string
	status int
	field  string
}

func hostileQueries() []hostileQuery {
	long := strings.Repeat("x", 8<<10)
	var q []hostileQuery
	add := func(target string, status int, field string) {
		q = append(q, hostileQuery{target, status, field})
	}
	// Routes that take no query parameters ignore any.
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/api/paved/.backstage/auth/v1/jwks.json",
		"/api/paved/.backstage/actions/v1/actions", "/api/paved/catalog/entities.yaml"} {
		add(p+"?x=%00&y=%FF&"+long+"="+long, 0, "")
	}
	const inv = "/api/paved/invocations"
	for _, v := range []string{"0", "-1", "1001", "abc", "1e3", "1.5", "99999999999999999999999", "%00", "%FF", "+5", " 5", long} {
		add(inv+"?limit="+v, 400, "limit")
	}
	add(inv+"?limit=1000", 0, "")
	add(inv+"?limit=5&limit=abc", 0, "")
	for _, p := range []string{"since", "until"} {
		for _, v := range []string{"yesterday", "2026-13-01T00:00:00Z", "2026-01-01", "2026-01-01T24:00:00Z", "%00", "%FF", long, "2026-01-01T00:00:00+25:00"} {
			add(inv+"?"+p+"="+v, 400, p)
		}
		for _, v := range []string{"0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-01T00:00:00.123456789%2B14:00"} {
			add(inv+"?"+p+"="+v, 0, "")
		}
	}
	add(inv+"?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", 0, "") // an empty window
	for _, v := range []string{"x", long, "paved:%20", "%F0%9F%92%A9", "%00", "%FF", "paved%3Agreet%00"} {
		add(inv+"?action="+v, 0, "action")
	}

	const ents = "/api/paved/catalog/entities"
	for _, v := range []string{"0", "-1", "10001", "abc", "1e3", "99999999999999999999", "%00", "%FF"} {
		add(ents+"?limit="+v, 400, "limit")
	}
	for _, v := range []string{"!!!", "%00", "%FF", "a", "====", strings.Repeat("!", 8<<10)} {
		add(ents+"?cursor="+v, 400, "cursor")
	}
	add(ents+"?cursor="+base64.RawURLEncoding.EncodeToString([]byte("\xff\x00zzz")), 0, "")
	add(ents+"?cursor="+base64.RawURLEncoding.EncodeToString([]byte(long)), 0, "")

	const ch = "/api/paved/catalog/changes"
	for _, v := range []string{"x", "x.", ".1", "e.-1", "e.1.2", "e.99999999999999999999", "e.0x10", "%00", "%FF", long} {
		add(ch+"?cursor="+v, 400, "cursor")
	}
	for _, v := range []string{"e.1", "%00.1", "%FF.0", long + ".3"} {
		add(ch+"?cursor="+v, 0, "") // well formed, of another database: a reset
	}
	for _, v := range []string{"-1s", "-1", "abc", "1e9", "1.5", "%00", "%FF", "30x", long} {
		add(ch+"?wait="+v, 400, "wait")
	}
	for _, v := range []string{"0", "0s", "30s", "99999h", "9223372036854775807ns", "99999999999", "9223372036854775807"} {
		add(ch+"?wait="+v, 0, "") // no cursor: a reset, whatever the wait
	}

	for _, route := range []string{"summary", "templates", "timeseries", "coverage", "deployments", "funnel"} {
		p := "/api/paved/devex/v1/" + route
		for _, name := range []string{"from", "to"} {
			for _, v := range []string{"yesterday", "2026-02-30", "2026-01-01T25:00:00Z", "26-01-01", "%00", "%FF", long, "2026-1-1"} {
				add(p+"?"+name+"="+v, 400, name)
			}
		}
		add(p+"?from=2026-02-01&to=2026-01-01", 400, "from")
		add(p+"?from=2026-01-01&to=2026-01-01T00:00:00Z", 400, "from")
		add(p+"?from=2010-01-01&to=2026-01-01", 400, "from")
		add(p+"?from=0001-01-01&to=0001-01-02", 400, "from") // before 1970
		add(p+"?to=0001-01-10", 400, "to")
		add(p+"?to=9999-12-31", 400, "to") // the end, the day after, is past year 9999
		add(p+"?from=9999-12-01&to=9999-12-30", 0, "")
		add(p+"?from=1970-01-01&to=1970-01-02", 0, "")
		add(p+"?from=1969-12-31&to=1970-01-02", 400, "from")
		add(p+"?from=2026-01-01T00:00:00%2B14:00&to=2026-01-02T00:00:00-12:00", 0, "")
		for _, v := range []string{"DAY", "year", "%00", "%FF", long, ""} {
			want, field := 400, "grouping"
			if v == "" {
				want, field = 0, ""
			}
			add(p+"?grouping="+v, want, field)
		}
		for _, v := range []string{"xml", "CSV", "%00", "%FF", long} {
			add(p+"?format="+v, 400, "format")
		}
		add(p+"?format=csv", 0, "")
		add(p+"?format=json", 0, "")
		for _, name := range []string{"owner", "template"} {
			for _, v := range []string{"team-a", "group:default/team-a", "%20", long, "%F0%9F%92%A9", "%00", "%FF", "a%00b"} {
				add(p+"?"+name+"="+v, 0, name)
			}
		}
	}
	return q
}

// TestHostileQueries sends bad and odd values in every query parameter of
// every route.
func TestHostileQueries(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		before := f.state(t)
		for _, q := range hostileQueries() {
			req := hostileRequest{method: "GET", target: q.target, header: bearer(testToken)}
			resp := f.serve(t, req)
			switch {
			case q.status == 0 && resp.status/100 == 2:
			case q.status == 0 && q.field != "" && resp.status == 400:
				// Text the store cannot hold may be refused, naming the parameter.
				checkError(t, "query", req, resp, q.field)
			case q.status == 0:
				t.Errorf("GET %.200q: %d, want a 2xx: %.400s", q.target, resp.status, resp.raw)
			default:
				if resp.status != q.status {
					t.Errorf("GET %.200q: %d, want %d: %.400s", q.target, resp.status, q.status, resp.raw)
				}
				checkError(t, "query", req, resp, q.field)
			}
		}
		unchanged(t, "queries", before, f.state(t), 0)
	})
}

// TestHostilePathParams: action ids and resource ids, escaped, overlong,
// unknown.
func TestHostilePathParams(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		before := f.state(t)
		long := strings.Repeat("a", 16<<10)
		ids := map[string]int{ // action id as sent → status
			"paved:nope": 404, "paved%3Anope": 404, "nope": 404, "list-infra-kinds": 404, "paved%3A": 404,
			"%00": 404, "paved%3Alist-infra-kinds%00": 404, "%FF%FE": 404, "%E2%9C%93": 404, "paved:" + long: 404,
			"..": 404, "%2E%2E": 404, "paved:list-infra-kinds%2F..%2F": 404, "%2F": 404, "%20paved:list-infra-kinds": 404,
			"PAVED:LIST-INFRA-KINDS": 404, "%ZZ": 400, "paved%3": 400, "%": 400,
		}
		for _, base := range []string{hostileV1, hostileV2} {
			for id, status := range ids {
				req := hostileRequest{method: "POST", target: base + id + "/invoke", header: bearer(testToken), body: `{}`}
				resp := f.serve(t, req)
				checkError(t, "action id", req, resp, "")
				if resp.status != status {
					t.Errorf("POST %.200q: %d, want %d: %.300s", req.target, resp.status, status, resp.raw)
				}
				if len(resp.raw) > len(req.target)+2<<10 { // the path itself is in request.url
					t.Errorf("POST %.200q: a %d-byte error echoes the id", req.target, len(resp.raw))
				}
			}
			for _, target := range []string{base + "/invoke", base + "paved:list-infra-kinds", base + "paved:list-infra-kinds/invoke/x"} {
				req := hostileRequest{method: "POST", target: target, header: bearer(testToken), body: `{}`}
				checkError(t, "action route", req, f.serve(t, req), "")
			}
		}
		resources := map[string]int{
			"not-a-uuid": 400, strings.ToUpper(hostileResourceID): 400, hostileResourceID + "0": 400, "%00": 400, "%FF": 400,
			"..": 400, "%2E%2E": 400, long: 400, "%ZZ": 400, hostileResourceID + "%00": 400, " " + hostileResourceID: 400,
			hostileResourceID: 404,
		}
		for id, status := range resources {
			req := hostileRequest{method: "GET", target: "/api/paved/infra/" + id + "/connection", header: bearer(f.readerTk)}
			resp := f.serve(t, req)
			field := ""
			if status == 400 {
				field = "id"
			}
			checkError(t, "resource id", req, resp, field)
			if resp.status != status {
				t.Errorf("GET %.200q: %d, want %d: %.300s", req.target, resp.status, status, resp.raw)
			}
		}
		unchanged(t, "path parameters", before, f.state(t), 0)
	})
}

// TestHostileHeaders: Content-Type, Accept, If-None-Match and
// Content-Length as a client may send them.
func TestHostileHeaders(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		const kinds = hostileV1 + "paved:list-infra-kinds/invoke"
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ";;;", "application/json; charset=latin1", strings.Repeat("x", 8<<10)} {
			req := hostileRequest{method: "POST", target: kinds, header: bearer(testToken), body: `{"kind":"s3-bucket"}`}
			req.header.Set("Content-Type", ct)
			if resp := f.serve(t, req); resp.status != 200 {
				t.Errorf("Content-Type %.40q: %d %.300s", ct, resp.status, resp.raw)
			}
			req.body = `kind=s3-bucket`
			checkError(t, "form body as "+ct, req, f.serve(t, req), "input")
		}
		for _, accept := range []string{"text/html", "application/xml", "*/*", "garbage;q=x", "application/yaml"} {
			for _, r := range hostileRoutes {
				if !r.auth {
					continue
				}
				req := hostileRequest{method: r.method, target: r.target, header: http.Header{"Accept": {accept}}}
				resp := f.serve(t, req)
				checkError(t, "Accept "+accept, req, resp, "")
			}
		}
		for name, value := range map[string]string{
			"traceparent": "00-zzzz-zzzz-01", "tracestate": strings.Repeat("a=b,", 4<<10), "baggage": strings.Repeat("k=%ZZ;", 4<<10),
			"X-Forwarded-For": "\x00, ::1, garbage", "X-Request-Id": strings.Repeat("\xff", 1024),
		} {
			for _, r := range hostileRoutes {
				req := hostileRequest{method: r.method, target: r.target, header: bearer(testToken), body: `{}`}
				req.header.Set(name, value)
				if userRoute(r.route) {
					req.header = bearer(f.readerTk)
					req.header.Set(name, value)
				}
				resp := f.serve(t, req)
				if resp.status >= 500 || (resp.status >= 400 && !userRoute(r.route) && !hostileNoValidCall[r.route]) {
					t.Errorf("%s %s with %s: %d %.300s", r.method, r.target, name, resp.status, resp.raw)
				}
			}
		}
		for _, target := range []string{"/api/paved/catalog/entities", "/api/paved/catalog/entities.yaml"} {
			ok := f.serve(t, hostileRequest{method: "GET", target: target, header: bearer(testToken)})
			etag := ok.header.Get("ETag")
			if ok.status != 200 || etag == "" {
				t.Fatalf("GET %s: %d, ETag %q", target, ok.status, etag)
			}
			for inm, status := range map[string]int{
				"*": 304, etag: 304, "W/" + etag: 304, `"x", ` + etag: 304, `"x"`: 200, "garbage": 200, ",,,": 200, "": 200,
				strings.Repeat(`"x",`, 4<<10): 200, "\x00": 200, "\xff": 200, strings.Trim(etag, `"`): 200,
			} {
				req := hostileRequest{method: "GET", target: target, header: bearer(testToken)}
				req.header.Set("If-None-Match", inm)
				if resp := f.serve(t, req); resp.status != status {
					t.Errorf("GET %s If-None-Match %.40q: %d, want %d", target, inm, resp.status, status)
				}
			}
		}
		// A body larger than the limit, with and without a Content-Length.
		big := `{"kind":"` + strings.Repeat("a", hostileMaxBody) + `"}`
		before := f.state(t)
		for _, base := range []string{hostileV1, hostileV2} {
			req := hostileRequest{method: "POST", target: base + "paved:list-infra-kinds/invoke", header: bearer(testToken), body: big}
			resp := f.serve(t, req)
			checkError(t, "body over the limit", req, resp, "")
			if resp.status != 413 {
				t.Errorf("body over the limit: %d", resp.status)
			}
			resp = f.serveChunked(t, req)
			checkError(t, "chunked body over the limit", req, resp, "")
			if resp.status != 413 {
				t.Errorf("chunked body over the limit: %d", resp.status)
			}
		}
		unchanged(t, "bodies over the limit", before, f.state(t), 0)
	})
}

// serveChunked sends r with no Content-Length, as a chunked body arrives.
func (f *hostileFixture) serveChunked(t testing.TB, r hostileRequest) hostileResponse {
	t.Helper()
	req := httptest.NewRequest(r.method, r.target, io.NopCloser(strings.NewReader(r.body)))
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	for k, v := range r.header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return hostileResponse{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
}
