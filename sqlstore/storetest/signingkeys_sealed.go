package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/sqlstore"
)

// testSigningKeysSealedAtRest: with the infra key, the private keys in
// signing_keys are sealed, those an older paved stored in clear are sealed
// when the signer starts, and the same keys keep signing.
func testSigningKeysSealedAtRest(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	// An older paved stored its key in clear.
	old, err := backstage.NewSigner(ctx, db, "paved", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	jwksBefore, err := old.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := clearKeys(t, db); n != 1 {
		t.Fatalf("the unsealed signer stored %d clear keys, want 1 (the test would prove nothing)", n)
	}

	key := make([]byte, infra.KeySize)
	rand.Read(key)
	sealer, err := infra.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := backstage.NewSigner(ctx, db, "paved", time.Hour, backstage.WithKeySealer(sealer))
	if err != nil {
		t.Fatalf("NewSigner with a sealer over a clear key: %v", err)
	}
	if n := clearKeys(t, db); n != 0 {
		t.Fatalf("%d private keys still in clear after the sealing signer started", n)
	}
	jwksAfter, err := s.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(jwksBefore, jwksAfter) {
		t.Fatalf("sealing changed the published keys:\n%s\n%s", jwksBefore, jwksAfter)
	}
	if _, err := s.PluginToken(ctx, "catalog"); err != nil {
		t.Fatalf("PluginToken with the sealed key: %v", err)
	}
	if _, err := s.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := clearKeys(t, db); n != 0 {
		t.Fatalf("a rotated key is stored in clear (%d clear keys)", n)
	}
	// A second replica starting after the migration reads the sealed keys.
	if _, err := backstage.NewSigner(ctx, db, "paved", time.Hour, backstage.WithKeySealer(sealer)); err != nil {
		t.Fatalf("second sealing signer: %v", err)
	}
	// Without the key, the sealed keys do not open: a clear refusal.
	if _, err := backstage.NewSigner(ctx, db, "paved", time.Hour); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("a signer without the key over sealed keys: %v, want an error saying the key is sealed", err)
	}
}

// clearKeys counts the rows of signing_keys that hold a private key in clear.
func clearKeys(t *testing.T, db *sqlstore.DB) int {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), `SELECT private_key_pem FROM signing_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n, total := 0, 0
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		total++
		if bytes.Contains(b, []byte("PRIVATE KEY")) {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if total == 0 {
		t.Fatal("signing_keys is empty")
	}
	return n
}
