package backstage

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-dev/paved"
)

// fakeBackstage serves the JWKS endpoints of a Backstage backend: each
// plugin's service keys and the auth plugin's user-token keys.
type fakeBackstage struct {
	srv *httptest.Server

	mu      sync.Mutex
	keys    map[string][]testKey // JWKS path → published keys
	down    atomic.Bool
	fetches sync.Map // path → *atomic.Int64
}

type testKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

func newFakeBackstage(t testing.TB) *fakeBackstage {
	t.Helper()
	f := &fakeBackstage{keys: map[string][]testKey{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := f.fetches.LoadOrStore(r.URL.Path, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		f.mu.Lock()
		keys, ok := f.keys[r.URL.Path]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		set := jwkSet{Keys: []jwk{}}
		for _, k := range keys {
			j, err := publicJWK(k.kid, &k.priv.PublicKey)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			set.Keys = append(set.Keys, j)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func pluginJWKS(plugin string) string { return "/api/" + plugin + pluginJWKSPath }

const authJWKS = "/api/auth" + authJWKSPath

// addKey publishes a new key at path and returns it.
func (f *fakeBackstage) addKey(t testing.TB, path string) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := testKey{kid: rand.Text(), priv: priv}
	f.mu.Lock()
	f.keys[path] = append(f.keys[path], k)
	f.mu.Unlock()
	return k
}

func (f *fakeBackstage) fetchCount(path string) int64 {
	c, ok := f.fetches.Load(path)
	if !ok {
		return 0
	}
	return c.(*atomic.Int64).Load()
}

func (f *fakeBackstage) discovery() *Discovery {
	return NewDiscovery(f.srv.URL+"/api/{{ pluginId }}", nil)
}

// clock is a settable time source for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_750_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mint signs claims as Backstage would, with header typ and kid.
func mint(t testing.TB, k testKey, typ string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = typ
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pluginClaimsAt(now time.Time, sub, aud string) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// rawJWT assembles a token from header and claims and a signature over them.
func rawJWT(t testing.TB, header, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(input)))
}

type fixture struct {
	bs         *fakeBackstage
	clock      *clock
	v          *Verifier
	scaffolder testKey
	mcp        testKey
	catalog    testKey
	auth       testKey
}

func newFixture(t testing.TB, mutate ...func(*VerifierConfig)) *fixture {
	t.Helper()
	f := &fixture{bs: newFakeBackstage(t), clock: newClock()}
	f.scaffolder = f.bs.addKey(t, pluginJWKS("scaffolder"))
	f.mcp = f.bs.addKey(t, pluginJWKS("mcp-actions"))
	f.catalog = f.bs.addKey(t, pluginJWKS("catalog"))
	f.auth = f.bs.addKey(t, authJWKS)
	cfg := VerifierConfig{
		PluginID:       "paved",
		Discovery:      f.bs.discovery(),
		AllowedPlugins: []string{"scaffolder", "mcp-actions"},
		Leeway:         10 * time.Second,
		StaticTokens:   []StaticToken{{Token: "cli-token-0123456789", Subject: "cli"}, {Token: "ci-token-abcdefgh", Subject: "ci"}},
		HTTPClient:     f.bs.srv.Client(),
		Now:            f.clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

func (f *fixture) limitedUser(t testing.TB, k testKey, sub string, exp time.Time) string {
	return mint(t, k, TypLimitedUser, jwt.MapClaims{"sub": sub, "iat": f.clock.Now().Unix(), "exp": exp.Unix()})
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	valid := func() jwt.MapClaims { return pluginClaimsAt(now, "scaffolder", "paved") }
	with := func(c jwt.MapClaims, k string, val any) jwt.MapClaims {
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubBytes, _ := f.scaffolder.priv.PublicKey.Bytes()
	otherKey := testKey{kid: f.scaffolder.kid}
	otherKey.priv, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	validToken := mint(t, f.scaffolder, TypPlugin, valid())
	parts := strings.Split(validToken, ".")
	tamperedClaims, _ := json.Marshal(with(valid(), "exp", now.Add(100*time.Hour).Unix()))

	tests := []struct {
		name    string
		header  string
		want    paved.Principal
		code    paved.Code
		message string // part of the error message, when code is set
	}{
		{name: "valid plugin token", header: "Bearer " + validToken,
			want: paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder"}},
		{name: "scheme is case-insensitive", header: "bearer " + mint(t, f.mcp, TypPlugin, pluginClaimsAt(now, "mcp-actions", "paved")),
			want: paved.Principal{Kind: paved.PrincipalPlugin, Subject: "mcp-actions"}},
		{name: "no header", header: "", code: paved.EUnauthenticated, message: "missing bearer token"},
		{name: "basic auth", header: "Basic dXNlcjpwYXNz", code: paved.EUnauthenticated, message: "missing bearer token"},
		{name: "garbage", header: "Bearer not-a-token", code: paved.EUnauthenticated, message: "malformed"},
		{name: "alg none", code: paved.EUnauthenticated, message: "algorithm",
			header: "Bearer " + rawJWT(t, map[string]any{"alg": "none", "typ": TypPlugin, "kid": f.scaffolder.kid}, valid(),
				func([]byte) []byte { return nil })},
		{name: "HS256 signed with the public key", code: paved.EUnauthenticated, message: "algorithm",
			header: "Bearer " + rawJWT(t, map[string]any{"alg": "HS256", "typ": TypPlugin, "kid": f.scaffolder.kid}, valid(),
				func(in []byte) []byte { m := hmac.New(sha256.New, pubBytes); m.Write(in); return m.Sum(nil) })},
		{name: "RS256", code: paved.EUnauthenticated, message: "algorithm",
			header: "Bearer " + func() string {
				tok := jwt.NewWithClaims(jwt.SigningMethodRS256, valid())
				tok.Header["typ"], tok.Header["kid"] = TypPlugin, f.scaffolder.kid
				s, err := tok.SignedString(rsaKey)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}()},
		{name: "ES256 header over a foreign key with a known kid", code: paved.EUnauthenticated, message: "bad signature",
			header: "Bearer " + mint(t, otherKey, TypPlugin, valid())},
		{name: "wrong aud", code: paved.EUnauthenticated, message: "wrong audience",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin, pluginClaimsAt(now, "scaffolder", "catalog"))},
		{name: "missing aud", code: paved.EUnauthenticated, message: "missing iat, exp or aud",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin, with(valid(), "aud", nil))},
		{name: "wrong typ", code: paved.EUnauthenticated, message: "unsupported token type",
			header: "Bearer " + mint(t, f.scaffolder, "JWT", valid())},
		{name: "missing kid", code: paved.EUnauthenticated, message: "no key id",
			header: "Bearer " + mint(t, testKey{priv: f.scaffolder.priv}, TypPlugin, valid())},
		{name: "unknown kid", code: paved.EUnauthenticated, message: "unknown signing key",
			header: "Bearer " + mint(t, testKey{kid: "nope", priv: f.scaffolder.priv}, TypPlugin, valid())},
		{name: "another plugin's key", code: paved.EUnauthenticated, message: "unknown signing key",
			header: "Bearer " + mint(t, f.mcp, TypPlugin, valid())},
		{name: "expired", code: paved.EUnauthenticated, message: "expired",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin, with(valid(), "exp", now.Add(-time.Minute).Unix()))},
		{name: "expired within leeway", want: paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder"},
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin, with(valid(), "exp", now.Add(-5*time.Second).Unix()))},
		{name: "missing exp", code: paved.EUnauthenticated, message: "missing iat, exp or aud",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin, with(valid(), "exp", nil))},
		{name: "missing iat", code: paved.EUnauthenticated, message: "missing iat, exp or aud",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin, with(valid(), "iat", nil))},
		{name: "iat in the future", code: paved.EUnauthenticated, message: "issued in the future",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin, with(valid(), "iat", now.Add(5*time.Minute).Unix()))},
		{name: "tampered payload", code: paved.EUnauthenticated, message: "bad signature",
			header: "Bearer " + parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedClaims) + "." + parts[2]},
		{name: "tampered signature", code: paved.EUnauthenticated, message: "bad signature",
			header: "Bearer " + parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))},
		{name: "plugin not allowed", code: paved.EForbidden, message: `plugin "catalog" may not call paved`,
			header: "Bearer " + mint(t, f.catalog, TypPlugin, pluginClaimsAt(now, "catalog", "paved"))},
		{name: "bad sub", code: paved.EUnauthenticated, message: "bad subject",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin, pluginClaimsAt(now, "../auth", "paved"))},
		{name: "empty sub", code: paved.EUnauthenticated, message: "bad subject",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin, with(valid(), "sub", nil))},
		{name: "obo user extracted",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin,
				with(valid(), "obo", f.limitedUser(t, f.auth, "user:default/jane", now.Add(time.Hour)))),
			want: paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/jane"}},
		{name: "obo signed by a plugin key", code: paved.EUnauthenticated, message: "on-behalf-of",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin,
				with(valid(), "obo", f.limitedUser(t, f.scaffolder, "user:default/jane", now.Add(time.Hour))))},
		{name: "obo expired", code: paved.EUnauthenticated, message: "on-behalf-of",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin,
				with(valid(), "obo", f.limitedUser(t, f.auth, "user:default/jane", now.Add(-time.Hour))))},
		{name: "obo of a plugin type", code: paved.EUnauthenticated, message: "on-behalf-of",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin,
				with(valid(), "obo", mint(t, f.auth, TypPlugin, pluginClaimsAt(now, "scaffolder", "paved"))))},
		{name: "obo garbage", code: paved.EUnauthenticated, message: "on-behalf-of",
			header: "Bearer " + mint(t, f.scaffolder, TypPlugin, with(valid(), "obo", "x.y.z"))},
		{name: "static token", header: "Bearer ci-token-abcdefgh",
			want: paved.Principal{Kind: paved.PrincipalStatic, Subject: "ci"}},
		{name: "static token prefix", header: "Bearer ci-token-abcdefg", code: paved.EUnauthenticated, message: "malformed"},
		{name: "user token",
			header: "Bearer " + mint(t, f.auth, TypUser, jwt.MapClaims{"sub": "user:default/jane", "aud": "backstage",
				"iss": "http://backstage/api/auth", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
				"ent": []string{"user:default/jane", "group:default/platform", "Group:default/sre"}}),
			want: paved.Principal{Kind: paved.PrincipalUser, Subject: "user:default/jane", User: "user:default/jane",
				Groups: []string{"group:default/platform", "Group:default/sre"}}},
		{name: "user token signed by a plugin key", code: paved.EUnauthenticated, message: "invalid user token",
			header: "Bearer " + mint(t, f.scaffolder, TypUser, jwt.MapClaims{"sub": "user:default/jane",
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})},
		{name: "user token expired", code: paved.EUnauthenticated, message: "expired",
			header: "Bearer " + mint(t, f.auth, TypUser, jwt.MapClaims{"sub": "user:default/jane",
				"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})},
		{name: "limited user token alone", code: paved.EUnauthenticated, message: "limited user tokens",
			header: "Bearer " + f.limitedUser(t, f.auth, "user:default/jane", now.Add(time.Hour))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.v.Authenticate(context.Background(), tt.header)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if got.Kind != tt.want.Kind || got.Subject != tt.want.Subject || got.User != tt.want.User ||
					strings.Join(got.Groups, ",") != strings.Join(tt.want.Groups, ",") {
					t.Fatalf("principal = %+v, want %+v", got, tt.want)
				}
				return
			}
			if code := paved.ErrorCode(err); code != tt.code {
				t.Fatalf("code = %q (%v), want %q", code, err, tt.code)
			}
			msg := paved.ErrorMessage(err)
			if !strings.Contains(msg, tt.message) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.message)
			}
			if token, _ := bearerToken(tt.header); len(token) > 8 && strings.Contains(msg, token) {
				t.Errorf("message echoes the token: %q", msg)
			}
		})
	}
}

func TestAuthenticateCachedKeysSurviveJWKSOutage(t *testing.T) {
	f := newFixture(t, func(c *VerifierConfig) { c.JWKSMaxAge = time.Minute })
	ctx := context.Background()
	if _, err := f.v.Authenticate(ctx, "Bearer "+mint(t, f.scaffolder, TypPlugin, pluginClaimsAt(f.clock.Now(), "scaffolder", "paved"))); err != nil {
		t.Fatal(err)
	}
	f.bs.down.Store(true)
	f.clock.Advance(5 * time.Minute) // past JWKSMaxAge: a refresh is due and fails
	for i := range 3 {
		claims := pluginClaimsAt(f.clock.Now(), "scaffolder", "paved")
		claims["jti"] = strconv.Itoa(i) // a new token each time, past the verified-token cache
		if _, err := f.v.Authenticate(ctx, "Bearer "+mint(t, f.scaffolder, TypPlugin, claims)); err != nil {
			t.Fatalf("call %d during outage: %v", i, err)
		}
	}
	// A key paved never saw cannot be trusted while the endpoint is down.
	_, err := f.v.Authenticate(ctx, "Bearer "+mint(t, testKey{kid: "new", priv: f.scaffolder.priv}, TypPlugin,
		pluginClaimsAt(f.clock.Now(), "scaffolder", "paved")))
	if paved.ErrorCode(err) != paved.EUnauthenticated {
		t.Fatalf("unknown kid during outage: %v", err)
	}
}

func TestAuthenticateJWKSDownAtStart(t *testing.T) {
	f := newFixture(t)
	f.bs.down.Store(true)
	_, err := f.v.Authenticate(context.Background(), "Bearer "+mint(t, f.scaffolder, TypPlugin, pluginClaimsAt(f.clock.Now(), "scaffolder", "paved")))
	// The refusal says which plugin's keys and which URL (what an MCP client
	// or a plugin's operator needs to fix discovery).
	if paved.ErrorCode(err) != paved.EUnauthenticated || !strings.Contains(err.Error(), `cannot fetch the signing keys of plugin "scaffolder" from http`) ||
		!strings.Contains(err.Error(), "/api/scaffolder/.backstage/auth/v1/jwks.json") || !strings.Contains(err.Error(), "backstage.discovery") {
		t.Fatalf("err = %v", err)
	}
}

func TestAuthenticateUnknownKIDRefetchIsRateLimited(t *testing.T) {
	f := newFixture(t, func(c *VerifierConfig) { c.MinRefetchInterval = 30 * time.Second })
	// A wait for the next fetch passes on the fixture's clock, and is recorded.
	var waited []time.Duration
	f.v.jwks.after = func(d time.Duration) <-chan time.Time {
		waited = append(waited, d)
		f.clock.Advance(d)
		ch := make(chan time.Time, 1)
		ch <- f.clock.Now()
		return ch
	}
	ctx := context.Background()
	path := pluginJWKS("scaffolder")
	authAt := func(k testKey, iat time.Time) error {
		_, err := f.v.Authenticate(ctx, "Bearer "+mint(t, k, TypPlugin, pluginClaimsAt(iat, "scaffolder", "paved")))
		return err
	}
	auth := func(k testKey) error { return authAt(k, f.clock.Now()) }
	if err := auth(f.scaffolder); err != nil {
		t.Fatal(err)
	}
	if n := f.bs.fetchCount(path); n != 1 {
		t.Fatalf("fetches after first token = %d, want 1", n)
	}

	// A burst of unknown kids shares one fetch.
	f.clock.Advance(31 * time.Second)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := auth(testKey{kid: "forged-" + string(rune('a'+i)), priv: f.scaffolder.priv}); err == nil {
				t.Error("unknown kid accepted")
			}
		})
	}
	wg.Wait()
	if n := f.bs.fetchCount(path); n != 2 || len(waited) != 0 {
		t.Fatalf("fetches after 20 unknown kids = %d, waits %v; want 2 fetches, no wait", n, waited)
	}

	// An unknown kid on a token issued before the keys were fetched names a
	// key the set would have had: refused without a fetch.
	f.clock.Advance(time.Second)
	if err := authAt(testKey{kid: "forged-old", priv: f.scaffolder.priv}, f.clock.Now().Add(-15*time.Second)); err == nil {
		t.Fatal("unknown kid of an old token accepted")
	}
	if n := f.bs.fetchCount(path); n != 2 || len(waited) != 0 {
		t.Fatalf("an old token's unknown kid fetched (%d fetches) or waited (%v)", n, waited)
	}

	// A key rotated in right after a fetch signs a token that is accepted at
	// once: it waits out the rest of the interval for the next fetch, instead
	// of being refused until the interval has passed.
	rotated := f.bs.addKey(t, path)
	if err := auth(rotated); err != nil {
		t.Fatalf("token of a key rotated in after the last fetch: %v", err)
	}
	if len(waited) != 1 || waited[0] != 29*time.Second {
		t.Errorf("waits for the next fetch = %v, want [29s] (the rest of the 30s interval)", waited)
	}
	if err := auth(f.scaffolder); err != nil {
		t.Fatalf("old key after rotation: %v", err)
	}
	if n := f.bs.fetchCount(path); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}

	// A caller whose context ends while it waits is refused, not held.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	f.v.jwks.after = func(time.Duration) <-chan time.Time { return nil }
	f.clock.Advance(time.Second)
	_, err := f.v.Authenticate(gone, "Bearer "+mint(t, testKey{kid: "forged-late", priv: f.scaffolder.priv}, TypPlugin, pluginClaimsAt(f.clock.Now(), "scaffolder", "paved")))
	if err == nil || !strings.Contains(err.Error(), "unknown signing key") {
		t.Fatalf("a caller gone while waiting: %v", err)
	}
}

func TestAuthenticateCachesVerifiedTokensUntilExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	claims := pluginClaimsAt(now, "scaffolder", "paved")
	claims["exp"] = now.Add(time.Minute).Unix()
	claims["obo"] = f.limitedUser(t, f.auth, "user:default/jane", now.Add(30*time.Second))
	header := "Bearer " + mint(t, f.scaffolder, TypPlugin, claims)
	for range 2 {
		p, err := f.v.Authenticate(ctx, header)
		if err != nil || p.User != "user:default/jane" {
			t.Fatalf("p = %+v, err = %v", p, err)
		}
	}
	// The obo token expires first, so the cached result must go with it.
	f.clock.Advance(45 * time.Second)
	if _, err := f.v.Authenticate(ctx, header); paved.ErrorCode(err) != paved.EUnauthenticated {
		t.Fatalf("after obo expiry: %v", err)
	}
}

func TestNewVerifierRejectsWeakStaticTokens(t *testing.T) {
	_, err := NewVerifier(VerifierConfig{PluginID: "paved", Discovery: NewDiscovery("http://x/api/{{pluginId}}", nil),
		StaticTokens: []StaticToken{{Token: "short", Subject: "cli"}}})
	if err == nil {
		t.Fatal("short static token accepted")
	}
}

func TestParseJWKSSkipsForeignKeys(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, _ := publicJWK("good", &priv.PublicKey)
	offCurve := good
	offCurve.Kid = "off"
	offCurve.Y = good.X
	rsaKey := jwk{Kty: "RSA", Kid: "rsa"}
	p384 := good
	p384.Kid, p384.Crv = "p384", "P-384"
	body, _ := json.Marshal(jwkSet{Keys: []jwk{good, offCurve, rsaKey, p384}})
	keys, err := parseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys["good"] == nil {
		t.Fatalf("keys = %v, want only good", keys)
	}
	if _, err := parseJWKS([]byte(`{"nokeys":[]}`)); err == nil {
		t.Fatal("JWKS without keys accepted")
	}
}

func FuzzAuthenticate(f *testing.F) {
	fx := newFixture(f)
	now := fx.clock.Now()
	f.Add("Bearer " + mint(f, fx.scaffolder, TypPlugin, pluginClaimsAt(now, "scaffolder", "paved")))
	f.Add("Bearer " + mint(f, fx.auth, TypUser, jwt.MapClaims{"sub": "user:default/a", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}))
	f.Add("Bearer " + mint(f, fx.scaffolder, TypPlugin, jwt.MapClaims{"sub": "scaffolder", "aud": "paved", "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "obo": fx.limitedUser(f, fx.auth, "user:default/a", now.Add(time.Hour))}))
	f.Add("Bearer ci-token-abcdefgh")
	f.Add("Bearer a.b.c")
	f.Add("bearer  eyJhbGciOiJub25lIn0..")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		p, err := fx.v.Authenticate(context.Background(), header)
		if err == nil {
			if p.Kind == "" || p.Subject == "" {
				t.Fatalf("accepted without a principal: %+v", p)
			}
			return
		}
		if c := paved.ErrorCode(err); c != paved.EUnauthenticated && c != paved.EForbidden {
			t.Fatalf("code %q for %q", c, header)
		}
	})
}

func BenchmarkAuthenticate(b *testing.B) {
	fx := newFixture(b)
	ctx := context.Background()
	now := fx.clock.Now()
	b.Run("plugin token, cached key", func(b *testing.B) {
		// Distinct tokens, as Backstage issues a new plugin token per request.
		headers := make([]string, 256)
		for i := range headers {
			c := pluginClaimsAt(now, "scaffolder", "paved")
			c["n"] = i
			headers[i] = "Bearer " + mint(b, fx.scaffolder, TypPlugin, c)
		}
		fx.v.verified = verifiedCache{entries: map[[sha256.Size]byte]verifiedEntry{}}
		if _, err := fx.v.Authenticate(ctx, headers[0]); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			fx.v.verified.mu.Lock()
			clear(fx.v.verified.entries) // measure verification, not the cache
			fx.v.verified.mu.Unlock()
			if _, err := fx.v.Authenticate(ctx, headers[i%len(headers)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("same user token, verified cache", func(b *testing.B) {
		h := "Bearer " + mint(b, fx.auth, TypUser, jwt.MapClaims{"sub": "user:default/a", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		if _, err := fx.v.Authenticate(ctx, h); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fx.v.Authenticate(ctx, h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("static token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fx.v.Authenticate(ctx, "Bearer ci-token-abcdefgh"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestAuthenticateStaleJWKSIsRefreshedInBackground(t *testing.T) {
	f := newFixture(t, func(c *VerifierConfig) { c.JWKSMaxAge = time.Minute })
	ctx := context.Background()
	path := pluginJWKS("scaffolder")
	n := 0
	auth := func() error {
		n++
		c := pluginClaimsAt(f.clock.Now(), "scaffolder", "paved")
		c["jti"] = strconv.Itoa(n)
		_, err := f.v.Authenticate(ctx, "Bearer "+mint(t, f.scaffolder, TypPlugin, c))
		return err
	}
	waitFetches := func(want int64) {
		t.Helper()
		for range 500 {
			if f.bs.fetchCount(path) >= want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("fetches = %d, want %d", f.bs.fetchCount(path), want)
	}
	if err := auth(); err != nil {
		t.Fatal(err)
	}
	// The key is revoked: Backstage stops publishing it.
	f.bs.mu.Lock()
	f.bs.keys[path] = nil
	f.bs.mu.Unlock()
	f.clock.Advance(2 * time.Minute)
	if err := auth(); err != nil {
		t.Fatalf("stale cached key must still serve while refreshing: %v", err)
	}
	waitFetches(2)
	for range 500 { // the refresh stores its result just after the fetch
		if err := auth(); err != nil {
			if paved.ErrorCode(err) != paved.EUnauthenticated {
				t.Fatal(err)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("revoked key still accepted after the refresh")
}
