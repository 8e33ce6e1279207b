package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPostgresRegionsThroughRun configures two regions (both on the test
// server, under two names: infra/postgresql proves the placement on two
// real servers) and drives the actions through the CLI: the published region
// enum is the configured regions, a region of the kind file that has no
// server is a 400 naming parameters.region, and a database lands in the
// region asked for.
func TestPostgresRegionsThroughRun(t *testing.T) {
	admin := os.Getenv("PAVED_TEST_DATABASE_URL")
	if admin == "" {
		t.Skip(`PAVED_TEST_DATABASE_URL is not set: scripts/pg-test-server.sh start && eval "$(scripts/pg-test-server.sh env)"`)
	}
	kinds, err := filepath.Abs(filepath.Join("..", "..", "examples", "infra-kinds"))
	if err != nil {
		t.Fatal(err)
	}
	// Trust authentication ignores the password: it is there to be masked.
	withPassword := strings.Replace(admin, "postgres@", "postgres:dsn-secret-0123@", 1)
	p := startPaved(t, fmt.Sprintf(`
infra:
  kindsDir: %s
  postgres:
    - {region: eu-central-1, url: "${PG_EU}", host: db-eu.test}
    - {name: us, region: us-east-1, url: "${PG_US}", host: db-us.test}
`, kinds), map[string]string{"PG_EU": withPassword, "PG_US": withPassword})
	if strings.Contains(p.stdout.String()+p.stderr.String(), "dsn-secret-0123") {
		t.Fatal("a DSN password appears in paved's output")
	}

	out, err := p.cli(t, `{"kind":"postgresql"}`, "actions", "invoke", "list-infra-kinds", "--input", "-")
	if err != nil {
		t.Fatalf("list-infra-kinds: %v", err)
	}
	var listed struct {
		Output struct {
			Kinds []struct {
				Parameters struct {
					Properties map[string]struct {
						Enum []string `json:"enum"`
					} `json:"properties"`
				} `json:"parameters"`
			} `json:"kinds"`
		} `json:"output"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Output.Kinds) != 1 {
		t.Fatalf("list-infra-kinds = %s (%v)", out, err)
	}
	if got := fmt.Sprint(listed.Output.Kinds[0].Parameters.Properties["region"].Enum); got != "[eu-central-1 us-east-1]" {
		t.Errorf("published region enum = %s, want the configured regions [eu-central-1 us-east-1]", got)
	}

	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "regional-" + hex.EncodeToString(b)
	ident := strings.ReplaceAll(name, "-", "_")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{ident}.Sanitize()+" WITH (FORCE)")
		_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{ident}.Sanitize())
	})

	// eu-west-1 is in the kind file's enum, but no server serves it.
	for _, region := range []string{"eu-west-1", `us-east-1'; DROP ROLE postgres; --`} {
		in := fmt.Sprintf(`{"kind":"postgresql","name":%q,"owner":"group:default/payments","parameters":{"size":"small","region":%q}}`, name, region)
		_, err := p.cli(t, in, "actions", "invoke", "provision-infra", "--input", "-")
		if err == nil || !strings.HasPrefix(err.Error(), "400 InputError") || !strings.Contains(err.Error(), "parameters.region") {
			t.Errorf("region %q: %v, want a 400 InputError naming parameters.region", region, err)
		}
	}
	conn, err := pgx.Connect(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exists := func() bool {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_roles WHERE rolname = $1`, ident).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if exists() {
		t.Fatalf("a refused provisioning created role %s", ident)
	}

	in := fmt.Sprintf(`{"kind":"postgresql","name":%q,"owner":"group:default/payments","parameters":{"size":"small","region":"us-east-1"}}`, name)
	out, err = p.cli(t, in, "actions", "invoke", "provision-infra", "--input", "-")
	if err != nil {
		t.Fatalf("provision-infra in us-east-1: %v\n%s", err, p.stderr.String())
	}
	var prov struct {
		Output struct {
			Details map[string]string `json:"details"`
		} `json:"output"`
	}
	if err := json.Unmarshal([]byte(out), &prov); err != nil {
		t.Fatal(err)
	}
	if d := prov.Output.Details; d["region"] != "us-east-1" || d["server"] != "us" || d["host"] != "db-us.test" {
		t.Errorf("details = %v, want region us-east-1 on server us (host db-us.test)", d)
	}
	if !exists() {
		t.Fatalf("role %s was not created", ident)
	}
	if _, err := p.cli(t, fmt.Sprintf(`{"kind":"postgresql","name":%q}`, name), "actions", "invoke", "deprovision-infra", "--input", "-"); err != nil {
		t.Fatalf("deprovision-infra: %v", err)
	}
	if exists() {
		t.Errorf("role %s left after deprovisioning", ident)
	}
	if strings.Contains(p.stdout.String()+p.stderr.String(), "dsn-secret-0123") {
		t.Error("a DSN password appears in paved's output")
	}
}
