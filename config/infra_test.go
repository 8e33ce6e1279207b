package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestInfraPostgresRegions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, `
infra:
  postgres:
    - {region: eu-west-1, url: "${PG_EU}"}
    - {name: us, region: us-east-1, url: "${PG_US}", host: db-us.internal}
`)
	cfg, err := Load(path, env(map[string]string{
		"PG_EU": "postgres://admin:eu-secret@127.0.0.1:5432/postgres",
		"PG_US": "postgres://admin:us-secret@127.0.0.1:5433/postgres",
	}))
	if err != nil {
		t.Fatal(err)
	}
	pg := cfg.Infra.Postgres
	if len(pg) != 2 || pg[0].Name != "eu-west-1" || pg[0].Region != "eu-west-1" || pg[1].Name != "us" || pg[1].Region != "us-east-1" {
		t.Fatalf("servers = %+v (a server without a name is named after its region)", pg)
	}
	masked := cfg.Masked()
	if strings.Contains(masked, "eu-secret") || strings.Contains(masked, "us-secret") {
		t.Errorf("a DSN password in the printed configuration:\n%s", masked)
	}
	if !strings.Contains(masked, "region: us-east-1") {
		t.Errorf("the printed configuration lacks the regions:\n%s", masked)
	}
}

func TestInfraPostgresSingleServerStillLoads(t *testing.T) {
	cfg, err := Load("", env(map[string]string{"PAVED_INFRA_POSTGRES_URL": "postgres://admin:pw@127.0.0.1:5432/postgres"}))
	if err != nil {
		t.Fatal(err)
	}
	if pg := cfg.Infra.Postgres; len(pg) != 1 || pg[0].Name != "default" || pg[0].Region != "" {
		t.Fatalf("servers = %+v, want the one server named default, without a region", pg)
	}
}

func TestInfraPostgresReportsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, `
infra:
  postgres:
    - {region: eu-west-1, url: "postgres://a@h1/postgres"}
    - {name: eu2, region: eu-west-1, url: "postgres://a@h2/postgres"}
    - {name: x, region: "eu'; DROP ROLE postgres; --", url: "postgres://a@h3/postgres"}
    - {name: empty, region: us-east-1, url: ""}
    - {url: "postgres://a@h4/postgres"}
    - {name: eu-west-1, url: "postgres://a@h5/postgres"}
`)
	_, err := Load(path, env(nil))
	var p *Problems
	if !errors.As(err, &p) {
		t.Fatalf("want *Problems, got %v", err)
	}
	msg := err.Error()
	for _, w := range []string{
		"infra.postgres[1].region: duplicate of infra.postgres[0]",
		"infra.postgres[2].region: must match",
		"infra.postgres[3].url: must not be empty",
		"infra.postgres[4].name: is required",
		"infra.postgres[5].name: duplicate of infra.postgres[0]",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "infra.postgres[0].") {
		t.Errorf("the first, valid server is reported:\n%s", msg)
	}
}
