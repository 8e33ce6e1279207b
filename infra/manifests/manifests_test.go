package manifests_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/gitops/gitopstest"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/infra/manifests"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

type env struct {
	url, dir string
	store    *sqlstore.DB
	svc      *infra.Service
	clock    *clock
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

func loadKinds(t testing.TB, d infra.Driver, files ...string) []infra.Kind {
	t.Helper()
	var kinds []infra.Kind
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "infra-kinds", f))
		if err != nil {
			t.Fatal(err)
		}
		k, err := infra.ParseKind(raw, map[string]infra.Driver{"manifests": d})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		kinds = append(kinds, k)
	}
	return kinds
}

func newEnv(t testing.TB, url, dir string, store *sqlstore.DB) *env {
	t.Helper()
	repo, err := gitops.Open(gitops.Config{URL: url, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	d := manifests.New(manifests.Options{Render: argocd.Manifests{}, Repo: repo, RepoURL: "https://git.example.test/platform/deploy.git", Branch: "main"})
	if store == nil {
		store, err = sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paved.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
	}
	key := make([]byte, infra.KeySize)
	_, _ = rand.Read(key)
	sealer, err := infra.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	svc, err := infra.NewService(infra.Options{
		Kinds:   loadKinds(t, d, "postgresql-crossplane.yaml", "s3-bucket-terraform.yaml"),
		Drivers: map[string]infra.Driver{"manifests": d},
		Store:   store, Sealer: sealer, Now: c.Now, MaxTTL: 30 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{url: url, dir: dir, store: store, svc: svc, clock: c}
}

func asUser(ctx context.Context, user string) context.Context {
	return paved.WithPrincipal(ctx, paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: user})
}

func TestProvisionCrossplaneClaim(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	e := newEnv(t, url, dir, nil)
	ctx := asUser(t.Context(), "user:default/jane")
	req := infra.Request{Kind: "postgresql-crossplane", Name: "orders", Owner: "user:default/jane",
		Parameters: map[string]any{"size": "medium", "region": "eu-west-1"}, EntityRef: "component:default/orders"}
	r, created, err := e.svc.Provision(ctx, req)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if !created || r.Status != infra.StatusReady || r.Branch != "main" {
		t.Errorf("Provision = %+v, created %v", r, created)
	}
	if head := gitopstest.Git(t, dir, "rev-parse", "main"); r.Commit != head {
		t.Errorf("resource commit %s, main is at %s", r.Commit, head)
	}
	files := gitopstest.Files(t, dir, "main")
	want := []string{"apps/infra-postgresql-crossplane-orders.yaml", "infra/postgresql-crossplane/orders/claim.yaml"}
	if !slices.Equal(files, want) {
		t.Errorf("files = %v, want %v", files, want)
	}

	var claim struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name   string            `yaml:"name"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			Parameters struct {
				StorageGB int    `yaml:"storageGB"`
				Version   string `yaml:"version"`
				Region    string `yaml:"region"`
			} `yaml:"parameters"`
			WriteConnectionSecretToRef struct {
				Name string `yaml:"name"`
			} `yaml:"writeConnectionSecretToRef"`
		} `yaml:"spec"`
	}
	mustYAML(t, gitopstest.Git(t, dir, "show", "main:"+want[1]), &claim)
	if claim.APIVersion != "database.example.org/v1alpha1" || claim.Kind != "PostgreSQLInstance" || claim.Metadata.Name != "orders" ||
		claim.Spec.Parameters.StorageGB != 50 || claim.Spec.Parameters.Version != "16" || claim.Spec.Parameters.Region != "eu-west-1" ||
		claim.Spec.WriteConnectionSecretToRef.Name != "orders-connection" || claim.Metadata.Labels["paved.dev/infra-id"] != r.ID {
		t.Errorf("claim = %+v", claim)
	}

	var app struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name       string   `yaml:"name"`
			Namespace  string   `yaml:"namespace"`
			Finalizers []string `yaml:"finalizers"`
		} `yaml:"metadata"`
		Spec struct {
			Project string `yaml:"project"`
			Source  struct {
				RepoURL        string `yaml:"repoURL"`
				TargetRevision string `yaml:"targetRevision"`
				Path           string `yaml:"path"`
			} `yaml:"source"`
			Destination struct{ Server, Namespace string } `yaml:"destination"`
			SyncPolicy  struct {
				Automated struct {
					Prune    bool `yaml:"prune"`
					SelfHeal bool `yaml:"selfHeal"`
				} `yaml:"automated"`
				SyncOptions []string `yaml:"syncOptions"`
			} `yaml:"syncPolicy"`
		} `yaml:"spec"`
		Status any `yaml:"status"`
	}
	mustYAML(t, gitopstest.Git(t, dir, "show", "main:"+want[0]), &app)
	if app.APIVersion != "argoproj.io/v1alpha1" || app.Kind != "Application" || app.Metadata.Name != "infra-postgresql-crossplane-orders" ||
		app.Metadata.Namespace != "argocd" || app.Spec.Project != "default" || app.Status != nil ||
		app.Spec.Source.RepoURL != "https://git.example.test/platform/deploy.git" || app.Spec.Source.Path != "infra/postgresql-crossplane/orders" ||
		app.Spec.Source.TargetRevision != "main" || app.Spec.Destination.Namespace != "orders" || app.Spec.Destination.Server != "https://kubernetes.default.svc" ||
		!app.Spec.SyncPolicy.Automated.Prune || !app.Spec.SyncPolicy.Automated.SelfHeal || !slices.Contains(app.Spec.SyncPolicy.SyncOptions, "CreateNamespace=true") || len(app.Metadata.Finalizers) != 1 {
		t.Errorf("application = %+v", app)
	}

	// The same request again: the same resource, no new commit.
	again, created, err := e.svc.Provision(ctx, req)
	if err != nil || created || again.ID != r.ID {
		t.Errorf("Provision again = %s, created %v, %v; want %s, not created", again.ID, created, err, r.ID)
	}
	if n := gitopstest.Commits(t, dir, "main"); n != 1 {
		t.Errorf("main has %d commits after the repeat, want 1", n)
	}
	// Other parameters under the same name conflict.
	other := req
	other.Parameters = map[string]any{"size": "large", "region": "eu-west-1"}
	if _, _, err := e.svc.Provision(ctx, other); paved.ErrorCode(err) != paved.EConflict {
		t.Errorf("Provision with other parameters: %v, want conflict", err)
	}

	// Only the owner deprovisions.
	if _, err := e.svc.Deprovision(asUser(t.Context(), "user:default/mallory"), r.ID); paved.ErrorCode(err) != paved.EForbidden {
		t.Errorf("Deprovision by another user: %v, want forbidden", err)
	}
	if _, err := e.svc.Deprovision(paved.WithPrincipal(t.Context(), paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder"}), r.ID); paved.ErrorCode(err) != paved.EForbidden {
		t.Errorf("Deprovision with no user: %v, want forbidden", err)
	}
	if _, err := e.svc.Deprovision(ctx, r.ID); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if files := gitopstest.Files(t, dir, "main"); len(files) != 0 {
		t.Errorf("files after deprovision = %v, want none", files)
	}
	if _, err := e.store.GetInfraResource(t.Context(), r.ID); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("record after deprovision: %v, want not found", err)
	}
	log, err := e.store.InfraProvisionings(t.Context(), r.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, p := range log {
		ops = append(ops, p.Operation+"/"+p.Status+"/"+p.Actor)
	}
	wantOps := []string{"deprovision/succeeded/user:default/jane", "provision/succeeded/user:default/jane"}
	slices.Sort(ops) // the test clock stands still: both have the same time
	if !slices.Equal(ops, wantOps) {
		t.Errorf("provisioning log = %v, want %v", ops, wantOps)
	}
}

func mustYAML(t *testing.T, s string, v any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v in\n%s", err, s)
	}
}

func TestTerraformResource(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	e := newEnv(t, url, dir, nil)
	r, _, err := e.svc.Provision(asUser(t.Context(), "user:default/jane"), infra.Request{Kind: "s3-bucket", Name: "assets", Parameters: map[string]any{"region": "us-east-1"}})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if r.Owner != "user:default/jane" {
		t.Errorf("owner = %q, want the calling user by default", r.Owner)
	}
	var tf struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       struct {
			Path      string
			SourceRef struct{ Kind, Name string } `yaml:"sourceRef"`
			Vars      []struct {
				Name  string
				Value any
			}
			WriteOutputsToSecret struct{ Name string } `yaml:"writeOutputsToSecret"`
		}
	}
	mustYAML(t, gitopstest.Git(t, dir, "show", "main:infra/s3-bucket/assets/terraform.yaml"), &tf)
	if tf.APIVersion != "infra.contrib.fluxcd.io/v1alpha2" || tf.Kind != "Terraform" || tf.Spec.SourceRef.Kind != "GitRepository" ||
		len(tf.Spec.Vars) != 3 || tf.Spec.Vars[1].Value != "us-east-1" || tf.Spec.Vars[2].Value != false || tf.Spec.WriteOutputsToSecret.Name != "assets-bucket-outputs" {
		t.Errorf("terraform resource = %+v", tf)
	}
}

// TestBadInputsLeaveNothingBehind sends what a template must never get
// through: every one is a 400 naming the field, and the repository and the
// store stay empty.
func TestBadInputsLeaveNothingBehind(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	e := newEnv(t, url, dir, nil)
	ctx := asUser(t.Context(), "user:default/jane")
	good := map[string]any{"size": "small", "region": "eu-west-1"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{"size": "small", "region": "eu-west-1"}
		m[k] = v
		return m
	}
	inj := "x'); DROP TABLE infra_resources; --"
	tests := []struct {
		name  string
		req   infra.Request
		field string
	}{
		{"unknown kind", infra.Request{Kind: "mainframe", Name: "a", Parameters: good}, "kind"},
		{"kind injection", infra.Request{Kind: inj, Name: "a", Parameters: good}, "kind"},
		{"name injection", infra.Request{Kind: "postgresql-crossplane", Name: inj, Parameters: good}, "name"},
		{"name with quote", infra.Request{Kind: "postgresql-crossplane", Name: `a"b`, Parameters: good}, "name"},
		{"name upper case", infra.Request{Kind: "postgresql-crossplane", Name: "Orders", Parameters: good}, "name"},
		{"name too long", infra.Request{Kind: "postgresql-crossplane", Name: strings.Repeat("a", 41), Parameters: good}, "name"},
		{"owner injection", infra.Request{Kind: "postgresql-crossplane", Name: "a", Owner: "group:default/x';--", Parameters: good}, "owner"},
		{"size outside the enum", infra.Request{Kind: "postgresql-crossplane", Name: "a", Parameters: with("size", "huge")}, "parameters.size"},
		{"size injection", infra.Request{Kind: "postgresql-crossplane", Name: "a", Parameters: with("size", inj)}, "parameters.size"},
		{"region injection", infra.Request{Kind: "postgresql-crossplane", Name: "a", Parameters: with("region", "eu-west-1\nkind: Secret")}, "parameters.region"},
		{"version injection", infra.Request{Kind: "postgresql-crossplane", Name: "a", Parameters: with("version", inj)}, "parameters.version"},
		{"unknown parameter", infra.Request{Kind: "postgresql-crossplane", Name: "a", Parameters: with("superuser", true)}, "parameters.superuser"},
		{"wrong type", infra.Request{Kind: "postgresql-crossplane", Name: "a", Parameters: with("size", 3)}, "parameters.size"},
		{"missing region", infra.Request{Kind: "postgresql-crossplane", Name: "a", Parameters: map[string]any{"size": "small"}}, "parameters.region"},
		{"ttl too long", infra.Request{Kind: "postgresql-crossplane", Name: "a", Parameters: good, TTL: 365 * 24 * time.Hour}, "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.Provision(ctx, tt.req)
			var pe *paved.Error
			if paved.ErrorCode(err) != paved.EInvalid || !asError(err, &pe) {
				t.Fatalf("Provision = %v, want invalid", err)
			}
			found := false
			for _, f := range pe.Fields {
				found = found || f.Field == tt.field
			}
			if !found {
				t.Errorf("error %v does not name %s", err, tt.field)
			}
		})
	}
	if n := gitopstest.Commits(t, dir, "main"); n != 0 {
		t.Errorf("the repository has %d commits after bad requests, want 0", n)
	}
	if all, err := e.store.ListInfraResources(t.Context()); err != nil || len(all) != 0 {
		t.Errorf("store holds %v, %v after bad requests; want nothing", all, err)
	}
}

func asError(err error, pe **paved.Error) bool {
	e, ok := err.(*paved.Error)
	*pe = e
	return ok
}

// TestFailedCommitLeavesNoRecord points the driver at a repository that does
// not exist: the provisioning fails, is logged as failed, and leaves no record.
func TestFailedCommitLeavesNoRecord(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	e := newEnv(t, strings.Replace(url, "deploy.git", "missing.git", 1), dir, nil)
	_, _, err := e.svc.Provision(asUser(t.Context(), "user:default/jane"), infra.Request{Kind: "s3-bucket", Name: "assets", Parameters: map[string]any{"region": "us-east-1"}})
	if paved.ErrorCode(err) != paved.EUnavailable {
		t.Fatalf("Provision into a missing repository = %v, want unavailable", err)
	}
	if all, _ := e.store.ListInfraResources(t.Context()); len(all) != 0 {
		t.Errorf("a failed provisioning left %v", all)
	}
	log, _ := e.store.InfraProvisionings(t.Context(), "", 0)
	if len(log) != 1 || log[0].Status != paved.StatusFailed || log[0].Actor != "user:default/jane" {
		t.Errorf("provisioning log = %+v, want one failed entry", log)
	}
}

// TestConcurrentProvisioningsBothLand runs two replicas (each its own view of
// the repository, one shared store) provisioning at the same time.
func TestConcurrentProvisioningsBothLand(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	a := newEnv(t, url, dir, nil)
	b := newEnv(t, url, dir, a.store)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, e := range []*env{a, b} {
		wg.Go(func() {
			_, _, errs[i] = e.svc.Provision(asUser(t.Context(), "user:default/jane"), infra.Request{
				Kind: "postgresql-crossplane", Name: fmt.Sprintf("db-%d", i), Parameters: map[string]any{"size": "small", "region": "eu-west-1"}})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("Provision: %v", err)
		}
	}
	files := gitopstest.Files(t, dir, "main")
	for _, f := range []string{"infra/postgresql-crossplane/db-0/claim.yaml", "infra/postgresql-crossplane/db-1/claim.yaml",
		"apps/infra-postgresql-crossplane-db-0.yaml", "apps/infra-postgresql-crossplane-db-1.yaml"} {
		if !slices.Contains(files, f) {
			t.Errorf("%s is missing from main: %v", f, files)
		}
	}
	if n := gitopstest.Commits(t, dir, "main"); n != 2 {
		t.Errorf("main has %d commits, want 2", n)
	}
}

func TestReapExpired(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	e := newEnv(t, url, dir, nil)
	ctx := asUser(t.Context(), "user:default/jane")
	short, _, err := e.svc.Provision(ctx, infra.Request{Kind: "s3-bucket", Name: "scratch", Parameters: map[string]any{"region": "us-east-1"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Provision(ctx, infra.Request{Kind: "s3-bucket", Name: "keep", Parameters: map[string]any{"region": "us-east-1"}}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Reap(t.Context()); err != nil || n != 0 {
		t.Errorf("Reap before expiry = %d, %v; want 0", n, err)
	}
	e.clock.Add(2 * time.Hour)
	if n, err := e.svc.Reap(t.Context()); err != nil || n != 1 {
		t.Fatalf("Reap after expiry = %d, %v; want 1", n, err)
	}
	if _, err := e.store.GetInfraResource(t.Context(), short.ID); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("the expired resource is still recorded: %v", err)
	}
	files := gitopstest.Files(t, dir, "main")
	if slices.Contains(files, "infra/s3-bucket/scratch/terraform.yaml") || !slices.Contains(files, "infra/s3-bucket/keep/terraform.yaml") {
		t.Errorf("files after reaping = %v", files)
	}
	log, _ := e.store.InfraProvisionings(t.Context(), short.ID, 0)
	if len(log) == 0 || log[0].Operation != infra.OpReap || log[0].Actor != "paved:reaper" {
		t.Errorf("log = %+v, want a reap entry first", log)
	}
}

// BenchmarkProvisionManifests measures provisionings per second of the
// manifests driver into a local bare repository (render, commit, push,
// record), one after the other.
func BenchmarkProvisionManifests(b *testing.B) {
	url, err := gitops.InitBare(filepath.Join(b.TempDir(), "deploy.git"))
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, url, "", nil)
	ctx := asUser(context.Background(), "user:default/jane")
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, _, err := e.svc.Provision(ctx, infra.Request{Kind: "postgresql-crossplane", Name: fmt.Sprintf("db-%d", i), Parameters: map[string]any{"size": "small", "region": "eu-west-1"}})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "provisionings/s")
}

// TestOneReplicaReaps runs the reaper on two replicas sharing a store: the
// lease lets one reap, so the expired resource is torn down exactly once.
func TestOneReplicaReaps(t *testing.T) {
	url, dir := gitopstest.Serve(t)
	a := newEnv(t, url, dir, nil)
	b := newEnv(t, url, dir, a.store)
	r, _, err := a.svc.Provision(asUser(t.Context(), "user:default/jane"), infra.Request{Kind: "s3-bucket", Name: "temp", Parameters: map[string]any{"region": "us-east-1"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Add(2 * time.Hour)
	b.clock.Add(2 * time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i, e := range []*env{a, b} {
		wg.Go(func() { e.svc.RunReaper(ctx, a.store, fmt.Sprintf("replica-%d", i), 20*time.Millisecond) })
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := a.store.GetInfraResource(t.Context(), r.ID); paved.ErrorCode(err) == paved.ENotFound {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			t.Fatal("the expired resource was not reaped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // give a second reaper the chance to misbehave
	cancel()
	wg.Wait()
	log, _ := a.store.InfraProvisionings(t.Context(), r.ID, 0)
	reaps := 0
	for _, p := range log {
		if p.Operation == infra.OpReap {
			reaps++
			if p.Status != paved.StatusSucceeded {
				t.Errorf("reap entry %+v failed", p)
			}
		}
	}
	if reaps != 1 {
		t.Errorf("%d reap entries, want exactly 1: %+v", reaps, log)
	}
}

// TestReviewMode puts a provisioning on a branch for review: main stays as
// it was, the output links the review, and deprovisioning an unmerged
// resource removes its branch.
func TestReviewMode(t *testing.T) {
	e := newReviewEnv(t)
	dir, repo, svc := e.dir, e.repo, e.svc
	ctx := asUser(t.Context(), "user:default/jane")
	r, _, err := svc.Provision(ctx, infra.Request{Kind: "s3-bucket", Name: "assets", Parameters: map[string]any{"region": "us-east-1"}})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if r.Branch != "paved/provision-assets-"+r.ID || !strings.HasSuffix(r.CompareURL, "main..."+strings.ReplaceAll(r.Branch, "/", "%2F")) {
		t.Errorf("branch %q, compare URL %q", r.Branch, r.CompareURL)
	}
	if files := gitopstest.Files(t, dir, "main"); !slices.Equal(files, []string{"README.md"}) {
		t.Errorf("main has %v; a review change must not reach it", files)
	}
	if files := gitopstest.Files(t, dir, r.Branch); !slices.Contains(files, "infra/s3-bucket/assets/terraform.yaml") {
		t.Errorf("the review branch has %v", files)
	}
	if _, err := svc.Deprovision(ctx, r.ID); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	branches, err := repo.Branches(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(branches, []string{"main"}) {
		t.Errorf("branches after deprovisioning an unmerged resource = %v, want [main]", branches)
	}
}

// reviewEnv is the manifests driver in review mode (each change on a branch
// of its own) on a served repository whose main has one commit.
type reviewEnv struct {
	dir    string
	repo   *gitops.Repo
	driver *manifests.Driver
	kind   infra.Kind
	store  *sqlstore.DB
	svc    *infra.Service
}

func newReviewEnv(t *testing.T) *reviewEnv {
	t.Helper()
	url, dir := gitopstest.Serve(t)
	repo, err := gitops.Open(gitops.Config{URL: url, CompareURL: "https://git.example.test/deploy/compare/{base}...{branch}"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Apply(t.Context(), gitops.Change{Message: "init", Write: map[string][]byte{"README.md": []byte("deploy\n")}}); err != nil {
		t.Fatal(err)
	}
	d := manifests.New(manifests.Options{Render: argocd.Manifests{}, Repo: repo, RepoURL: url, Review: true})
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key := make([]byte, infra.KeySize)
	sealer, _ := infra.NewSealer(key)
	kinds := loadKinds(t, d, "s3-bucket-terraform.yaml")
	svc, err := infra.NewService(infra.Options{Kinds: kinds, Drivers: map[string]infra.Driver{"manifests": d}, Store: store, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	return &reviewEnv{dir: dir, repo: repo, driver: d, kind: kinds[0], store: store, svc: svc}
}
