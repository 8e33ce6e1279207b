package argocd

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzRenewal feeds tokens as Argo CD might return them; renewal must never
// panic nor schedule a renewal after expiry.
func FuzzRenewal(f *testing.F) {
	signed, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		IssuedAt:  jwt.NewNumericDate(time.Unix(1700000000, 0)),
		ExpiresAt: jwt.NewNumericDate(time.Unix(1700086400, 0)),
	}).SignedString([]byte("k"))
	f.Add(signed)
	f.Add("not-a-jwt")
	f.Add("e30.e30.")
	f.Add(`eyJhbGciOiJub25lIn0.eyJleHAiOjEsImlhdCI6MTAwfQ.`)
	f.Fuzz(func(t *testing.T, token string) {
		exp, renewAt := renewal(token)
		if exp.IsZero() != renewAt.IsZero() {
			t.Fatalf("exp %v, renewAt %v", exp, renewAt)
		}
		if !exp.IsZero() && renewAt.After(exp) {
			t.Fatalf("renewal at %v is after expiry %v", renewAt, exp)
		}
	})
}

func TestRenewalOfAStandardSession(t *testing.T) {
	iat := time.Unix(1700000000, 0)
	signed, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		IssuedAt:  jwt.NewNumericDate(iat),
		ExpiresAt: jwt.NewNumericDate(iat.Add(24 * time.Hour)),
	}).SignedString([]byte("k"))
	exp, renewAt := renewal(signed)
	if !exp.Equal(iat.Add(24*time.Hour)) || !renewAt.Equal(exp.Add(-5*time.Minute)) {
		t.Fatalf("exp %v renewAt %v", exp, renewAt)
	}
	if exp, _ := renewal("an-opaque-api-key"); !exp.IsZero() {
		t.Fatal("an opaque token got an expiry")
	}
}
