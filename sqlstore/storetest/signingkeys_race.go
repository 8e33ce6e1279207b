package storetest

import (
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/sqlstore"
)

// testRotationsRace: two replicas rotate at once, each adding its key and
// retiring the others; the newest key must stay active, or no key is.
func testRotationsRace(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	for i, kid := range []string{"old", "mine", "theirs"} {
		k := paved.SigningKey{KID: kid, PrivateKeyPEM: []byte("pem " + kid), CreatedAt: base.Add(time.Duration(i) * time.Second)}
		if err := db.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	// "mine" retires after "theirs" was added, "theirs" after "mine" retired.
	for _, kid := range []string{"mine", "theirs"} {
		if err := db.RetireSigningKeys(ctx, kid, base.Add(time.Minute)); err != nil {
			t.Fatalf("RetireSigningKeys(%s): %v", kid, err)
		}
	}
	keys, err := db.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var active []string
	for _, k := range keys {
		if k.RetiredAt.IsZero() {
			active = append(active, k.KID)
		}
	}
	if len(active) != 1 || active[0] != "theirs" {
		t.Errorf("active keys after two rotations at once: %v, want the newest, theirs", active)
	}
}
