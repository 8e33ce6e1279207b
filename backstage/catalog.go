package backstage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

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

// Entity is a catalog entity as paved reads it.
type Entity struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   EntityMeta     `json:"metadata"`
	Spec       map[string]any `json:"spec,omitempty"`
	Relations  []Relation     `json:"relations,omitempty"`
}

// EntityMeta is an entity's metadata.
type EntityMeta struct {
	UID         string            `json:"uid,omitempty"`
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
}

// Relation is one relation of an entity, e.g. memberOf → group:default/sre.
type Relation struct {
	Type      string `json:"type"`
	TargetRef string `json:"targetRef"`
}

// Ref returns the entity's ref, "kind:namespace/name", lower-cased as
// Backstage compares refs.
func (e Entity) Ref() string {
	ns := e.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	return strings.ToLower(e.Kind + ":" + ns + "/" + e.Metadata.Name)
}

// ParseEntityRef splits "kind:namespace/name"; the namespace defaults to
// "default" and the kind to defaultKind when the ref omits them.
func ParseEntityRef(ref, defaultKind string) (kind, namespace, name string, err error) {
	rest := ref
	if k, r, ok := strings.Cut(rest, ":"); ok {
		kind, rest = k, r
	} else {
		kind = defaultKind
	}
	namespace = "default"
	if ns, n, ok := strings.Cut(rest, "/"); ok {
		namespace, rest = ns, n
	}
	name = rest
	if kind == "" || namespace == "" || name == "" || strings.ContainsAny(name, ":/") {
		return "", "", "", paved.Errorf(paved.EInvalid, "invalid entity ref %q", ref)
	}
	return kind, namespace, name, nil
}

// CatalogClient reads Backstage's catalog API as the plugin paved.
type CatalogClient struct {
	discovery *Discovery
	tokens    TokenSource
	client    *http.Client
}

// NewCatalogClient returns a client of the catalog plugin found through d.
// A nil client uses http.DefaultClient.
func NewCatalogClient(d *Discovery, tokens TokenSource, client *http.Client) *CatalogClient {
	if client == nil {
		client = http.DefaultClient
	}
	return &CatalogClient{discovery: d, tokens: tokens, client: client}
}

// GetEntityByRef returns one entity; a missing one is ENotFound.
func (c *CatalogClient) GetEntityByRef(ctx context.Context, ref string) (Entity, error) {
	kind, ns, name, err := ParseEntityRef(ref, "")
	if err != nil {
		return Entity{}, err
	}
	var e Entity
	path := "/entities/by-name/" + url.PathEscape(kind) + "/" + url.PathEscape(ns) + "/" + url.PathEscape(name)
	if err := c.get(ctx, path, nil, &e); err != nil {
		return Entity{}, err
	}
	return e, nil
}

// queryPageSize is the page size of by-query; the catalog caps it anyway.
const queryPageSize = 500

// QueryEntities returns every entity matching filter (the catalog's filter
// syntax, e.g. "kind=component,spec.type=service"), following the cursor
// through all pages. fields limits the returned fields ("metadata.name",
// "kind"), nil returns whole entities.
func (c *CatalogClient) QueryEntities(ctx context.Context, filter string, fields []string) ([]Entity, error) {
	q := url.Values{"limit": {strconv.Itoa(queryPageSize)}}
	if filter != "" {
		q.Set("filter", filter)
	}
	if len(fields) > 0 {
		q.Set("fields", strings.Join(fields, ","))
	}
	var all []Entity
	for {
		var page struct {
			Items    []Entity `json:"items"`
			PageInfo struct {
				NextCursor string `json:"nextCursor"`
			} `json:"pageInfo"`
		}
		if err := c.get(ctx, "/entities/by-query", q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.PageInfo.NextCursor == "" || len(page.Items) == 0 {
			return all, nil
		}
		// The cursor carries the filter; fields are not part of it.
		q.Del("filter")
		q.Set("cursor", page.PageInfo.NextCursor)
	}
}

// UserGroups returns the refs of the groups userRef is a member of, from the
// memberOf relations of the user entity.
func (c *CatalogClient) UserGroups(ctx context.Context, userRef string) ([]string, error) {
	kind, ns, name, err := ParseEntityRef(userRef, "user")
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(kind, "user") {
		return nil, paved.Errorf(paved.EInvalid, "%q is not a user ref", userRef)
	}
	e, err := c.GetEntityByRef(ctx, "user:"+ns+"/"+name)
	if err != nil {
		return nil, err
	}
	var groups []string
	for _, r := range e.Relations {
		if r.Type == "memberOf" {
			groups = append(groups, r.TargetRef)
		}
	}
	return groups, nil
}

// maxCatalogBytes bounds one catalog response held in memory.
const maxCatalogBytes = 64 << 20

func (c *CatalogClient) get(ctx context.Context, path string, q url.Values, out any) error {
	base, err := c.discovery.BaseURL("catalog")
	if err != nil {
		return err
	}
	token, err := c.tokens.PluginToken(ctx, "catalog")
	if err != nil {
		return err
	}
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return paved.Wrap(paved.EUnavailable, err, "catalog unreachable")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCatalogBytes+1))
	if err != nil {
		return paved.Wrap(paved.EUnavailable, err, "read catalog response")
	}
	if len(body) > maxCatalogBytes {
		return paved.Errorf(paved.EUnavailable, "catalog response larger than %d bytes", maxCatalogBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return responseError(resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode catalog response: %w", err)
	}
	return nil
}

// responseError turns a Backstage error answer into a coded error that keeps
// Backstage's message.
func responseError(status int, body []byte) error {
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
		// Backstage refusing paved is paved's misconfiguration, not the caller's.
		code = paved.EInternal
	case status >= 500:
		code = paved.EUnavailable
	}
	return paved.Wrap(code, errors.New(msg), "catalog: %s", msg)
}
