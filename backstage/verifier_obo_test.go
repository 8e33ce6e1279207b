package backstage

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-dev/paved"
)

// Backstage signs a new plugin token per call around the same obo: the obo
// is verified once, and what was remembered never lets it in on its own nor
// outlives it.
func TestAuthenticateRemembersOBOAcrossPluginTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	obo := f.limitedUser(t, f.auth, "user:default/jane", now.Add(time.Minute))
	call := func(n int) (paved.Principal, error) {
		c := pluginClaimsAt(f.clock.Now(), "scaffolder", "paved")
		c["obo"], c["n"] = obo, n
		return f.v.Authenticate(ctx, "Bearer "+mint(t, f.scaffolder, TypPlugin, c))
	}
	authFetches := f.bs.fetchCount(authJWKS)
	for n := range 3 {
		p, err := call(n)
		if err != nil || p.User != "user:default/jane" || p.Subject != "scaffolder" {
			t.Fatalf("call %d: p = %+v, err = %v", n, p, err)
		}
	}
	if got := len(f.v.verifiedOBO.entries); got != 1 {
		t.Errorf("remembered obo tokens = %d, want 1", got)
	}
	if n := f.bs.fetchCount(authJWKS) - authFetches; n > 1 {
		t.Errorf("auth JWKS fetched %d times, want at most once", n)
	}
	if _, err := f.v.Authenticate(ctx, "Bearer "+obo); paved.ErrorCode(err) != paved.EUnauthenticated {
		t.Errorf("a remembered obo alone: err = %v, want EUnauthenticated", err)
	}
	// A tampered obo is a different string: it is verified, and fails.
	forged := mint(t, f.scaffolder, TypLimitedUser, jwt.MapClaims{"sub": "user:default/jane", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	c := pluginClaimsAt(now, "scaffolder", "paved")
	c["obo"] = forged
	if _, err := f.v.Authenticate(ctx, "Bearer "+mint(t, f.scaffolder, TypPlugin, c)); paved.ErrorCode(err) != paved.EUnauthenticated {
		t.Errorf("obo signed by a plugin key: err = %v, want EUnauthenticated", err)
	}
	f.clock.Advance(2 * time.Minute)
	if _, err := call(9); paved.ErrorCode(err) != paved.EUnauthenticated {
		t.Errorf("after the obo expired: err = %v, want EUnauthenticated", err)
	}
}
