package forge

import (
	"context"

	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/paved-dev/paved"
)

// maxPages bounds the listing of a forge without a head filter (Gitea): the
// review branch's pull request is among the newest.
const maxPages = 10

// github: /repos/{owner}/{repo}/pulls, filtered by head=owner:branch.
type github struct{}

type githubPR struct {
	Number   int     `json:"number"`
	HTMLURL  string  `json:"html_url"`
	State    string  `json:"state"` // open, closed
	MergedAt *string `json:"merged_at"`
	Merged   bool    `json:"merged"`
	Title    string  `json:"title"`
	Body     *string `json:"body"`
	Head     struct {
		Ref string `json:"ref"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

func (p githubPR) pr() paved.PullRequest {
	// The state decides: an open pull request is open whatever else it says
	// (GitHub's own documented example is open with a merged_at).
	state := paved.PullRequestOpen
	switch {
	case p.State == "open":
	case p.Merged || p.MergedAt != nil:
		state = paved.PullRequestMerged
	default:
		state = paved.PullRequestClosed
	}
	return paved.PullRequest{Number: p.Number, URL: p.HTMLURL, State: state, Branch: p.Head.Ref, Base: p.Base.Ref, Title: p.Title, Body: deref(p.Body)}
}

func (github) find(ctx context.Context, c *Client, s Spec) (*paved.PullRequest, error) {
	owner, _, _ := strings.Cut(c.cfg.Repo, "/")
	q := url.Values{"head": {owner + ":" + s.Branch}, "base": {s.Base}, "state": {"all"}, "per_page": {"100"}}
	var list []githubPR
	if err := c.do(ctx, http.MethodGet, "/repos/"+repoPath(c.cfg.Repo)+"/pulls?"+q.Encode(), nil, &list); err != nil {
		return nil, err
	}
	return newest(list, func(p githubPR) paved.PullRequest { return p.pr() }, s.Branch), nil
}

func (github) create(ctx context.Context, c *Client, s Spec) (paved.PullRequest, error) {
	var out githubPR
	err := c.do(ctx, http.MethodPost, "/repos/"+repoPath(c.cfg.Repo)+"/pulls",
		map[string]any{"title": s.Title, "head": s.Branch, "base": s.Base, "body": s.Body}, &out)
	return out.pr(), err
}

func (github) update(ctx context.Context, c *Client, number int, s Spec) (paved.PullRequest, error) {
	var out githubPR
	err := c.do(ctx, http.MethodPatch, "/repos/"+repoPath(c.cfg.Repo)+"/pulls/"+strconv.Itoa(number),
		map[string]any{"title": s.Title, "body": s.Body}, &out)
	return out.pr(), err
}

func (github) get(ctx context.Context, c *Client, number int) (paved.PullRequest, error) {
	var out githubPR
	err := c.do(ctx, http.MethodGet, "/repos/"+repoPath(c.cfg.Repo)+"/pulls/"+strconv.Itoa(number), nil, &out)
	return out.pr(), err
}

// gitlab: merge requests of /projects/{url-encoded path}, filtered by source_branch.
type gitlab struct{}

type gitlabMR struct {
	IID          int    `json:"iid"`
	WebURL       string `json:"web_url"`
	State        string `json:"state"` // opened, closed, locked, merged
	Title        string `json:"title"`
	Description  string `json:"description"`
	SourceBranch string `json:"source_branch"`
	TargetBranch string `json:"target_branch"`
}

func (m gitlabMR) pr() paved.PullRequest {
	state := paved.PullRequestOpen
	switch m.State {
	case "merged":
		state = paved.PullRequestMerged
	case "closed":
		state = paved.PullRequestClosed
	}
	return paved.PullRequest{Number: m.IID, URL: m.WebURL, State: state, Branch: m.SourceBranch, Base: m.TargetBranch, Title: m.Title, Body: m.Description}
}

func (gitlab) project(c *Client) string { return "/projects/" + url.PathEscape(c.cfg.Repo) }

func (g gitlab) find(ctx context.Context, c *Client, s Spec) (*paved.PullRequest, error) {
	q := url.Values{"source_branch": {s.Branch}, "target_branch": {s.Base}, "state": {"all"}, "per_page": {"100"}}
	var list []gitlabMR
	if err := c.do(ctx, http.MethodGet, g.project(c)+"/merge_requests?"+q.Encode(), nil, &list); err != nil {
		return nil, err
	}
	return newest(list, func(m gitlabMR) paved.PullRequest { return m.pr() }, s.Branch), nil
}

func (g gitlab) create(ctx context.Context, c *Client, s Spec) (paved.PullRequest, error) {
	var out gitlabMR
	err := c.do(ctx, http.MethodPost, g.project(c)+"/merge_requests",
		map[string]any{"source_branch": s.Branch, "target_branch": s.Base, "title": s.Title, "description": s.Body}, &out)
	return out.pr(), err
}

func (g gitlab) update(ctx context.Context, c *Client, number int, s Spec) (paved.PullRequest, error) {
	var out gitlabMR
	err := c.do(ctx, http.MethodPut, g.project(c)+"/merge_requests/"+strconv.Itoa(number),
		map[string]any{"title": s.Title, "description": s.Body}, &out)
	return out.pr(), err
}

func (g gitlab) get(ctx context.Context, c *Client, number int) (paved.PullRequest, error) {
	var out gitlabMR
	err := c.do(ctx, http.MethodGet, g.project(c)+"/merge_requests/"+strconv.Itoa(number), nil, &out)
	return out.pr(), err
}

// gitea: /repos/{owner}/{repo}/pulls (Gitea and Forgejo); the listing has no
// head filter, so it is paged, newest first.
type gitea struct{}

type giteaPR struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
	State   string `json:"state"` // open, closed
	Merged  bool   `json:"merged"`
	Title   string `json:"title"`
	Body    string `json:"body"`
	Head    struct {
		Ref string `json:"ref"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

func (p giteaPR) pr() paved.PullRequest {
	state := paved.PullRequestOpen
	switch {
	case p.Merged:
		state = paved.PullRequestMerged
	case p.State == "closed":
		state = paved.PullRequestClosed
	}
	return paved.PullRequest{Number: p.Number, URL: p.HTMLURL, State: state, Branch: p.Head.Ref, Base: p.Base.Ref, Title: p.Title, Body: p.Body}
}

func (gitea) find(ctx context.Context, c *Client, s Spec) (*paved.PullRequest, error) {
	for page := 1; page <= maxPages; page++ {
		q := url.Values{"state": {"all"}, "sort": {"newest"}, "limit": {"50"}, "page": {strconv.Itoa(page)}}
		var list []giteaPR
		if err := c.do(ctx, http.MethodGet, "/repos/"+repoPath(c.cfg.Repo)+"/pulls?"+q.Encode(), nil, &list); err != nil {
			return nil, err
		}
		var mine []giteaPR
		for _, p := range list {
			if p.Base.Ref == s.Base {
				mine = append(mine, p)
			}
		}
		if pr := newest(mine, func(p giteaPR) paved.PullRequest { return p.pr() }, s.Branch); pr != nil {
			return pr, nil
		}
		if len(list) < 50 {
			break
		}
	}
	return nil, nil
}

func (gitea) create(ctx context.Context, c *Client, s Spec) (paved.PullRequest, error) {
	var out giteaPR
	err := c.do(ctx, http.MethodPost, "/repos/"+repoPath(c.cfg.Repo)+"/pulls",
		map[string]any{"title": s.Title, "head": s.Branch, "base": s.Base, "body": s.Body}, &out)
	return out.pr(), err
}

func (gitea) update(ctx context.Context, c *Client, number int, s Spec) (paved.PullRequest, error) {
	var out giteaPR
	err := c.do(ctx, http.MethodPatch, "/repos/"+repoPath(c.cfg.Repo)+"/pulls/"+strconv.Itoa(number),
		map[string]any{"title": s.Title, "body": s.Body}, &out)
	return out.pr(), err
}

func (gitea) get(ctx context.Context, c *Client, number int) (paved.PullRequest, error) {
	var out giteaPR
	err := c.do(ctx, http.MethodGet, "/repos/"+repoPath(c.cfg.Repo)+"/pulls/"+strconv.Itoa(number), nil, &out)
	return out.pr(), err
}

// newest picks, among pull requests, the one of branch that matters: an open
// one if any, else the highest-numbered (the latest decision on it).
func newest[T any](list []T, conv func(T) paved.PullRequest, branch string) *paved.PullRequest {
	var best *paved.PullRequest
	for _, item := range list {
		pr := conv(item)
		if pr.Branch != branch {
			continue
		}
		switch {
		case best == nil,
			pr.State == paved.PullRequestOpen && best.State != paved.PullRequestOpen,
			(pr.State == paved.PullRequestOpen) == (best.State == paved.PullRequestOpen) && pr.Number > best.Number:
			p := pr
			best = &p
		}
	}
	return best
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
