package forge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paved-dev/paved"
)

// The answers in testdata are the forges' own, not paved's idea of them (see
// testdata/README.md for where each comes from):
//
//   - github/pulls-list.json and github/pull.json are the response examples
//     of "List pull requests" and "Get/Create/Update a pull request" in
//     GitHub's OpenAPI description of api.github.com (@octokit/openapi 23.0.2);
//   - gitlab/get_merge_requests.json and gitlab/get_merge_request.json are
//     recorded GitLab answers from the testdata of GitLab's official Go
//     client, gitlab.com/gitlab-org/api/client-go v1.46.0 (the single merge
//     request is also the answer to its create and update);
//   - github/validation-failed.json is a recorded real 422 of GitHub
//     (@octokit/fixtures 23.1.2, scenario "errors").
//
// replay serves them for the requests paved must make, and answers 400 to any
// other request, so a wrong path, method, header or filter fails the test.
type replay struct {
	t      *testing.T
	routes map[string]string // "METHOD path?query" → testdata file
	header func(*http.Request) bool
	status map[string]int
	// bodies, when not nil, receives each request's JSON body by its key.
	bodies map[string]map[string]any
}

func (r replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	key := req.Method + " " + req.URL.EscapedPath()
	if req.URL.RawQuery != "" {
		key += "?" + req.URL.Query().Encode() // sorted, as the routes are written
	}
	file, ok := r.routes[key]
	if !ok || !r.header(req) {
		r.t.Errorf("unexpected request %s (headers %v)", key, req.Header)
		http.Error(w, `{"message":"unexpected request"}`, http.StatusBadRequest)
		return
	}
	if r.bodies != nil && req.Body != nil {
		var body map[string]any
		if err := json.NewDecoder(req.Body).Decode(&body); err == nil {
			r.bodies[key] = body
		}
	}
	raw, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		r.t.Fatal(err)
	}
	w.Header().Set("Content-Type", "application/json")
	if s := r.status[key]; s != 0 {
		w.WriteHeader(s)
	}
	_, _ = w.Write(raw)
}

func replayClient(t *testing.T, kind, repo string, r replay) *Client {
	t.Helper()
	r.t = t
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	c, err := New(Config{Kind: kind, APIURL: srv.URL, Repo: repo, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGitHubRecordedAnswers(t *testing.T) {
	ctx := context.Background()
	github := func(req *http.Request) bool {
		return req.Header.Get("Authorization") == "Bearer "+testToken &&
			req.Header.Get("Accept") == "application/vnd.github+json" && req.Header.Get("X-GitHub-Api-Version") == "2022-11-28"
	}
	c := replayClient(t, GitHub, "octocat/Hello-World", replay{header: github, routes: map[string]string{
		"GET /repos/octocat/Hello-World/pulls?base=master&head=octocat%3Anew-topic&per_page=100&state=all": "github/pulls-list.json",
		"GET /repos/octocat/Hello-World/pulls/1347":                                                        "github/pull.json",
	}})
	want := paved.PullRequest{Number: 1347, URL: "https://github.com/octocat/Hello-World/pull/1347", State: paved.PullRequestOpen,
		Branch: "new-topic", Base: "master", Title: "Amazing new feature", Body: "Please pull these awesome changes in!"}
	// Found by its head (owner:branch) and base, already up to date: nothing written.
	got, created, err := c.EnsurePullRequest(ctx, Spec{Branch: "new-topic", Base: "master", Title: want.Title, Body: want.Body})
	if err != nil || created || got != want {
		t.Fatalf("EnsurePullRequest = %+v created=%v err=%v\nwant %+v", got, created, err, want)
	}
	if got, err := c.PullRequest(ctx, 1347); err != nil || got != want {
		t.Fatalf("PullRequest = %+v, %v\nwant %+v", got, err, want)
	}
}

func TestGitHubRecordedCreateAndUpdate(t *testing.T) {
	ctx := context.Background()
	anyHeader := func(*http.Request) bool { return true }
	// No pull request of the branch yet: created, from GitHub's 201 answer.
	c := replayClient(t, GitHub, "octocat/Hello-World", replay{header: anyHeader, routes: map[string]string{
		"GET /repos/octocat/Hello-World/pulls?base=master&head=octocat%3Aother&per_page=100&state=all": "github/empty-list.json",
		"POST /repos/octocat/Hello-World/pulls":                                                        "github/pull.json",
	}, status: map[string]int{"POST /repos/octocat/Hello-World/pulls": http.StatusCreated}})
	pr, created, err := c.EnsurePullRequest(ctx, Spec{Branch: "other", Base: "master", Title: "t"})
	if err != nil || !created || pr.Number != 1347 || pr.URL != "https://github.com/octocat/Hello-World/pull/1347" {
		t.Fatalf("create: %+v created=%v err=%v", pr, created, err)
	}
	// A changed title: the same pull request is edited (PATCH).
	c = replayClient(t, GitHub, "octocat/Hello-World", replay{header: anyHeader, routes: map[string]string{
		"GET /repos/octocat/Hello-World/pulls?base=master&head=octocat%3Anew-topic&per_page=100&state=all": "github/pulls-list.json",
		"PATCH /repos/octocat/Hello-World/pulls/1347":                                                      "github/pull.json",
	}})
	if pr, created, err := c.EnsurePullRequest(ctx, Spec{Branch: "new-topic", Base: "master", Title: "changed"}); err != nil || created || pr.Number != 1347 {
		t.Fatalf("update: %+v created=%v err=%v", pr, created, err)
	}
}

func TestGitHubRecordedValidationFailure(t *testing.T) {
	anyHeader := func(*http.Request) bool { return true }
	c := replayClient(t, GitHub, "octocat/Hello-World", replay{header: anyHeader, routes: map[string]string{
		"GET /repos/octocat/Hello-World/pulls?base=master&head=octocat%3Ax&per_page=100&state=all": "github/empty-list.json",
		"POST /repos/octocat/Hello-World/pulls":                                                    "github/validation-failed.json",
	}, status: map[string]int{"POST /repos/octocat/Hello-World/pulls": http.StatusUnprocessableEntity}})
	_, _, err := c.EnsurePullRequest(context.Background(), Spec{Branch: "x", Base: "master", Title: "t"})
	// GitHub's errors carry resource, field and code, not always a message.
	if msg := paved.ErrorMessage(err); paved.ErrorCode(err) != paved.EConflict || !strings.Contains(msg, "Validation Failed") || !strings.Contains(msg, "color invalid") {
		t.Fatalf("err = %q (%s)", msg, paved.ErrorCode(err))
	}
}

func TestGitLabRecordedAnswers(t *testing.T) {
	ctx := context.Background()
	gitlab := func(req *http.Request) bool { return req.Header.Get("PRIVATE-TOKEN") == testToken }
	project := "/api/v4/projects/gitlab-org%2Fgitlab-ee/merge_requests"
	c := replayClient(t, GitLab, "gitlab-org/gitlab-ee", replay{header: gitlab, routes: map[string]string{
		"GET " + project + "?per_page=100&source_branch=load-balancing-prometheus&state=all&target_branch=master": "gitlab/get_merge_requests.json",
		"GET " + project + "/14656": "gitlab/get_merge_request.json",
	}})
	// The listing holds three merge requests; the one of the branch is picked.
	got, created, err := c.EnsurePullRequest(ctx, Spec{Branch: "load-balancing-prometheus", Base: "master", Title: "Log in Prometheus current number of host and index", Body: "## What does this MR do?"})
	if err != nil || created || got.Number != 15440 || got.State != paved.PullRequestOpen || got.URL != "https://gitlab.com/gitlab-org/gitlab-ee/merge_requests/15440" || got.Base != "master" {
		t.Fatalf("EnsurePullRequest = %+v created=%v err=%v", got, created, err)
	}
	mr, err := c.PullRequest(ctx, 14656)
	want := paved.PullRequest{Number: 14656, URL: "https://gitlab.com/gitlab-org/gitlab-ee/merge_requests/14656", State: paved.PullRequestOpen,
		Branch: "delete-designs-v2", Base: "master", Title: "Add deletion support for designs",
		Body: "## What does this MR do?\r\n\r\nThis adds the capability to destroy/hide designs."}
	if err != nil || mr != want {
		t.Fatalf("PullRequest = %+v, %v\nwant %+v", mr, err, want)
	}
}

func TestGitLabRecordedCreateAndUpdate(t *testing.T) {
	ctx := context.Background()
	gitlab := func(req *http.Request) bool {
		return req.Header.Get("PRIVATE-TOKEN") == testToken && (req.Method == http.MethodGet || req.Header.Get("Content-Type") == "application/json")
	}
	project := "/api/v4/projects/gitlab-org%2Fgitlab-ee/merge_requests"
	list := func(branch string) string {
		return "GET " + project + "?per_page=100&source_branch=" + branch + "&state=all&target_branch=master"
	}
	// The recorded listing holds no merge request of delete-designs-v2: it
	// is opened (POST), and GitLab's answer, the merge request, is reported.
	bodies := map[string]map[string]any{}
	c := replayClient(t, GitLab, "gitlab-org/gitlab-ee", replay{header: gitlab, bodies: bodies, routes: map[string]string{
		list("delete-designs-v2"): "gitlab/get_merge_requests.json",
		"POST " + project:         "gitlab/get_merge_request.json",
	}, status: map[string]int{"POST " + project: http.StatusCreated}})
	spec := Spec{Branch: "delete-designs-v2", Base: "master", Title: "Add deletion support for designs", Body: "paved's description"}
	pr, created, err := c.EnsurePullRequest(ctx, spec)
	if err != nil || !created || pr.Number != 14656 || pr.URL != "https://gitlab.com/gitlab-org/gitlab-ee/merge_requests/14656" || pr.State != paved.PullRequestOpen {
		t.Fatalf("create: %+v created=%v err=%v", pr, created, err)
	}
	want := map[string]any{"source_branch": spec.Branch, "target_branch": spec.Base, "title": spec.Title, "description": spec.Body}
	if got := bodies["POST "+project]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("POST body = %v, want %v", got, want)
	}
	// load-balancing-prometheus has merge request !15440 with another
	// title: that one is edited (PUT by its iid), none is opened.
	bodies = map[string]map[string]any{}
	c = replayClient(t, GitLab, "gitlab-org/gitlab-ee", replay{header: gitlab, bodies: bodies, routes: map[string]string{
		list("load-balancing-prometheus"): "gitlab/get_merge_requests.json",
		"PUT " + project + "/15440":       "gitlab/get_merge_request.json",
	}})
	spec = Spec{Branch: "load-balancing-prometheus", Base: "master", Title: "changed", Body: "changed too"}
	if _, created, err := c.EnsurePullRequest(ctx, spec); err != nil || created {
		t.Fatalf("update: created=%v err=%v", created, err)
	}
	want = map[string]any{"title": "changed", "description": "changed too"}
	if got := bodies["PUT "+project+"/15440"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PUT body = %v, want %v", got, want)
	}
}
