package gitops_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/gitops/gitopstest"
)

func serveGit(t testing.TB) (string, string) { return gitopstest.Serve(t) }

func freePort(t testing.TB) int { return gitopstest.FreePort(t) }

func runGit(t testing.TB, dir string, args ...string) string { return gitopstest.Git(t, dir, args...) }

func open(t testing.TB, url string, mod ...func(*gitops.Config)) *gitops.Repo {
	t.Helper()
	cfg := gitops.Config{URL: url, Branch: "main", AuthorName: "paved test", AuthorEmail: "paved@example.test",
		CompareURL: "https://git.example.test/deploy/compare/{base}...{branch}"}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := gitops.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

func TestApplyDirectCommit(t *testing.T) {
	url, bare := serveGit(t)
	r := open(t, url)
	ctx := t.Context()
	res, err := r.Apply(ctx, gitops.Change{Message: "Add payments", Write: map[string][]byte{
		"apps/payments.yaml":           []byte("kind: Application\n"),
		"infra/pg/payments/claim.yaml": []byte("kind: PostgreSQLInstance\n"),
	}})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !res.Changed || res.Branch != "main" || len(res.Commit) != 40 || res.CompareURL != "" {
		t.Errorf("Apply = %+v, want a new commit on main and no compare link", res)
	}
	if got := runGit(t, bare, "rev-parse", "main"); got != res.Commit {
		t.Errorf("main is at %s, Apply reported %s", got, res.Commit)
	}
	if got := runGit(t, bare, "show", "main:infra/pg/payments/claim.yaml"); got != "kind: PostgreSQLInstance" {
		t.Errorf("claim.yaml = %q", got)
	}
	if got := runGit(t, bare, "log", "-1", "--format=%an <%ae>|%s", "main"); got != "paved test <paved@example.test>|Add payments" {
		t.Errorf("commit = %q", got)
	}
	// git's own check of the objects paved wrote.
	runGit(t, bare, "fsck", "--strict")

	// The same content again changes nothing: no new commit.
	again, err := r.Apply(ctx, gitops.Change{Message: "Add payments", Write: map[string][]byte{"apps/payments.yaml": []byte("kind: Application\n")}})
	if err != nil {
		t.Fatalf("Apply again: %v", err)
	}
	if again.Changed || again.Commit != res.Commit {
		t.Errorf("re-applying the same file = %+v, want Changed=false at %s", again, res.Commit)
	}

	// Deleting a directory removes its files and the now empty parents.
	del, err := r.Apply(ctx, gitops.Change{Message: "Remove payments db", Delete: []string{"infra/pg/payments"}})
	if err != nil {
		t.Fatalf("Apply delete: %v", err)
	}
	if !del.Changed {
		t.Fatalf("delete reported no change")
	}
	files := runGit(t, bare, "ls-tree", "-r", "--name-only", "main")
	if files != "apps/payments.yaml" {
		t.Errorf("files after delete = %q, want only apps/payments.yaml", files)
	}
	got, err := r.ReadFile(ctx, "apps/payments.yaml")
	if err != nil || string(got) != "kind: Application\n" {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	if _, err := r.ReadFile(ctx, "infra/pg/payments/claim.yaml"); paved.ErrorCode(err) != paved.ENotFound {
		t.Errorf("ReadFile of a deleted file: %v, want not_found", err)
	}
}

// TestConcurrentWritersAllLand runs two Repos (two replicas of paved, each
// with its own view of the remote) committing at the same time: every commit
// must reach the branch.
func TestConcurrentWritersAllLand(t *testing.T) {
	url, bare := serveGit(t)
	const perWriter = 6
	writers := []*gitops.Repo{open(t, url), open(t, url)}
	var wg sync.WaitGroup
	errs := make(chan error, 2*perWriter)
	for w, r := range writers {
		wg.Go(func() {
			for i := range perWriter {
				_, err := r.Apply(t.Context(), gitops.Change{
					Message: fmt.Sprintf("writer %d change %d", w, i),
					Write:   map[string][]byte{fmt.Sprintf("apps/w%d-%d.yaml", w, i): []byte("n: " + fmt.Sprint(i) + "\n")},
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Apply: %v", err)
	}
	files := strings.Split(runGit(t, bare, "ls-tree", "-r", "--name-only", "main"), "\n")
	if len(files) != 2*perWriter {
		t.Errorf("main has %d files, want %d: %v", len(files), 2*perWriter, files)
	}
	if n := runGit(t, bare, "rev-list", "--count", "main"); n != fmt.Sprint(2*perWriter) {
		t.Errorf("main has %s commits, want %d", n, 2*perWriter)
	}
}

func TestReviewBranch(t *testing.T) {
	url, bare := serveGit(t)
	r := open(t, url)
	ctx := t.Context()
	first, err := r.Apply(ctx, gitops.Change{Message: "init", Write: map[string][]byte{"README.md": []byte("deploy\n")}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Apply(ctx, gitops.Change{Message: "Add orders", ReviewBranch: "paved/orders-1",
		Write: map[string][]byte{"apps/orders.yaml": []byte("kind: Application\n")}})
	if err != nil {
		t.Fatalf("Apply on a review branch: %v", err)
	}
	if res.Branch != "paved/orders-1" || res.CompareURL != "https://git.example.test/deploy/compare/main...paved%2Forders-1" {
		t.Errorf("Apply = %+v", res)
	}
	if got := runGit(t, bare, "rev-parse", "main"); got != first.Commit {
		t.Errorf("main moved to %s; a review change must leave it at %s", got, first.Commit)
	}
	if got := runGit(t, bare, "rev-parse", "paved/orders-1^"); got != first.Commit {
		t.Errorf("the review branch starts at %s, want main's tip %s", got, first.Commit)
	}
	_, err = r.Apply(ctx, gitops.Change{Message: "again", ReviewBranch: "paved/orders-1", Write: map[string][]byte{"x": []byte("y")}})
	if paved.ErrorCode(err) != paved.EConflict {
		t.Errorf("reusing a review branch: %v, want conflict", err)
	}
	if err := r.DeleteBranch(ctx, "paved/orders-1"); err != nil {
		t.Fatalf("DeleteBranch: %v", err)
	}
	branches, err := r.Branches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(branches) != 1 || branches[0] != "main" {
		t.Errorf("branches after DeleteBranch = %v, want [main]", branches)
	}
	if err := r.DeleteBranch(ctx, "main"); paved.ErrorCode(err) != paved.EInvalid {
		t.Errorf("DeleteBranch(main) = %v, want it refused", err)
	}
}

func TestApplyRejectsBadChanges(t *testing.T) {
	r := open(t, "git://127.0.0.1:1/none.git")
	tests := map[string]gitops.Change{
		"no message":       {Write: map[string][]byte{"a": nil}},
		"nothing to do":    {Message: "m"},
		"absolute path":    {Message: "m", Write: map[string][]byte{"/etc/passwd": nil}},
		"dot dot":          {Message: "m", Write: map[string][]byte{"apps/../../x": nil}},
		"into .git":        {Message: "m", Write: map[string][]byte{".git/config": nil}},
		"delete outside":   {Message: "m", Delete: []string{"../x"}},
		"bad branch":       {Message: "m", Write: map[string][]byte{"a": nil}, ReviewBranch: "a..b"},
		"branch with null": {Message: "m", Write: map[string][]byte{"a": nil}, ReviewBranch: "a\x00"},
	}
	for name, ch := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := r.Apply(t.Context(), ch); paved.ErrorCode(err) != paved.EInvalid {
				t.Errorf("Apply = %v, want invalid", err)
			}
		})
	}
}

func TestUnreachableRemoteKeepsCredentialsOut(t *testing.T) {
	port := freePort(t)
	r := open(t, fmt.Sprintf("http://deploy-bot:s3cr3t-in-url@127.0.0.1:%d/deploy.git", port), func(c *gitops.Config) {
		c.Token = "tok-very-secret"
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := r.Apply(ctx, gitops.Change{Message: "m", Write: map[string][]byte{"a": []byte("b")}})
	if paved.ErrorCode(err) != paved.EUnavailable {
		t.Fatalf("Apply against a closed port = %v, want unavailable", err)
	}
	for _, secret := range []string{"s3cr3t-in-url", "tok-very-secret"} {
		if strings.Contains(paved.ErrorMessage(err), secret) || strings.Contains(err.Error(), secret) {
			t.Errorf("error %q leaks %q", err, secret)
		}
	}
	if strings.Contains(r.URL(), "s3cr3t") {
		t.Errorf("URL() = %q leaks the password", r.URL())
	}
}

func TestInitBareIsTheEmbeddedDefault(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := filepath.Join(t.TempDir(), "data", "gitops.git")
	url, err := gitops.InitBare(dir)
	if err != nil {
		t.Fatalf("InitBare: %v", err)
	}
	again, err := gitops.InitBare(dir)
	if err != nil || again != url {
		t.Fatalf("InitBare twice = %q, %v; want %q", again, err, url)
	}
	r := open(t, url, func(c *gitops.Config) { c.CacheDir = filepath.Join(t.TempDir(), "cache") })
	res, err := r.Apply(t.Context(), gitops.Change{Message: "first", Write: map[string][]byte{"apps/a.yaml": []byte("a: 1\n")}})
	if err != nil {
		t.Fatalf("Apply to the embedded repository: %v", err)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	runGit(t, "", "clone", "--quiet", url, clone)
	if got := runGit(t, clone, "rev-parse", "HEAD"); got != res.Commit {
		t.Errorf("a clone checks out %s, want %s", got, res.Commit)
	}
	var names []string
	entries, _ := os.ReadDir(filepath.Join(clone, "apps"))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "a.yaml" {
		t.Errorf("clone has apps/%v", names)
	}
}

// A kill while go-git writes into the cache leaves an empty ref file (it
// truncates, then writes) or a cut config: the next paved must commit as if
// the cache were new, not answer "ref file is empty" to every call (found
// by the chaos suite).
func TestCacheDamagedByAKillIsRepaired(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	url, err := gitops.InitBare(filepath.Join(t.TempDir(), "deploy.git"))
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := filepath.Join(t.TempDir(), "cache")
	withCache := func(c *gitops.Config) { c.CacheDir = cacheDir }
	first, err := open(t, url, withCache).Apply(t.Context(), gitops.Change{Message: "first", Write: map[string][]byte{"apps/a.yaml": []byte("a: 1\n")}})
	if err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(cacheDir, "refs", "remotes", "origin", "main")
	if b, err := os.ReadFile(ref); err != nil || len(b) == 0 {
		t.Fatalf("the cache has no tracking ref to damage: %q %v", b, err)
	}

	// An empty tracking ref, as a kill between truncate and write leaves it.
	if err := os.WriteFile(ref, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := open(t, url, withCache).Apply(t.Context(), gitops.Change{Message: "second", Write: map[string][]byte{"apps/b.yaml": []byte("b: 1\n")}})
	if err != nil || second.Commit == first.Commit {
		t.Fatalf("Apply after an empty ref = %+v, %v; want a new commit after %s", second, err, first.Commit)
	}

	// The same while paved runs: the ref emptied under an open Repo.
	r := open(t, url, withCache)
	if err := os.WriteFile(ref, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(t.Context(), gitops.Change{Message: "third", Write: map[string][]byte{"apps/c.yaml": []byte("c: 1\n")}}); err != nil {
		t.Fatalf("Apply with the ref emptied under it: %v", err)
	}

	// A config cut short: the cache is started again from the remote.
	if err := os.WriteFile(filepath.Join(cacheDir, "config"), []byte("[remote \"origin"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, url, withCache).Apply(t.Context(), gitops.Change{Message: "fourth", Write: map[string][]byte{"apps/d.yaml": []byte("d: 1\n")}}); err != nil {
		t.Fatalf("Apply after a cut config: %v", err)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	runGit(t, "", "clone", "--quiet", url, clone)
	for _, f := range []string{"a", "b", "c", "d"} {
		if _, err := os.Stat(filepath.Join(clone, "apps", f+".yaml")); err != nil {
			t.Errorf("the remote lacks apps/%s.yaml: %v", f, err)
		}
	}
	if n := runGit(t, clone, "rev-list", "--count", "HEAD"); n != "4" {
		t.Errorf("the remote has %s commits, want 4 (one per Apply)", n)
	}
}

// BenchmarkApply measures commits per second into a local bare repository.
func BenchmarkApply(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git is not installed")
	}
	url, err := gitops.InitBare(filepath.Join(b.TempDir(), "deploy.git"))
	if err != nil {
		b.Fatal(err)
	}
	r := open(b, url)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := r.Apply(context.Background(), gitops.Change{Message: "bench", Write: map[string][]byte{fmt.Sprintf("apps/app-%d.yaml", i): []byte("kind: Application\n")}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// TestReuseReviewBranch is the head branch of a pull request: asking again
// leaves it alone, a changed request rebuilds it on main (one commit ahead),
// and a second process (a replica) sees the same.
func TestReuseReviewBranch(t *testing.T) {
	url, bare := serveGit(t)
	r := open(t, url)
	ctx := t.Context()
	if _, err := r.Apply(ctx, gitops.Change{Message: "init", Write: map[string][]byte{"README.md": []byte("deploy\n")}}); err != nil {
		t.Fatal(err)
	}
	change := func(body string) gitops.Change {
		return gitops.Change{Message: "Add shop", ReviewBranch: "paved/apps/shop", ReuseBranch: true,
			Write: map[string][]byte{"apps/shop.yaml": []byte(body)}}
	}
	first, err := r.Apply(ctx, change("replicas: 1\n"))
	if err != nil || !first.Changed || first.Base != "main" {
		t.Fatalf("first = %+v, %v", first, err)
	}
	again, err := open(t, url).Apply(ctx, change("replicas: 1\n"))
	if err != nil || again.Changed || again.Commit != first.Commit {
		t.Fatalf("the same change again (another replica) = %+v, %v; want the branch left at %s", again, err, first.Commit)
	}
	// main moves meanwhile; the changed request is rebuilt on its new tip.
	mainTip, err := r.Apply(ctx, gitops.Change{Message: "other", Write: map[string][]byte{"apps/other.yaml": []byte("x\n")}})
	if err != nil {
		t.Fatal(err)
	}
	changed, err := r.Apply(ctx, change("replicas: 3\n"))
	if err != nil || !changed.Changed || changed.Commit == first.Commit {
		t.Fatalf("changed = %+v, %v", changed, err)
	}
	if got := runGit(t, bare, "rev-parse", "paved/apps/shop"); got != changed.Commit {
		t.Errorf("branch at %s, want %s", got, changed.Commit)
	}
	if got := runGit(t, bare, "rev-parse", "paved/apps/shop^"); got != mainTip.Commit {
		t.Errorf("the rebuilt branch starts at %s, want main's tip %s", got, mainTip.Commit)
	}
	if got := runGit(t, bare, "show", "paved/apps/shop:apps/shop.yaml"); got != "replicas: 3" {
		t.Errorf("apps/shop.yaml on the branch = %q", got)
	}
}
