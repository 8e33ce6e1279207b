package backstage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/paved-dev/paved"
)

// TokenSource hands out the token paved presents to a Backstage plugin.
// *Signer is one; StaticTokenSource is the other.
type TokenSource interface {
	PluginToken(ctx context.Context, audience string) (string, error)
}

var _ TokenSource = (*Signer)(nil)

// StaticTokenSource presents the same token to every plugin: a token listed
// in Backstage's backend.auth.externalAccess.
type StaticTokenSource string

// PluginToken returns the static token.
func (s StaticTokenSource) PluginToken(context.Context, string) (string, error) {
	return string(s), nil
}

// maxResponseBytes bounds one response held in memory.
const maxResponseBytes = 64 << 20

// pluginAPI calls one Backstage plugin's API with paved's token for it.
type pluginAPI struct {
	pluginID  string
	discovery *Discovery
	tokens    TokenSource
	client    *http.Client
}

func newPluginAPI(pluginID string, d *Discovery, tokens TokenSource, client *http.Client) pluginAPI {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return pluginAPI{pluginID: pluginID, discovery: d, tokens: tokens, client: client}
}

func (a pluginAPI) get(ctx context.Context, path string, q url.Values, out any) error {
	return a.do(ctx, http.MethodGet, path, q, nil, out)
}

// post sends in as JSON and decodes the answer into out (nil: ignored).
func (a pluginAPI) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return a.do(ctx, http.MethodPost, path, nil, body, out)
}

func (a pluginAPI) do(ctx context.Context, method, path string, q url.Values, payload []byte, out any) error {
	base, err := a.discovery.BaseURL(a.pluginID)
	if err != nil {
		return err
	}
	token, err := a.tokens.PluginToken(ctx, a.pluginID)
	if err != nil {
		return err
	}
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var reqBody io.Reader
	if payload != nil {
		reqBody = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, reqBody)
	if err != nil {
		return err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return paved.Wrap(paved.EUnavailable, err, "%s unreachable", a.pluginID)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return paved.Wrap(paved.EUnavailable, err, "read %s response", a.pluginID)
	}
	if len(body) > maxResponseBytes {
		return paved.Errorf(paved.EUnavailable, "%s response larger than %d bytes", a.pluginID, maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return responseError(a.pluginID, resp.StatusCode, body)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode %s response: %w", a.pluginID, err)
	}
	return nil
}

// responseError turns a Backstage error answer into a coded error that keeps
// Backstage's message.
func responseError(pluginID string, status int, body []byte) error {
	var e struct {
		Error struct {
			Name    string `json:"name"`
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := http.StatusText(status)
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	code := paved.EInternal
	switch {
	case status == http.StatusNotFound:
		code = paved.ENotFound
	case status == http.StatusBadRequest:
		code = paved.EInvalid
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		// Backstage refusing paved's own token is a set-up fault between the
		// two, not the caller's: a 503 that says so (a plain 500 would reach
		// the task log and MCP clients without its reason).
		return paved.Wrap(paved.EUnavailable, errors.New(msg),
			"%s refused paved's service token (%d %s): check that Backstage trusts the paved plugin (discovery of paved's JWKS, backend.auth)",
			pluginID, status, msg)
	case status >= 500:
		code = paved.EUnavailable
	}
	return paved.Wrap(code, errors.New(msg), "%s: %s", pluginID, msg)
}
