package backstage

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/paved-dev/paved"
)

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
	Etag        string            `json:"etag,omitempty"`
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
	api pluginAPI
}

// NewCatalogClient returns a client of the catalog plugin found through d.
// A nil client uses one with a 30s timeout.
func NewCatalogClient(d *Discovery, tokens TokenSource, client *http.Client) *CatalogClient {
	return &CatalogClient{api: newPluginAPI("catalog", d, tokens, client)}
}

// GetEntityByRef returns one entity; a missing one is ENotFound.
func (c *CatalogClient) GetEntityByRef(ctx context.Context, ref string) (Entity, error) {
	kind, ns, name, err := ParseEntityRef(ref, "")
	if err != nil {
		return Entity{}, err
	}
	var e Entity
	path := "/entities/by-name/" + url.PathEscape(kind) + "/" + url.PathEscape(ns) + "/" + url.PathEscape(name)
	if err := c.api.get(ctx, path, nil, &e); err != nil {
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
		if err := c.api.get(ctx, "/entities/by-query", q, &page); err != nil {
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

// UserGroups returns the refs of the groups userRef is a member of, from
// the memberOf relations and spec.memberOf of the user entity, lower-cased
// as Backstage compares refs.
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
	seen := map[string]bool{}
	var groups []string
	add := func(ref string) {
		k, gns, gname, err := ParseEntityRef(ref, "group")
		if err != nil {
			return
		}
		g := strings.ToLower(k + ":" + gns + "/" + gname)
		if !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	for _, r := range e.Relations {
		if r.Type == "memberOf" {
			add(r.TargetRef)
		}
	}
	if refs, ok := e.Spec["memberOf"].([]any); ok {
		for _, r := range refs {
			if s, ok := r.(string); ok {
				add(s)
			}
		}
	}
	return groups, nil
}
