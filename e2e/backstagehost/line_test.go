package backstagehost

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLineSelectsTheNpmProject(t *testing.T) {
	t.Setenv("BACKSTAGEHOST_DIR", "")
	for _, tc := range []struct {
		env, line, dirSuffix string
	}{
		{"", "", "backstagehost"},
		{"newest", "", "backstagehost"},
		{"oldest", OldestLine, "backstagehost-" + OldestLine},
		{OldestLine, OldestLine, "backstagehost-" + OldestLine},
		{"oldest-modules", OldestModulesLine, "backstagehost-" + OldestModulesLine},
	} {
		t.Setenv("PAVED_E2E_BACKSTAGE", tc.env)
		line, err := Line()
		if err != nil || line != tc.line {
			t.Errorf("PAVED_E2E_BACKSTAGE=%q: line %q, %v; want %q", tc.env, line, err, tc.line)
		}
		if got := filepath.Base(InstallDir()); got != tc.dirSuffix {
			t.Errorf("PAVED_E2E_BACKSTAGE=%q: install dir %s, want one per line (%s)", tc.env, InstallDir(), tc.dirSuffix)
		}
	}
	for _, bad := range []string{"1.2", "../compat/1.44", "/etc", ".."} {
		t.Setenv("PAVED_E2E_BACKSTAGE", bad)
		if line, err := Line(); err == nil || !strings.Contains(err.Error(), "PAVED_E2E_BACKSTAGE") {
			t.Errorf("PAVED_E2E_BACKSTAGE=%q: line %q, err %v; want an error naming the variable", bad, line, err)
		}
	}
	t.Setenv("PAVED_E2E_BACKSTAGE", "oldest")
	if err := checkLine(Options{MCP: true}); err == nil || !strings.Contains(err.Error(), "plugin-mcp-actions-backend") {
		t.Errorf("MCP on the oldest line: %v, want the missing package named", err)
	}
	if err := checkLine(Options{}); err != nil {
		t.Errorf("the core options on the oldest line: %v", err)
	}
	if err := checkLine(Options{ExtraModules: []string{"/m.js"}}); err == nil || !strings.Contains(err.Error(), "module-v1.1") {
		t.Errorf("a backend module on the oldest line: %v, want the registration type named", err)
	}
	t.Setenv("PAVED_E2E_BACKSTAGE", "oldest-modules")
	if err := checkLine(Options{ExtraModules: []string{"/m.js"}}); err != nil {
		t.Errorf("a backend module on the oldest modules line: %v", err)
	}
	t.Setenv("PAVED_E2E_BACKSTAGE", "")
	if err := checkLine(Options{ExtraModules: []string{"/m.js"}, MCP: true, Permissions: true, Notifications: true}); err != nil {
		t.Errorf("everything on the newest line: %v", err)
	}
}

// TestCompatLinesAreOneRelease: every @backstage package a compat line's
// lockfile installs is the version its package.json pins (dependencies and
// overrides, copied from that Backstage release's manifest), so the host is
// that release and not the newest versions its caret ranges would allow.
func TestCompatLinesAreOneRelease(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(sourceDir(), "compat", "*", "package.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no compat lines: %v", err)
	}
	for _, pkgPath := range dirs {
		dir := filepath.Dir(pkgPath)
		var pkg struct {
			Dependencies, Overrides map[string]string
		}
		var lock struct {
			Packages map[string]struct{ Version string }
		}
		for path, v := range map[string]any{pkgPath: &pkg, filepath.Join(dir, "package-lock.json"): &lock} {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		n := 0
		for path, p := range lock.Packages {
			i := strings.LastIndex(path, "node_modules/")
			if i < 0 || !strings.HasPrefix(path[i:], "node_modules/@backstage/") {
				continue
			}
			name := path[i+len("node_modules/"):]
			n++
			want := pkg.Dependencies[name]
			if want == "" {
				want = pkg.Overrides[name]
			}
			if p.Version != want {
				t.Errorf("%s: %s is %s in the lockfile, package.json pins %q", filepath.Base(dir), path, p.Version, want)
			}
		}
		if n < 10 {
			t.Errorf("%s: only %d @backstage packages in the lockfile", filepath.Base(dir), n)
		}
	}
}
