package sqlstore

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sharedMigrationNumbers are the numbers two migrations of one engine were
// given in parallel work before numbers had to be unique, with the files
// that share each. Migrations are applied by their whole name, so these
// stay; a new migration takes the next free number of its engine.
var sharedMigrationNumbers = map[string][]string{
	"0005": {"0005_costs.sql", "0005_devex_feedback.sql"},
	"0008": {"0008_approvals.sql", "0008_devex_slo.sql"},
	"0010": {"0010_approval_apps.sql", "0010_devex_freshness.sql"},
	"0011": {"0011_approval_notices.sql", "0011_devex_dora.sql"},
	"0012": {"0012_approval_retries.sql", "0012_devex_scale.sql"},
}

// TestMigrationNumbers keeps the migrations' order readable: a number
// names one migration per engine (but for sharedMigrationNumbers), and a
// number both engines have names the same migration.
func TestMigrationNumbers(t *testing.T) {
	name := regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)
	byEngine := map[string]map[string][]string{} // engine → number → files
	for _, engine := range []string{"sqlite", "postgres"} {
		entries, err := os.ReadDir(filepath.Join(engine, "migrations"))
		if err != nil {
			t.Fatal(err)
		}
		byEngine[engine] = map[string][]string{}
		for _, e := range entries {
			m := name.FindStringSubmatch(e.Name())
			if m == nil {
				t.Errorf("%s migration %s: want NNNN_name.sql (lower case, digits, _)", engine, e.Name())
				continue
			}
			byEngine[engine][m[1]] = append(byEngine[engine][m[1]], e.Name())
		}
		if len(byEngine[engine]) == 0 {
			t.Fatalf("no %s migrations read", engine)
		}
		for number, files := range byEngine[engine] {
			if len(files) > 1 && strings.Join(files, " ") != strings.Join(sharedMigrationNumbers[number], " ") {
				t.Errorf("%s migrations %s share the number %s: give the new one the next free number", engine, strings.Join(files, ", "), number)
			}
		}
	}
	for number, files := range byEngine["sqlite"] {
		other, ok := byEngine["postgres"][number]
		if ok && strings.Join(files, " ") != strings.Join(other, " ") {
			t.Errorf("migration %s is %s on SQLite but %s on PostgreSQL: one number, one migration on both engines",
				number, strings.Join(files, ", "), strings.Join(other, ", "))
		}
	}
}
