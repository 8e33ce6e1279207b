// Package backstagetest stands in for Backstage's auth plugin in tests: it
// publishes an ES256 key at the auth plugin's JWKS path and mints user tokens
// shaped like the ones Backstage issues, so paved's real verifier checks them.
package backstagetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-dev/paved/backstage"
)

const kid = "backstagetest-user"

// Users is a fake auth plugin. Point paved's discovery for plugin "auth" at
// URL + "/api/auth" (or the pattern URL + "/api/{{pluginId}}").
type Users struct {
	URL string
	key *ecdsa.PrivateKey
}

// NewUsers starts the JWKS server; it stops when the test ends.
func NewUsers(t testing.TB) *Users {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, err := json.Marshal(map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
		"x": b64(key.X.FillBytes(make([]byte, 32))), "y": b64(key.Y.FillBytes(make([]byte, 32)))}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/auth/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return &Users{URL: srv.URL, key: key}
}

// Mint returns a one-hour user token for user (an entity ref) whose ownership
// entities ("ent") are the user and ent.
func (u *Users) Mint(t testing.TB, user string, ent ...string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": u.URL + "/api/auth", "sub": user, "aud": "backstage", "ent": append([]string{user}, ent...),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["typ"] = backstage.TypUser
	tok.Header["kid"] = kid
	s, err := tok.SignedString(u.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
