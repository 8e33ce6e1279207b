package forge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/paved-dev/paved"
)

const testToken = "tok-s3cret-123"

// fakeForge serves one repository's pull requests the way kind's REST API
// does: its paths, its authentication header, its JSON field names and
// states (GitLab's "opened", GitHub's merged_at), its filters.
type fakeForge struct {
	kind string
	mu   sync.Mutex
	prs  []map[string]any // in the forge's own JSON shape
	// calls counts requests by method.
	calls map[string]int
	base  string
}

func (f *fakeForge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[r.Method]++
	authed := false
	switch f.kind {
	case GitHub:
		authed = r.Header.Get("Authorization") == "Bearer "+testToken && r.Header.Get("X-GitHub-Api-Version") != ""
	case GitLab:
		authed = r.Header.Get("PRIVATE-TOKEN") == testToken
	case Gitea:
		authed = r.Header.Get("Authorization") == "token "+testToken
	}
	if !authed {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"message":"Bad credentials: %s"}`, r.Header.Get("Authorization")+r.Header.Get("PRIVATE-TOKEN"))
		return
	}
	var col string
	switch f.kind {
	case GitHub:
		col = "/repos/platform/deploy/pulls"
	case GitLab:
		col = "/api/v4/projects/" + url.PathEscape("platform/infra/deploy") + "/merge_requests"
	case Gitea:
		col = "/api/v1/repos/platform/deploy/pulls"
	}
	path := r.URL.EscapedPath()
	var body map[string]any
	if r.Body != nil {
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &body)
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case path == col && r.Method == http.MethodGet:
		q := r.URL.Query()
		out := []map[string]any{}
		for i := len(f.prs) - 1; i >= 0; i-- { // newest first
			pr := f.prs[i]
			switch f.kind {
			case GitHub:
				if q.Get("head") != "" && "platform:"+pr["head"].(map[string]any)["ref"].(string) != q.Get("head") {
					continue
				}
			case GitLab:
				if q.Get("source_branch") != "" && pr["source_branch"] != q.Get("source_branch") {
					continue
				}
			}
			out = append(out, pr)
		}
		json.NewEncoder(w).Encode(out)
	case path == col && r.Method == http.MethodPost:
		n := len(f.prs) + 1
		var pr map[string]any
		switch f.kind {
		case GitLab:
			if body["source_branch"] == "" || body["target_branch"] == "" {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"message":{"source_branch":["can't be blank"]}}`)
				return
			}
			pr = map[string]any{"id": 1000 + n, "iid": n, "project_id": 7, "state": "opened", "title": body["title"], "description": body["description"],
				"source_branch": body["source_branch"], "target_branch": body["target_branch"], "web_url": fmt.Sprintf("%s/platform/infra/deploy/-/merge_requests/%d", f.base, n)}
		default:
			for _, p := range f.prs {
				if p["state"] == "open" && p["head"].(map[string]any)["ref"] == body["head"] {
					w.WriteHeader(http.StatusUnprocessableEntity)
					io.WriteString(w, `{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists"}]}`)
					return
				}
			}
			pr = map[string]any{"id": 1000 + n, "number": n, "state": "open", "title": body["title"], "body": body["body"],
				"head": map[string]any{"ref": body["head"], "label": "platform:" + body["head"].(string)}, "base": map[string]any{"ref": body["base"]},
				"html_url": fmt.Sprintf("%s/platform/deploy/pull/%d", f.base, n)}
			if f.kind == GitHub {
				pr["merged_at"] = nil
			} else {
				pr["merged"] = false
				pr["html_url"] = fmt.Sprintf("%s/platform/deploy/pulls/%d", f.base, n)
			}
		}
		f.prs = append(f.prs, pr)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(pr)
	case strings.HasPrefix(path, col+"/"):
		n, err := strconv.Atoi(strings.TrimPrefix(path, col+"/"))
		if err != nil || n < 1 || n > len(f.prs) {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"Not Found"}`)
			return
		}
		pr := f.prs[n-1]
		if r.Method == http.MethodPatch || r.Method == http.MethodPut {
			for k, v := range body {
				pr[k] = v
			}
		}
		json.NewEncoder(w).Encode(pr)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"Not Found"}`)
	}
}

// set changes pull request n as a reviewer would on the forge.
func (f *fakeForge) set(n int, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pr := f.prs[n-1]
	switch {
	case f.kind == GitLab:
		pr["state"] = state // closed or merged
	case state == "merged" && f.kind == GitHub:
		pr["state"], pr["merged_at"] = "closed", "2026-12-03T10:00:00Z"
	case state == "merged":
		pr["state"], pr["merged"] = "closed", true
	default:
		pr["state"] = "closed"
	}
}

func startForge(t *testing.T, kind string) (*fakeForge, *Client) {
	t.Helper()
	f := &fakeForge{kind: kind, calls: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.base = srv.URL
	repo := "platform/deploy"
	if kind == GitLab {
		repo = "platform/infra/deploy"
	}
	c, err := New(Config{Kind: kind, APIURL: srv.URL, Repo: repo, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func TestEnsurePullRequest(t *testing.T) {
	for _, kind := range []string{GitHub, GitLab, Gitea} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			f, c := startForge(t, kind)
			spec := Spec{Branch: "paved/apps/shop", Base: "main", Title: "Add Argo CD application shop", Body: "Requested by user:default/jane."}

			pr, created, err := c.EnsurePullRequest(ctx, spec)
			if err != nil || !created || pr.Number != 1 || pr.State != paved.PullRequestOpen || pr.Branch != spec.Branch || pr.Base != "main" {
				t.Fatalf("first: %+v created=%v err=%v", pr, created, err)
			}
			if !strings.HasPrefix(pr.URL, f.base+"/platform/") || !strings.HasSuffix(pr.URL, "/1") {
				t.Errorf("URL = %q", pr.URL)
			}

			// The same request again: found, nothing written.
			posts := f.calls[http.MethodPost]
			again, created, err := c.EnsurePullRequest(ctx, spec)
			if err != nil || created || again.Number != 1 || f.calls[http.MethodPost] != posts || f.calls[http.MethodPatch]+f.calls[http.MethodPut] != 0 {
				t.Fatalf("again: %+v created=%v err=%v calls=%v", again, created, err, f.calls)
			}

			// A changed request updates the same one.
			spec.Body = "Requested by user:default/jane; replicas 3."
			upd, created, err := c.EnsurePullRequest(ctx, spec)
			if err != nil || created || upd.Number != 1 || upd.Body != spec.Body || f.calls[http.MethodPatch]+f.calls[http.MethodPut] != 1 {
				t.Fatalf("update: %+v created=%v err=%v calls=%v", upd, created, err, f.calls)
			}

			// Another branch is another pull request.
			other, created, err := c.EnsurePullRequest(ctx, Spec{Branch: "paved/apps/cart", Base: "main", Title: "cart"})
			if err != nil || !created || other.Number != 2 {
				t.Fatalf("other branch: %+v created=%v err=%v", other, created, err)
			}

			// Merged: reported as merged, not opened again.
			f.set(2, "merged")
			merged, created, err := c.EnsurePullRequest(ctx, Spec{Branch: "paved/apps/cart", Base: "main", Title: "cart"})
			if err != nil || created || merged.State != paved.PullRequestMerged || merged.Number != 2 {
				t.Fatalf("merged: %+v created=%v err=%v", merged, created, err)
			}
			if got, err := c.PullRequest(ctx, 2); err != nil || got.State != paved.PullRequestMerged {
				t.Errorf("PullRequest(2) = %+v, %v", got, err)
			}

			// Closed without merging: a conflict naming it, and no new one.
			f.set(1, "closed")
			posts = f.calls[http.MethodPost]
			_, _, err = c.EnsurePullRequest(ctx, spec)
			if paved.ErrorCode(err) != paved.EConflict || !strings.Contains(paved.ErrorMessage(err), "#1") || !strings.Contains(paved.ErrorMessage(err), "closed without merging") {
				t.Fatalf("closed: err = %v (%s)", err, paved.ErrorCode(err))
			}
			if f.calls[http.MethodPost] != posts {
				t.Error("a closed pull request was answered by opening another")
			}
		})
	}
}

func TestRefusalsKeepTheTokenOut(t *testing.T) {
	for _, kind := range []string{GitHub, GitLab, Gitea} {
		t.Run(kind, func(t *testing.T) {
			f, _ := startForge(t, kind)
			repo := "platform/deploy"
			if kind == GitLab {
				repo = "platform/infra/deploy"
			}
			// The server echoes whatever credentials it got; paved's message must not.
			c, err := New(Config{Kind: kind, APIURL: f.base, Repo: repo, Token: "wrong-" + testToken})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.EnsurePullRequest(context.Background(), Spec{Branch: "b", Base: "main", Title: "t"})
			msg := paved.ErrorMessage(err)
			if paved.ErrorCode(err) != paved.EUnavailable || !strings.Contains(msg, "token was refused") || strings.Contains(msg, testToken) {
				t.Fatalf("err = %q (%s)", msg, paved.ErrorCode(err))
			}
		})
	}
}

func TestNewNamesEveryBadField(t *testing.T) {
	_, err := New(Config{Kind: "svn", APIURL: "ftp://x", Repo: "justname"})
	var fields []string
	if e, ok := err.(*paved.Error); ok {
		for _, f := range e.Fields {
			fields = append(fields, f.Field)
		}
	}
	if strings.Join(fields, ",") != "kind,apiURL,repo,token" {
		t.Errorf("fields = %v (%v)", fields, err)
	}
}
