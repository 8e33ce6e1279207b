package backstage

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved"
)

// fakeCatalog speaks the catalog's read API and authenticates callers the
// way the catalog does, with paved's JWKS served beside it.
func fakeCatalog(t *testing.T, entities []Entity) (*Discovery, *Signer) {
	t.Helper()
	store := &memKeyStore{}
	signer, err := NewSigner(context.Background(), store, "paved", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var verifier *Verifier
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/paved"+pluginJWKSPath {
			b, _ := signer.JWKS(r.Context())
			_, _ = w.Write(b)
			return
		}
		if _, err := verifier.Authenticate(r.Context(), r.Header.Get("Authorization")); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"name":"AuthenticationError","message":"Illegal token"},"response":{"statusCode":401}}`))
			return
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/catalog/entities/by-name/"):
			parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/catalog/entities/by-name/"), "/")
			for _, e := range entities {
				if e.Ref() == strings.ToLower(parts[0]+":"+parts[1]+"/"+parts[2]) {
					_ = json.NewEncoder(w).Encode(e)
					return
				}
			}
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"name":"NotFoundError","message":"No entity named 'x' found"}}`))
		case r.URL.Path == "/api/catalog/entities/by-query":
			q := r.URL.Query()
			filter := q.Get("filter")
			offset := 0
			if c := q.Get("cursor"); c != "" {
				// The fake's cursor is "<filter>|<offset>".
				f, off, _ := strings.Cut(c, "|")
				filter = f
				offset, _ = strconv.Atoi(off)
			} else if q.Get("limit") != "500" {
				http.Error(w, "want limit", 400)
				return
			}
			var matching []Entity
			for _, e := range entities {
				if filter == "" || "kind="+strings.ToLower(e.Kind) == filter {
					matching = append(matching, e)
				}
			}
			const pageSize = 2
			end := min(offset+pageSize, len(matching))
			resp := map[string]any{"items": matching[offset:end], "totalItems": len(matching), "pageInfo": map[string]any{}}
			if end < len(matching) {
				resp["pageInfo"] = map[string]any{"nextCursor": filter + "|" + strconv.Itoa(end)}
			}
			_ = json.NewEncoder(w).Encode(resp)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	d := NewDiscovery(srv.URL+"/api/{{pluginId}}", nil)
	verifier, err = NewVerifier(VerifierConfig{PluginID: "catalog", Discovery: d, AllowedPlugins: []string{"paved"}, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return d, signer
}

func TestCatalogClient(t *testing.T) {
	jane := Entity{APIVersion: "backstage.io/v1alpha1", Kind: "User", Metadata: EntityMeta{Name: "jane", Namespace: "default"},
		Relations: []Relation{{Type: "memberOf", TargetRef: "group:default/platform"}, {Type: "ownerOf", TargetRef: "component:default/x"},
			{Type: "memberOf", TargetRef: "group:default/sre"}}}
	entities := []Entity{jane}
	for i := range 5 {
		entities = append(entities, Entity{Kind: "Component", Metadata: EntityMeta{Name: "c" + strconv.Itoa(i)}})
	}
	d, signer := fakeCatalog(t, entities)
	c := NewCatalogClient(d, signer, nil)
	ctx := context.Background()

	e, err := c.GetEntityByRef(ctx, "user:default/jane")
	if err != nil || e.Metadata.Name != "jane" {
		t.Fatalf("GetEntityByRef = %+v, %v", e, err)
	}
	if _, err := c.GetEntityByRef(ctx, "component:default/missing"); paved.ErrorCode(err) != paved.ENotFound {
		t.Fatalf("missing entity: %v", err)
	}
	if _, err := c.GetEntityByRef(ctx, "no-kind"); paved.ErrorCode(err) != paved.EInvalid {
		t.Fatalf("ref without kind: %v", err)
	}

	components, err := c.QueryEntities(ctx, "kind=component", []string{"metadata.name"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range components {
		names = append(names, e.Metadata.Name)
	}
	if !slices.Equal(names, []string{"c0", "c1", "c2", "c3", "c4"}) {
		t.Fatalf("paged query = %v", names)
	}

	groups, err := c.UserGroups(ctx, "jane")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(groups, []string{"group:default/platform", "group:default/sre"}) {
		t.Fatalf("groups = %v", groups)
	}
	if _, err := c.UserGroups(ctx, "group:default/sre"); paved.ErrorCode(err) != paved.EInvalid {
		t.Fatalf("group ref as user: %v", err)
	}

	bad := NewCatalogClient(d, StaticTokenSource("wrong-token"), nil)
	_, err = bad.GetEntityByRef(ctx, "user:default/jane")
	// Backstage refusing paved's own token is not the caller's fault and
	// must not be a bare 500: a 503 naming what to check.
	if paved.ErrorCode(err) != paved.EUnavailable || !strings.Contains(err.Error(), "Illegal token") ||
		!strings.Contains(err.Error(), "refused paved's service token") {
		t.Fatalf("rejected token: %v", err)
	}
}

func TestParseEntityRef(t *testing.T) {
	tests := []struct {
		ref, defKind, kind, ns, name string
		ok                           bool
	}{
		{"component:default/x", "", "component", "default", "x", true},
		{"user:jane", "", "user", "default", "jane", true},
		{"team-a/jane", "user", "user", "team-a", "jane", true},
		{"jane", "", "", "", "", false},
		{"user:a/b/c", "", "", "", "", false},
		{"user:default/", "", "", "", "", false},
	}
	for _, tt := range tests {
		kind, ns, name, err := ParseEntityRef(tt.ref, tt.defKind)
		if (err == nil) != tt.ok || kind != tt.kind || ns != tt.ns || name != tt.name {
			t.Errorf("ParseEntityRef(%q) = %q %q %q %v", tt.ref, kind, ns, name, err)
		}
	}
}

func TestDiscovery(t *testing.T) {
	d := NewDiscovery("http://127.0.0.1:7007/api/{{ pluginId }}/", map[string]string{"paved": "http://paved:7010/api/{{pluginId}}"})
	for id, want := range map[string]string{
		"catalog": "http://127.0.0.1:7007/api/catalog",
		"paved":   "http://paved:7010/api/paved",
	} {
		if got, err := d.BaseURL(id); err != nil || got != want {
			t.Errorf("BaseURL(%s) = %q, %v; want %q", id, got, err, want)
		}
	}
	if _, err := d.BaseURL("../x"); err == nil {
		t.Error("invalid plugin id accepted")
	}
	if _, err := NewDiscovery("", nil).BaseURL("catalog"); err == nil {
		t.Error("empty discovery resolved a plugin")
	}
}
