package argocd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/permission"
)

const (
	testUser     = "admin"
	testPassword = "s3cret-password"
	testRepo     = "https://git.example/platform/apps.git"
)

func startFake(t testing.TB, opts argocdtest.Options) *argocdtest.Server {
	t.Helper()
	if opts.Username == "" {
		opts.Username, opts.Password = testUser, testPassword
	}
	srv, err := argocdtest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t testing.TB, srv *argocdtest.Server, edit func(*InstanceConfig), opts ...Option) *Client {
	t.Helper()
	cfg := InstanceConfig{
		Name:           "default",
		Server:         srv.Addr(),
		UIURL:          "https://argocd.example",
		Username:       testUser,
		Password:       testPassword,
		PlainText:      true,
		Timeout:        10 * time.Second,
		DefaultProject: "default",
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New([]InstanceConfig{cfg}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func appRequest(name string) paved.AppRequest {
	return paved.AppRequest{
		AppRef:      paved.AppRef{Instance: "default", Name: name},
		Sources:     []paved.AppSource{{RepoURL: testRepo, Path: "apps/" + name, TargetRevision: "main"}},
		Destination: paved.AppDestination{Server: paved.InClusterServer, Namespace: name},
		Labels:      map[string]string{paved.LabelEntity: "component-default-" + name},
	}
}

func wantError(t *testing.T, err error, code paved.Code, msg string) {
	t.Helper()
	if paved.ErrorCode(err) != code || !strings.Contains(paved.ErrorMessage(err), msg) {
		t.Fatalf("got %v (%q), want %s containing %q", paved.ErrorCode(err), paved.ErrorMessage(err), code, msg)
	}
}

func TestCreateApp(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()

	first, err := c.CreateApp(ctx, appRequest("shop"))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || first.URL != "https://argocd.example/applications/shop" || first.Project != "default" ||
		first.SyncStatus != "" /* argocd-server answers a create before the controller reconciles */ || first.RepoURL != testRepo || first.Destination.Namespace != "shop" || first.CreatedAt.IsZero() {
		t.Fatalf("first create: %+v", first)
	}

	again, err := c.CreateApp(ctx, appRequest("shop"))
	if err != nil {
		t.Fatalf("re-running the same request must succeed: %v", err)
	}
	if again.Created {
		t.Fatal("the second create reported created")
	}
	again.Created = true
	// The stored app has the controller's status (and its times).
	again.SyncStatus, again.HealthStatus = first.SyncStatus, first.HealthStatus
	again.HealthSince, again.ReconciledAt = first.HealthSince, first.ReconciledAt
	if fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("same request, different output:\n%+v\n%+v", first, again)
	}

	changed := appRequest("shop")
	changed.Sources[0].Path = "apps/shop-v2"
	_, err = c.CreateApp(ctx, changed)
	wantError(t, err, paved.EConflict, "existing application spec is different, use upsert flag to force update")

	changed.Upsert = true
	up, err := c.CreateApp(ctx, changed)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := srv.App("", "shop")
	if up.Created || stored.Spec.Source.Path != "apps/shop-v2" {
		t.Fatalf("upsert: created=%t, stored path %q", up.Created, stored.Spec.Source.Path)
	}
	if len(stored.Finalizers) != 1 || stored.Finalizers[0] != "resources-finalizer.argocd.argoproj.io" {
		t.Fatalf("finalizers = %v", stored.Finalizers)
	}
}

func TestCreateAppErrorsKeepArgoCDMessages(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()

	req := appRequest("billing")
	req.Project = "nope"
	_, err := c.CreateApp(ctx, req)
	wantError(t, err, paved.EInvalid, `app is not allowed in project "nope", or the project does not exist`)

	srv.SetMissing(testRepo, "apps/ghost")
	_, err = c.CreateApp(ctx, appRequest("ghost"))
	wantError(t, err, paved.EInvalid, "application spec for ghost is invalid: InvalidSpecError: Unable to generate manifests in apps/ghost: rpc error: code = Unknown desc = apps/ghost: app path does not exist")

	bad := appRequest("billing")
	bad.Destination = paved.AppDestination{Name: "mars", Namespace: "billing"}
	_, err = c.CreateApp(ctx, bad)
	wantError(t, err, paved.EInvalid, "application references destination cluster mars which does not exist")

	_, err = c.CreateApp(ctx, paved.AppRequest{AppRef: paved.AppRef{Instance: "elsewhere", Name: "x"}})
	wantError(t, err, paved.EInvalid, `unknown Argo CD instance "elsewhere"`)
}

func TestCreateProject(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()

	req := appRequest("web")
	req.Project = "team-a"
	req.CreateProject = true
	req.CreateNamespace = true
	if _, err := c.CreateApp(ctx, req); err != nil {
		t.Fatal(err)
	}
	p, ok := srv.Project("team-a")
	if !ok {
		t.Fatal("project team-a was not created")
	}
	if p.Labels[paved.LabelManagedBy] != paved.ManagedByPaved || fmt.Sprint(p.Spec.SourceRepos) != "["+testRepo+"]" ||
		len(p.Spec.Destinations) != 1 || p.Spec.Destinations[0].Namespace != "web" || len(p.Spec.ClusterResourceWhitelist) != 1 {
		t.Fatalf("project: labels %v spec %+v", p.Labels, p.Spec)
	}

	if p.Labels[paved.LabelEntity] != "component-default-web" {
		t.Fatalf("project labels %v: no entity", p.Labels)
	}

	// Another entity's app never widens the project paved made for web
	// (before, any caller opened it to their repository and namespace).
	api := appRequest("api")
	api.Project, api.CreateProject = "team-a", true
	api.Sources[0].RepoURL = "https://git.example/team-a/api.git"
	_, err := c.CreateApp(ctx, api)
	wantError(t, err, paved.EConflict, "paved created project team-a for component-default-web")
	wantError(t, err, paved.EConflict, "destination https://kubernetes.default.svc namespace api")
	if _, ok := srv.App("", "api"); ok {
		t.Fatal("the refused app was created")
	}

	// Another app of web (a second environment) widens it, for a caller
	// holding paved.argocd.project.widen (an operator here)...
	staging := appRequest("web-staging")
	staging.Project, staging.CreateProject = "team-a", true
	staging.Labels = map[string]string{paved.LabelEntity: "component-default-web"}
	user := paved.WithPrincipal(ctx, paved.Principal{Kind: paved.PrincipalUser, Subject: "user:default/jane", User: "user:default/jane"})
	policy, err := permission.NewPolicy(nil, permission.Readers{})
	if err != nil {
		t.Fatal(err)
	}
	user = paved.WithAuthorizer(user, permission.New(permission.Options{Decider: policy}))
	// ...and not for a user without it (paved's default policy).
	_, err = c.CreateApp(user, staging)
	wantError(t, err, paved.EForbidden, "user:default/jane may not paved.argocd.project.widen")
	p, _ = srv.Project("team-a")
	if len(p.Spec.Destinations) != 1 {
		t.Fatalf("a refused widening changed the project: %+v", p.Spec)
	}
	if _, err := c.CreateApp(ctx, staging); err != nil {
		t.Fatal(err)
	}
	p, _ = srv.Project("team-a")
	if len(p.Spec.SourceRepos) != 1 || len(p.Spec.Destinations) != 2 {
		t.Fatalf("project was not widened: %+v", p.Spec)
	}
	// The same app again adds nothing: no widening to decide.
	if _, err := c.CreateApp(user, staging); err != nil {
		t.Fatalf("re-running the app's create: %v", err)
	}
}

func TestGetAndListApps(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()

	_, err := c.GetApp(ctx, paved.AppRef{Instance: "default", Name: "nope"}, false)
	wantError(t, err, paved.ENotFound, `applications.argoproj.io "nope" not found`)

	for _, n := range []string{"a1", "a2"} {
		if _, err := c.CreateApp(ctx, appRequest(n)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.GetApp(ctx, paved.AppRef{Instance: "default", Name: "a2"}, true)
	if err != nil || got.Name != "a2" || got.Labels[paved.LabelEntity] != "component-default-a2" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	list, err := c.ListApps(ctx, "default", paved.LabelEntity+"=component-default-a1", nil)
	if err != nil || len(list) != 1 || list[0].Name != "a1" {
		t.Fatalf("list by selector: %+v, %v", list, err)
	}
	list, err = c.ListApps(ctx, "default", paved.LabelManagedBy+"="+paved.ManagedByPaved, []string{"other"})
	if err != nil || len(list) != 0 {
		t.Fatalf("list by project: %+v, %v", list, err)
	}
	_, err = c.ListApps(ctx, "default", "a in (", nil)
	wantError(t, err, paved.EUnavailable, "error parsing the selector")
}

func TestSyncApp(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, appRequest("shop")); err != nil {
		t.Fatal(err)
	}
	rev := strings.Repeat("ab", 20)
	app, err := c.SyncApp(ctx, paved.SyncRequest{AppRef: paved.AppRef{Instance: "default", Name: "shop"}, Revision: rev, Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if !app.Healthy() || app.OperationPhase != "Succeeded" || app.Revision != rev ||
		len(app.History) != 1 || app.History[0].Revision != rev || app.History[0].DeployedAt.IsZero() {
		t.Fatalf("after sync: %+v", app)
	}

	_, err = c.SyncApp(ctx, paved.SyncRequest{AppRef: paved.AppRef{Instance: "default", Name: "ghost"}})
	wantError(t, err, paved.ENotFound, `applications.argoproj.io "ghost" not found`)
}

func TestAutomatedAppSyncsItself(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	req := appRequest("auto")
	req.Automated = &paved.AutoSync{Prune: true, SelfHeal: true}
	if _, err := c.CreateApp(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	app, err := c.GetApp(context.Background(), paved.AppRef{Instance: "default", Name: "auto"}, false)
	if err != nil || !app.Healthy() || len(app.History) != 1 {
		t.Fatalf("automated app: %+v, %v", app, err)
	}
}

func TestDeleteApp(t *testing.T) {
	// A delay makes the cascading delete linger, as the controller's does.
	srv := startFake(t, argocdtest.Options{SyncDelay: 50 * time.Millisecond})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	create := func(name, project string) {
		t.Helper()
		req := appRequest(name)
		req.Project, req.CreateProject = project, true
		req.Labels = map[string]string{paved.LabelEntity: "component-default-" + project} // two apps of one entity share its project
		if _, err := c.CreateApp(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	del := func(name, project string) {
		t.Helper()
		err := c.DeleteApp(ctx, paved.DeleteRequest{
			AppRef:  paved.AppRef{Instance: "default", Name: name, Project: project},
			Cascade: true, PropagationPolicy: "foreground", DeleteProject: true,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	create("one", "team-b")
	create("two", "team-b")
	del("one", "team-b")
	if _, ok := srv.Project("team-b"); !ok {
		t.Fatal("project deleted while app two still uses it")
	}
	del("two", "team-b")
	if _, ok := srv.Project("team-b"); ok {
		t.Fatal("project paved created outlived its last app")
	}
	if _, ok := srv.App("", "two"); ok {
		t.Fatal("app two still exists")
	}

	err := c.DeleteApp(ctx, paved.DeleteRequest{AppRef: paved.AppRef{Instance: "default", Name: "two"}, Cascade: true})
	wantError(t, err, paved.ENotFound, `applications.argoproj.io "two" not found`)
	err = c.DeleteApp(ctx, paved.DeleteRequest{AppRef: paved.AppRef{Instance: "default", Name: "x"}, Cascade: false, PropagationPolicy: "background"})
	if paved.ErrorCode(err) == "" {
		t.Fatal("deleting a missing app succeeded")
	}
}

func TestOneLoginForManyCalls(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, appRequest("shop")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetApp(ctx, paved.AppRef{Instance: "default", Name: "shop"}, false)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Calls(argocdtest.MethodLogin); n != 1 {
		t.Fatalf("%d logins for 22 calls, want 1", n)
	}
	if n := srv.Calls(argocdtest.MethodAppGet); n != 21 {
		t.Fatalf("%d gets, want 21", n)
	}
}

func TestRevokedSessionLogsInAgainOnce(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, appRequest("shop")); err != nil {
		t.Fatal(err)
	}
	srv.RevokeTokens()
	if _, err := c.GetApp(ctx, paved.AppRef{Instance: "default", Name: "shop"}, false); err != nil {
		t.Fatalf("call after revocation: %v", err)
	}
	if n := srv.Calls(argocdtest.MethodLogin); n != 2 {
		t.Fatalf("%d logins, want 2", n)
	}
}

func TestSessionRenewedBeforeExpiry(t *testing.T) {
	srv := startFake(t, argocdtest.Options{SessionTTL: time.Hour})
	c := newClient(t, srv, nil)
	now := time.Now()
	c.instances["default"].now = func() time.Time { return now }
	ctx := context.Background()
	ref := paved.AppRef{Instance: "default", Name: "nope"}

	_, _ = c.GetApp(ctx, ref, false)
	now = now.Add(30 * time.Minute)
	_, _ = c.GetApp(ctx, ref, false)
	if n := srv.Calls(argocdtest.MethodLogin); n != 1 {
		t.Fatalf("%d logins within the token's life, want 1", n)
	}
	now = now.Add(28 * time.Minute) // 2 minutes before expiry
	_, _ = c.GetApp(ctx, ref, false)
	if n := srv.Calls(argocdtest.MethodLogin); n != 2 {
		t.Fatalf("%d logins near expiry, want 2", n)
	}
}

func TestCredentialsRefused(t *testing.T) {
	srv := startFake(t, argocdtest.Options{APITokens: []string{"good-api-token"}})
	ctx := context.Background()
	ref := paved.AppRef{Instance: "default", Name: "x"}

	wrong := newClient(t, srv, func(c *InstanceConfig) { c.Password = "wrong-password" })
	_, err := wrong.GetApp(ctx, ref, false)
	wantError(t, err, paved.EUnavailable, "Invalid username or password")
	if strings.Contains(err.Error(), "wrong-password") {
		t.Fatal("the error shows the password")
	}

	static := newClient(t, srv, func(c *InstanceConfig) { c.Username, c.Password, c.Token = "", "", "good-api-token" })
	_, err = static.GetApp(ctx, ref, false)
	wantError(t, err, paved.ENotFound, "not found")

	bad := newClient(t, srv, func(c *InstanceConfig) { c.Username, c.Password, c.Token = "", "", "bad-api-token" })
	_, err = bad.GetApp(ctx, ref, false)
	wantError(t, err, paved.EUnavailable, "refused paved's credentials: invalid session")
	if strings.Contains(err.Error(), "bad-api-token") {
		t.Fatal("the error shows the token")
	}
	if n := srv.Calls(argocdtest.MethodLogin); n != 1 {
		t.Fatalf("%d logins, want only the wrong-password one", n)
	}
}

func TestUnavailable(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	ref := paved.AppRef{Instance: "default", Name: "x"}
	if err := c.Ping(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	_, _ = c.GetApp(ctx, ref, false) // log in first

	// apiclient configures a retrying interceptor but a later
	// WithUnaryInterceptor replaces it: paved retries an Unavailable call
	// once, on a new connection.
	srv.FailUnavailable(1)
	_, err := c.GetApp(ctx, ref, false)
	wantError(t, err, paved.ENotFound, "not found")
	srv.FailUnavailable(1000)
	_, err = c.GetApp(ctx, ref, false)
	wantError(t, err, paved.EUnavailable, `Argo CD instance "default" is unavailable: argocd-server is restarting`)
	srv.FailUnavailable(0)
	_, err = c.GetApp(ctx, ref, false)
	wantError(t, err, paved.ENotFound, "not found")

	srv.Close()
	down := newClient(t, srv, func(c *InstanceConfig) { c.Timeout = 2 * time.Second })
	err = down.Ping(ctx, "default")
	if paved.ErrorCode(err) != paved.EUnavailable {
		t.Fatalf("ping of a stopped server: %v", err)
	}
}

func TestSpansPerCall(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil, WithTracerProvider(tp))
	if _, err := c.CreateApp(context.Background(), appRequest("shop")); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.Emit()
			if strings.Contains(a.Value.Emit(), testPassword) {
				t.Fatalf("span %s carries the password", s.Name())
			}
		}
		if attrs["argocd.instance"] != "default" || attrs["rpc.method"] == "" {
			t.Fatalf("span %s attributes %v", s.Name(), attrs)
		}
	}
	want := "[argocd session.SessionService/Create argocd application.ApplicationService/Get argocd application.ApplicationService/Create]"
	if fmt.Sprint(names) != want {
		t.Fatalf("spans %v, want %s", names, want)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := New([]InstanceConfig{{Name: "a", DefaultProject: "default", Timeout: time.Second},
		{Name: "a", Server: "x", Token: "t"}})
	var pe *paved.Error
	// a: no server, no credentials; the second: the name again, no default project, no timeout.
	if !errors.As(err, &pe) || len(pe.Fields) != 5 {
		t.Fatalf("got %v", err)
	}
}

func TestServerAddressForms(t *testing.T) {
	for in, want := range map[string]string{
		"argocd.example:443":           "argocd.example:443",
		"https://argocd.example":       "argocd.example:443",
		"https://argocd.example:8443/": "argocd.example:8443",
		"http://127.0.0.1:8080":        "127.0.0.1:8080",
		"argocd-server.argocd.svc:80":  "argocd-server.argocd.svc:80",
	} {
		if got := (InstanceConfig{Server: in}).addr(); got != want {
			t.Errorf("addr(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkCreateApp measures paved's Argo CD round trip against the
// in-process server: a lookup and a create over real gRPC, session reused.
func BenchmarkCreateApp(b *testing.B) {
	srv := startFake(b, argocdtest.Options{})
	c := newClient(b, srv, nil)
	ctx := context.Background()
	b.Run("new", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := c.CreateApp(ctx, appRequest(fmt.Sprintf("bench-%d", i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rerun", func(b *testing.B) {
		req := appRequest("bench-rerun")
		for b.Loop() {
			if _, err := c.CreateApp(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestAppsInAnyNamespace(t *testing.T) {
	srv := startFake(t, argocdtest.Options{AppNamespaces: []string{"team-apps"}})
	c := newClient(t, srv, func(c *InstanceConfig) { c.AppNamespace = "team-apps"; c.DefaultProject = "team" })
	ctx := context.Background()

	_, err := c.CreateApp(ctx, appRequest("shop"))
	wantError(t, err, paved.EInvalid, `app is not allowed in project "team", or the project does not exist`)

	req := appRequest("shop")
	req.CreateProject = true
	app, err := c.CreateApp(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if app.Namespace != "team-apps" || app.URL != "https://argocd.example/applications/team-apps/shop" || app.Project != "team" {
		t.Fatalf("app %+v", app)
	}
	if _, ok := srv.App("team-apps", "shop"); !ok {
		t.Fatal("the Application is not in team-apps")
	}
	got, err := c.GetApp(ctx, paved.AppRef{Instance: "default", Name: "shop"}, false)
	if err != nil || got.URL != app.URL {
		t.Fatalf("get: %+v, %v", got, err)
	}
}

// TestFirstCallAfterOutage: argocd-server goes away long enough for gRPC's
// reconnect back-off to grow past the outage, then comes back: the first
// call after it answers again succeeds (it failed with Unavailable for up to
// the back-off, ~14 s after a 30 s outage), for a session call, a login and
// the readiness ping. Calls during the outage fail at once with Unavailable.
func TestFirstCallAfterOutage(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, appRequest("shop")); err != nil {
		t.Fatal(err)
	}
	ref := paved.AppRef{Instance: "default", Name: "shop"}
	fresh := newClient(t, srv, nil) // logs in only after the outage
	if err := fresh.Ping(ctx, "default"); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	// Long enough for the back-off to reach several seconds (1 s, 1.6 s,
	// 2.6 s, 4.1 s… with jitter); calls meanwhile fail fast.
	for end := time.Now().Add(12 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		if _, err := c.GetApp(ctx, ref, false); paved.ErrorCode(err) != paved.EUnavailable {
			t.Fatalf("GetApp during the outage: %v, want unavailable", err)
		}
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetApp(ctx, ref, false); err != nil {
		t.Fatalf("first call after Argo CD is back: %v", err)
	}
	if _, err := fresh.GetApp(ctx, ref, false); err != nil {
		t.Fatalf("first call (with a login) after Argo CD is back: %v", err)
	}
	if err := fresh.Ping(ctx, "default"); err != nil {
		t.Fatalf("first ping after Argo CD is back: %v", err)
	}
}

// TestFailedCreateRemovesTheProjectItCreated: when the app create fails after
// paved created its project, the project goes too; a project that existed
// before the call stays.
func TestFailedCreateRemovesTheProjectItCreated(t *testing.T) {
	srv := startFake(t, argocdtest.Options{})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	srv.SetMissing(testRepo, "apps/broken")
	req := appRequest("broken")
	req.Project, req.CreateProject = "team-broken", true
	if _, err := c.CreateApp(ctx, req); err == nil {
		t.Fatal("create of an app whose path is missing succeeded")
	}
	if _, ok := srv.Project("team-broken"); ok {
		t.Fatal("the project paved created for the failed app is left behind")
	}

	// A project made by an earlier call is not this call's to remove.
	ok := appRequest("fine")
	ok.Project, ok.CreateProject = "team-shared", true
	if _, err := c.CreateApp(ctx, ok); err != nil {
		t.Fatal(err)
	}
	req.Project = "team-shared"
	if _, err := c.CreateApp(ctx, req); err == nil {
		t.Fatal("create of an app whose path is missing succeeded")
	}
	if _, found := srv.Project("team-shared"); !found {
		t.Fatal("a failed create removed a project it did not create")
	}
}
