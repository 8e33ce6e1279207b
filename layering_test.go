package paved_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The import rules of docs/architecture.md: the domain at the centre imports
// no framework, and each dependency is imported by the one package that wraps
// it (and by cmd/paved, which wires them). A rule names the imports it
// governs and the directories allowed to import them; tests may be allowed
// more (they start the real engines).
type importRule struct {
	why string
	// governs reports whether the rule is about this import path.
	governs func(imp string) bool
	// allowed reports whether a file in dir (slash-separated, relative to
	// the module root, "." for the root) may import it.
	allowed func(dir string, test bool) bool
}

const module = "github.com/paved-dev/paved"

func under(dir string, roots ...string) bool {
	for _, r := range roots {
		if dir == r || strings.HasPrefix(dir, r+"/") {
			return true
		}
	}
	return false
}

func prefixed(imp string, prefixes ...string) bool {
	for _, p := range prefixes {
		if imp == p || strings.HasPrefix(imp, p+"/") {
			return true
		}
	}
	return false
}

var importRules = []importRule{
	{
		why:     "only argocd/ imports argo-cd (e2e/ builds and starts the real one)",
		governs: func(imp string) bool { return prefixed(imp, "github.com/argoproj") },
		allowed: func(dir string, _ bool) bool { return under(dir, "argocd", "e2e") },
	},
	{
		why:     "only cmd/paved wires the Argo CD adapter in; the domain sees it through interfaces (tests may start it)",
		governs: func(imp string) bool { return prefixed(imp, module+"/argocd") },
		allowed: func(dir string, test bool) bool { return test || under(dir, "argocd", "cmd", "e2e") },
	},
	{
		why:     "only server/ imports echo",
		governs: func(imp string) bool { return prefixed(imp, "github.com/labstack/echo") },
		allowed: func(dir string, _ bool) bool { return under(dir, "server", "cmd", "e2e") },
	},
	{
		why: "only telemetry/ sets up the OpenTelemetry SDK; everything else is given a meter or tracer provider",
		governs: func(imp string) bool {
			return prefixed(imp, "go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters")
		},
		allowed: func(dir string, test bool) bool { return test || under(dir, "telemetry", "cmd", "e2e") },
	},
	{
		why:     "only cmd/paved picks a store engine; the rest uses sqlstore",
		governs: func(imp string) bool { return prefixed(imp, module+"/sqlstore/sqlite", module+"/sqlstore/postgres") },
		allowed: func(dir string, test bool) bool { return test || under(dir, "sqlstore", "cmd", "e2e") },
	},
	{
		why:     "only the store engines and the postgres infra driver open PostgreSQL or SQLite",
		governs: func(imp string) bool { return prefixed(imp, "github.com/jackc/pgx", "modernc.org/sqlite") },
		allowed: func(dir string, test bool) bool {
			return under(dir, "sqlstore/sqlite", "sqlstore/postgres", "infra/postgresql", "cmd", "e2e") || (test && dir != ".")
		},
	},
	{
		why: "the root package is the domain: the standard library only, and no framework of it (database/sql, net/http)",
		governs: func(imp string) bool {
			first, _, _ := strings.Cut(imp, "/")
			return strings.Contains(first, ".") || prefixed(imp, "database/sql", "net/http")
		},
		allowed: func(dir string, test bool) bool { return dir != "." || test },
	},
}

// importViolations returns one line per import that breaks a rule.
func importViolations(file string, test bool, imports []string) []string {
	dir := path.Dir(file)
	var out []string
	for _, imp := range imports {
		for _, r := range importRules {
			if r.governs(imp) && !r.allowed(dir, test) {
				out = append(out, file+" imports "+imp+": "+r.why)
			}
		}
	}
	return out
}

// TestImportRules parses the imports of every Go file of the module (build
// tags aside) and fails on any that breaks the layering.
func TestImportRules(t *testing.T) {
	files := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != "." && (name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); p != "." && err == nil {
				return filepath.SkipDir // another module (e2e tools, the image builder)
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		imports := make([]string, 0, len(f.Imports))
		for _, s := range f.Imports {
			imp, err := strconv.Unquote(s.Path.Value)
			if err != nil {
				return err
			}
			imports = append(imports, imp)
		}
		for _, v := range importViolations(filepath.ToSlash(p), strings.HasSuffix(p, "_test.go"), imports) {
			t.Error(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("read %d Go files: the walk missed the module", files)
	}
}

// TestImportRulesRefuse shows each rule can fail: a forbidden import in the
// wrong place is reported, the same import in its home is not.
func TestImportRulesRefuse(t *testing.T) {
	cases := []struct {
		file   string
		test   bool
		imp    string
		refuse bool
	}{
		{"scaffolder/appset.go", false, "github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1", true},
		{"scaffolder/appset_test.go", true, "github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1", true},
		{"argocd/appset.go", false, "github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1", false},
		{"gitops/writer.go", false, module + "/argocd", true},
		{"scaffolder/appset.go", false, module + "/argocd", true},
		{"scaffolder/fakeargocd_test.go", true, module + "/argocd", false},
		{"cmd/paved/appset.go", false, module + "/argocd", false},
		{"app.go", false, "github.com/labstack/echo/v4", true},
		{"devex/service.go", false, "github.com/labstack/echo/v4", true},
		{"server/routes.go", false, "github.com/labstack/echo/v4", false},
		{"app.go", false, "github.com/jackc/pgx/v5", true},
		{"devex/service.go", false, "modernc.org/sqlite", true},
		{"sqlstore/postgres/postgres.go", false, "github.com/jackc/pgx/v5", false},
		{"errors.go", false, "go.opentelemetry.io/otel/sdk/metric", true},
		{"devex/metrics.go", false, "go.opentelemetry.io/otel/sdk/metric", true},
		{"telemetry/telemetry.go", false, "go.opentelemetry.io/otel/sdk/metric", false},
		{"paved.go", false, "database/sql", true},
		{"paved.go", false, module + "/sqlstore", true},
		{"paved.go", false, "context", false},
		{"server/server.go", false, module + "/sqlstore/sqlite", true},
		{"cmd/paved/serve.go", false, module + "/sqlstore/sqlite", false},
	}
	for _, c := range cases {
		got := importViolations(c.file, c.test, []string{c.imp})
		if refused := len(got) > 0; refused != c.refuse {
			t.Errorf("%s importing %s: refused %v, want %v (%v)", c.file, c.imp, refused, c.refuse, got)
		}
	}
}
