package postgresql_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/infra/postgresql"
)

// Values that end an SQL constant or identifier early, or that a server
// reads differently: quotes, backslashes (standard_conforming_strings off),
// dollar quotes, comments, line breaks, unicode, a 63-byte identifier.
var hostileSQL = []string{
	`x"; DROP ROLE postgres; --`,
	`x'; DROP ROLE postgres; --`,
	`'`, `"`, `''`, `\`, `\'`, `\'; DROP ROLE postgres; --`, `x\`,
	"$$; DROP ROLE postgres; $$", "$q$", "/* x */", "-- x",
	"line\nbreak\r\n", "tab\t", "é日本🙂", "\u2028",
	strings.Repeat("a", 63),
	`E'x'`, `U&"\0041"`,
}

// TestQuotingHoldsOnTheServer runs paved's quoted identifiers and literals
// on a real PostgreSQL: each hostile value comes back as itself, as a role
// name, a role's comment and a constant, with standard_conforming_strings on
// and off, and the server's own role is still there.
func TestQuotingHoldsOnTheServer(t *testing.T) {
	conn, err := pgx.Connect(t.Context(), adminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for _, scs := range []string{"on", "off"} {
		if _, err := conn.Exec(t.Context(), "SET standard_conforming_strings = "+scs); err != nil {
			t.Fatal(err)
		}
		for _, v := range hostileSQL {
			var got string
			if err := conn.QueryRow(t.Context(), "SELECT "+postgresql.Literal(v)).Scan(&got); err != nil || got != v {
				t.Errorf("standard_conforming_strings=%s: SELECT %s = %q, %v; want %q", scs, postgresql.Literal(v), got, err, v)
			}
			tx, err := conn.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			role := postgresql.QuoteIdent(v)
			var name, comment string
			_, err = tx.Exec(t.Context(), "CREATE ROLE "+role+" NOLOGIN")
			if err == nil {
				_, err = tx.Exec(t.Context(), "COMMENT ON ROLE "+role+" IS "+postgresql.Literal(v))
			}
			if err == nil {
				err = tx.QueryRow(t.Context(), `SELECT rolname, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1`, v).Scan(&name, &comment)
			}
			if err != nil || name != v || comment != v {
				t.Errorf("standard_conforming_strings=%s: role %s: name %q, comment %q, %v; want %q", scs, role, name, comment, err, v)
			}
			_ = tx.Rollback(t.Context())
		}
	}
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("the postgres role: %d, %v", n, err)
	}
}

// TestNamesThatAreNoIdentifiers: the name becomes the role and database
// name; anything but a short [a-z0-9-] name is a 400 naming the field before
// any SQL runs, and the driver refuses it on its own too. 40 characters is
// the limit: PostgreSQL would cut an identifier at 63 bytes, and two names
// that differ after it would be one role.
func TestNamesThatAreNoIdentifiers(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat("a", 41)
	for _, name := range append([]string{"x\x00y", long, strings.Repeat("a", 64), "Orders", "ordérs", "日本", "a_b", "-a", "a-", "a b", "a\nb", "ab\\"}, hostileSQL...) {
		_, _, err := e.svc.Provision(owner("user:default/jane"), infra.Request{Kind: "postgresql", Name: name, Parameters: map[string]any{"region": "eu-west-1"}})
		var pe *paved.Error
		if !errors.As(err, &pe) || pe.Code != paved.EInvalid || len(pe.Fields) != 1 || pe.Fields[0].Field != "name" {
			t.Errorf("Provision name %q: %v, want a 400 naming name", name, err)
		}
		if _, err := postgresql.Identifier(name); paved.ErrorCode(err) != paved.EInvalid {
			t.Errorf("Identifier(%q) = %v, want invalid", name, err)
		}
	}
	if id, err := postgresql.Identifier(strings.Repeat("a", 40)); err != nil || len(id) != 40 {
		t.Errorf("a 40-character name: %q %v", id, err)
	}
	if all, _ := e.store.ListInfraResources(t.Context()); len(all) != 0 {
		t.Errorf("refused requests left records: %v", all)
	}
}
