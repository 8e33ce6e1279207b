// Package backstagetest stands in for Backstage's auth plugin in tests: it
// publishes an ES256 key at the auth plugin's JWKS path and mints user tokens
// shaped like the ones Backstage issues, so paved's real verifier checks them.
// It also stands in for the other plugins' service keys (one key served at
// every plugin's JWKS path) and mints plugin tokens, with or without obo.
package backstagetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-dev/paved/backstage"
)

const (
	kid       = "backstagetest-user"
	pluginKid = "backstagetest-plugin"
)

// Users is a fake auth plugin. Point paved's discovery for plugin "auth" at
// URL + "/api/auth" (or the pattern URL + "/api/{{pluginId}}").
type Users struct {
	URL       string
	key       *ecdsa.PrivateKey
	pluginKey *ecdsa.PrivateKey
}

// NewUsers starts the JWKS server; it stops when the test ends.
func NewUsers(t testing.TB) *Users {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pluginKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, pluginJWKS := jwksOf(t, kid, key), jwksOf(t, pluginKid, pluginKey)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var page []byte
		switch {
		case r.URL.Path == "/api/auth/.well-known/jwks.json":
			page = jwks
		case strings.HasPrefix(r.URL.Path, "/api/") && strings.HasSuffix(r.URL.Path, "/.backstage/auth/v1/jwks.json"):
			page = pluginJWKS
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(page)
	}))
	t.Cleanup(srv.Close)
	return &Users{URL: srv.URL, key: key, pluginKey: pluginKey}
}

func jwksOf(t testing.TB, kid string, key *ecdsa.PrivateKey) []byte {
	b64 := base64.RawURLEncoding.EncodeToString
	out, err := json.Marshal(map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
		"x": b64(key.X.FillBytes(make([]byte, 32))), "y": b64(key.Y.FillBytes(make([]byte, 32)))}}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sign(t testing.TB, typ, kid string, claims jwt.MapClaims, key *ecdsa.PrivateKey) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"], tok.Header["kid"] = typ, kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// MintLimited returns the limited user token Backstage puts in a plugin
// token's obo claim: sub, iat and exp, signed by the auth plugin.
func (u *Users) MintLimited(t testing.TB, user string) string {
	t.Helper()
	now := time.Now()
	return sign(t, backstage.TypLimitedUser, kid, jwt.MapClaims{"sub": user, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, u.key)
}

// MintPlugin returns a one-hour token of plugin for audience, on behalf of
// the user of obo (a MintLimited token) when obo is not empty.
func (u *Users) MintPlugin(t testing.TB, plugin, audience, obo string) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{"sub": plugin, "aud": audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if obo != "" {
		claims["obo"] = obo
	}
	return sign(t, backstage.TypPlugin, pluginKid, claims, u.pluginKey)
}

// Mint returns a one-hour user token for user (an entity ref) whose ownership
// entities ("ent") are the user and ent.
func (u *Users) Mint(t testing.TB, user string, ent ...string) string {
	t.Helper()
	now := time.Now()
	return sign(t, backstage.TypUser, kid, jwt.MapClaims{
		"iss": u.URL + "/api/auth", "sub": user, "aud": "backstage", "ent": append([]string{user}, ent...),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}, u.key)
}
