// Package forge opens and follows the pull (merge) requests of GitOps review
// mode on GitHub, GitLab or Gitea/Forgejo, through each forge's REST API.
//
// One request per review branch: EnsurePullRequest finds the pull request of
// the branch in any state before it opens one, so running the same request
// again updates the open one; a pull request closed without merging is
// reported (a conflict), never silently reopened or duplicated.
package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paved-dev/paved"
)

// Kinds of forge.
const (
	GitHub = "github"
	GitLab = "gitlab"
	Gitea  = "gitea" // Gitea and Forgejo speak the same API
)

// Config names the repository on a forge and the credentials to use.
type Config struct {
	// Kind is github, gitlab or gitea (also Forgejo).
	Kind string
	// APIURL is the API root: https://api.github.com, https://gitlab.example.com
	// (/api/v4 is added), https://gitea.example.com (/api/v1 is added).
	APIURL string
	// Repo is owner/name (GitLab: the project's full path, groups included).
	Repo string
	// Token is a personal or bot access token with pull request rights.
	Token  string
	Client *http.Client
}

// Spec is the pull request paved wants for a review branch.
type Spec struct {
	Branch, Base string
	Title, Body  string
}

// Client talks to one repository on one forge.
type Client struct {
	cfg  Config
	api  string
	http *http.Client
	impl dialect
}

// dialect is what differs between forges: where pull requests live and how
// their JSON reads.
type dialect interface {
	find(ctx context.Context, c *Client, s Spec) (*paved.PullRequest, error)
	create(ctx context.Context, c *Client, s Spec) (paved.PullRequest, error)
	update(ctx context.Context, c *Client, number int, s Spec) (paved.PullRequest, error)
	get(ctx context.Context, c *Client, number int) (paved.PullRequest, error)
}

// New checks cfg and returns a client; it does not contact the forge.
func New(cfg Config) (*Client, error) {
	var bad []paved.FieldError
	var impl dialect
	api := strings.TrimRight(cfg.APIURL, "/")
	switch cfg.Kind {
	case GitHub:
		impl = github{}
		if api == "" {
			api = "https://api.github.com"
		}
	case GitLab:
		impl = gitlab{}
		api += "/api/v4"
	case Gitea, "forgejo":
		impl = gitea{}
		api += "/api/v1"
	default:
		bad = append(bad, paved.FieldError{Field: "kind", Message: "must be github, gitlab or gitea"})
	}
	if u, err := url.Parse(cfg.APIURL); cfg.Kind != GitHub && (cfg.APIURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		bad = append(bad, paved.FieldError{Field: "apiURL", Message: "must be the forge's http(s) URL"})
	}
	if parts := strings.Split(cfg.Repo, "/"); len(parts) < 2 || (cfg.Kind != GitLab && len(parts) != 2) || slicesHasEmpty(parts) {
		bad = append(bad, paved.FieldError{Field: "repo", Message: "must be owner/name"})
	}
	if cfg.Token == "" {
		bad = append(bad, paved.FieldError{Field: "token", Message: "is required"})
	}
	if len(bad) > 0 {
		return nil, paved.InvalidFields(bad...)
	}
	hc := cfg.Client
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{cfg: cfg, api: api, http: hc, impl: impl}, nil
}

func slicesHasEmpty(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return true
		}
	}
	return false
}

// EnsurePullRequest returns the pull request of s.Branch, opening it when
// there is none and bringing an open one's title and body up to date.
// created says whether this call opened it. A merged one is returned as is
// (State merged); one closed without merging is an EConflict naming it.
func (c *Client) EnsurePullRequest(ctx context.Context, s Spec) (pr paved.PullRequest, created bool, err error) {
	found, err := c.impl.find(ctx, c, s)
	if err != nil {
		return paved.PullRequest{}, false, err
	}
	switch {
	case found == nil:
		pr, err = c.impl.create(ctx, c, s)
		return pr, err == nil, err
	case found.State == paved.PullRequestClosed:
		return *found, false, &paved.Error{Code: paved.EConflict, Message: fmt.Sprintf(
			"pull request #%d (%s) for branch %q was closed without merging; paved does not reopen it: reopen it, or delete the branch to ask again", found.Number, found.URL, s.Branch)}
	case found.State == paved.PullRequestMerged:
		return *found, false, nil
	case found.Title == s.Title && found.Body == s.Body:
		return *found, false, nil
	default:
		pr, err = c.impl.update(ctx, c, found.Number, s)
		return pr, false, err
	}
}

// PullRequest reads one pull request by number.
func (c *Client) PullRequest(ctx context.Context, number int) (paved.PullRequest, error) {
	return c.impl.get(ctx, c, number)
}

// maxBody bounds what paved reads of one answer.
const maxBody = 4 << 20

// do sends one API call; out (when not nil) receives a 2xx answer's JSON.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	switch c.cfg.Kind {
	case GitHub:
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	case GitLab:
		req.Header.Set("PRIVATE-TOKEN", c.cfg.Token)
	default:
		req.Header.Set("Authorization", "token "+c.cfg.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &paved.Error{Code: paved.EUnavailable, Message: fmt.Sprintf("%s is unreachable", c.cfg.Kind), Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &paved.Error{Code: paved.EUnavailable, Message: fmt.Sprintf("reading %s's answer failed", c.cfg.Kind), Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return c.apiError(method, path, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &paved.Error{Code: paved.EUnavailable, Message: fmt.Sprintf("%s answered %s %s with something that is not its API's JSON", c.cfg.Kind, method, path), Err: err}
	}
	return nil
}

// apiError maps a forge's refusal to paved's codes, keeping its message
// (which names what is wrong, e.g. "head: branch not found") but never the token.
func (c *Client) apiError(method, path string, status int, raw []byte) error {
	var e struct {
		Message any `json:"message"`
		Error   string
		// GitHub's validation errors: a message, or resource, field and code.
		Errors []struct {
			Message string `json:"message"`
			Field   string `json:"field"`
			Code    string `json:"code"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(raw, &e)
	var parts []string
	switch m := e.Message.(type) {
	case string:
		parts = append(parts, m)
	case nil:
	default: // GitLab sends {"message": {"field": ["…"]}} or a list
		if b, err := json.Marshal(m); err == nil {
			parts = append(parts, string(b))
		}
	}
	if e.Error != "" {
		parts = append(parts, e.Error)
	}
	for _, x := range e.Errors {
		switch {
		case x.Message != "":
			parts = append(parts, x.Message)
		case x.Code != "":
			parts = append(parts, strings.TrimSpace(x.Field+" "+x.Code))
		}
	}
	msg := strings.Join(parts, ": ")
	if msg == "" {
		msg = http.StatusText(status)
	}
	msg = strings.ReplaceAll(msg, c.cfg.Token, "***")
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	code := paved.EUnavailable
	switch {
	case status == http.StatusUnauthorized:
		code = paved.EUnavailable // paved's credentials, not the caller's
		msg = "paved's token was refused: " + msg
	case status == http.StatusForbidden:
		code = paved.EUnavailable
		msg = "paved's token may not do this: " + msg
	case status == http.StatusNotFound:
		code = paved.ENotFound
	case status == http.StatusConflict || status == http.StatusUnprocessableEntity:
		code = paved.EConflict
	}
	return &paved.Error{Code: code, Message: fmt.Sprintf("%s refused %s %s (%d): %s", c.cfg.Kind, method, path, status, msg)}
}

// repoPath is owner/name with each part escaped for a URL path.
func repoPath(repo string) string {
	parts := strings.Split(repo, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
