package backstage

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved"
)

// memKeyStore is the KeyStore contract in memory; the SQL stores implement
// the same semantics.
type memKeyStore struct {
	mu   sync.Mutex
	keys []paved.SigningKey // oldest first
}

var _ KeyStore = (*memKeyStore)(nil)

func (m *memKeyStore) AddSigningKey(_ context.Context, k paved.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, k)
	return nil
}

func (m *memKeyStore) SigningKeys(context.Context) ([]paved.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.keys)
	slices.Reverse(out)
	return out, nil
}

func (m *memKeyStore) RetireSigningKeys(_ context.Context, exceptKID string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].KID != exceptKID && m.keys[i].RetiredAt.IsZero() {
			m.keys[i].RetiredAt = at
		}
	}
	return nil
}

func (m *memKeyStore) DeleteSigningKeysRetiredBefore(_ context.Context, t time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.keys)
	m.keys = slices.DeleteFunc(m.keys, func(k paved.SigningKey) bool { return !k.RetiredAt.IsZero() && k.RetiredAt.Before(t) })
	return n - len(m.keys), nil
}

func (m *memKeyStore) ReplaceSigningKeyPrivate(_ context.Context, kid string, prev, next []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].KID == kid && bytes.Equal(m.keys[i].PrivateKeyPEM, prev) {
			m.keys[i].PrivateKeyPEM = next
			return true, nil
		}
	}
	return false, nil
}

// signerHarness serves a Signer's JWKS where Backstage's discovery would
// find the "paved" plugin, and verifies its tokens as the catalog would.
type signerHarness struct {
	store *memKeyStore
	clock *clock
	srv   *httptest.Server
	jwks  *Signer // the replica that serves the JWKS
}

func newSignerHarness(t *testing.T) *signerHarness {
	t.Helper()
	h := &signerHarness{store: &memKeyStore{}, clock: newClock()}
	h.jwks = h.newSigner(t)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/paved"+pluginJWKSPath {
			http.NotFound(w, r)
			return
		}
		body, err := h.jwks.JWKS(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *signerHarness) newSigner(t *testing.T) *Signer {
	t.Helper()
	s, err := NewSigner(context.Background(), h.store, "paved", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.now = h.clock.Now
	return s
}

// catalogVerifier verifies tokens the way Backstage's catalog plugin does.
func (h *signerHarness) catalogVerifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{
		PluginID:           "catalog",
		Discovery:          NewDiscovery("http://127.0.0.1:1/api/{{pluginId}}", map[string]string{"paved": h.srv.URL + "/api/paved"}),
		AllowedPlugins:     []string{"paved"},
		HTTPClient:         h.srv.Client(),
		MinRefetchInterval: time.Nanosecond,
		Now:                h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (h *signerHarness) publishedKIDs(t *testing.T, s *Signer) []string {
	t.Helper()
	body, err := s.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set jwkSet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" {
			t.Fatalf("published key %+v is not an ES256 JWK", k)
		}
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}

func TestSignerTokenVerifiesThroughJWKS(t *testing.T) {
	h := newSignerHarness(t)
	ctx := context.Background()
	tok, err := h.jwks.PluginToken(ctx, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.catalogVerifier(t).Authenticate(ctx, "Bearer "+tok)
	if err != nil {
		t.Fatalf("catalog rejects paved's token: %v", err)
	}
	if p.Kind != paved.PrincipalPlugin || p.Subject != "paved" {
		t.Fatalf("principal = %+v", p)
	}
	// The same token is meant for the catalog only.
	scaffolder := h.catalogVerifier(t)
	scaffolder.pluginID = "scaffolder"
	scaffolder.validator = newPluginValidator("scaffolder", scaffolder.leeway, scaffolder.now)
	if _, err := scaffolder.Authenticate(ctx, "Bearer "+tok); paved.ErrorCode(err) != paved.EUnauthenticated {
		t.Fatalf("scaffolder accepted a catalog token: %v", err)
	}
}

func TestSignerCachesTokensPerAudience(t *testing.T) {
	h := newSignerHarness(t)
	ctx := context.Background()
	a1, _ := h.jwks.PluginToken(ctx, "catalog")
	a2, _ := h.jwks.PluginToken(ctx, "catalog")
	b, _ := h.jwks.PluginToken(ctx, "scaffolder")
	if a1 != a2 || a1 == b {
		t.Fatal("want one cached token per audience")
	}
	h.clock.Advance(31 * time.Minute) // past half the token's life
	a3, _ := h.jwks.PluginToken(ctx, "catalog")
	if a3 == a1 {
		t.Fatal("token not renewed after half its life")
	}
	if _, err := h.jwks.PluginToken(ctx, "../catalog"); paved.ErrorCode(err) != paved.EInvalid {
		t.Fatalf("bad audience: %v", err)
	}
}

func TestSignerRotationKeepsOldKeyUntilItsTokensExpire(t *testing.T) {
	h := newSignerHarness(t)
	ctx := context.Background()
	catalog := h.catalogVerifier(t)
	oldTok, _ := h.jwks.PluginToken(ctx, "catalog")
	if _, err := catalog.Authenticate(ctx, "Bearer "+oldTok); err != nil {
		t.Fatal(err)
	}
	oldKIDs := h.publishedKIDs(t, h.jwks)
	if len(oldKIDs) != 1 {
		t.Fatalf("kids = %v, want one", oldKIDs)
	}

	h.clock.Advance(time.Minute)
	newKID, err := h.jwks.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kids := h.publishedKIDs(t, h.jwks); len(kids) != 2 || !slices.Contains(kids, newKID) {
		t.Fatalf("after rotation kids = %v, want old and %s", kids, newKID)
	}
	newTok, _ := h.jwks.PluginToken(ctx, "catalog")
	if newTok == oldTok {
		t.Fatal("rotation kept the cached token")
	}
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := catalog.Authenticate(ctx, "Bearer "+tok); err != nil {
			t.Fatalf("%s token after rotation: %v", name, err)
		}
	}

	// Once every token of the old key has expired, the key leaves the JWKS
	// and the next rotation deletes it from the store.
	h.clock.Advance(time.Hour + publishGrace + time.Second)
	if kids := h.publishedKIDs(t, h.jwks); !slices.Equal(kids, []string{newKID}) {
		t.Fatalf("kids = %v, want only %s", kids, newKID)
	}
	if _, err := h.jwks.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	keys, _ := h.store.SigningKeys(ctx)
	if len(keys) != 2 || keys[1].KID != newKID {
		t.Fatalf("store holds %d keys, want the two newest", len(keys))
	}
}

func TestSignerReplicasShareRotatedKeys(t *testing.T) {
	h := newSignerHarness(t)
	ctx := context.Background()
	other := h.newSigner(t) // a second replica over the same store
	if a, b := h.publishedKIDs(t, h.jwks), h.publishedKIDs(t, other); !slices.Equal(a, b) || len(a) != 1 {
		t.Fatalf("replicas disagree on keys at start: %v vs %v", a, b)
	}
	kid, err := other.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The first replica signs new tokens with the key the other one created,
	// and serves it in its JWKS.
	tok, err := h.jwks.PluginToken(ctx, "scaffolder")
	if err != nil {
		t.Fatal(err)
	}
	jt, err := splitJWT(tok)
	if err != nil {
		t.Fatal(err)
	}
	if jt.header.Kid != kid {
		t.Fatalf("replica signs with %s, want rotated %s", jt.header.Kid, kid)
	}
	if !slices.Contains(h.publishedKIDs(t, h.jwks), kid) {
		t.Fatal("replica does not publish the rotated key")
	}
	catalogTok, _ := other.PluginToken(ctx, "catalog")
	if _, err := h.catalogVerifier(t).Authenticate(ctx, "Bearer "+catalogTok); err != nil {
		t.Fatalf("token of one replica through the JWKS of another: %v", err)
	}
}

func TestNewSignerReusesStoredKey(t *testing.T) {
	h := newSignerHarness(t)
	again := h.newSigner(t)
	if a, b := h.publishedKIDs(t, h.jwks), h.publishedKIDs(t, again); !slices.Equal(a, b) || len(a) != 1 {
		t.Fatalf("second signer created a key: %v vs %v", a, b)
	}
}

func BenchmarkSignerPluginTokenCached(b *testing.B) {
	s, err := NewSigner(context.Background(), &memKeyStore{}, "paved", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.PluginToken(ctx, "catalog"); err != nil {
			b.Fatal(err)
		}
	}
}
