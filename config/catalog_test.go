package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCatalogConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, `
argocd:
  instances:
    - {name: prod, server: argocd.example.com:443, token: t}
catalog:
  interval: 30s
  publicYaml: true
  projectOwners: {payments: group:default/payments}
  instances:
    - {name: prod, selector: "team=a", projects: [payments], watch: false}
`)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Catalog
	if c.Interval.D() != 30*time.Second || !c.PublicYAML || c.Namespace != "default" || c.DefaultOwner != "group:default/unknown" ||
		len(c.Instances) != 1 || c.Instances[0].Selector != "team=a" || c.ProjectOwners["payments"] != "group:default/payments" {
		t.Fatalf("catalog = %+v", c)
	}
	if c.Instances[0].Watches() || c.WatchDebounce.D() != time.Second || !(CatalogInstance{Name: "other"}).Watches() {
		t.Fatalf("watch: prod %v, debounce %v; an instance not listed must be watched", c.Instances[0].Watches(), c.WatchDebounce.D())
	}
}

func TestCatalogConfigProblems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, `
argocd:
  instances:
    - {name: prod, server: argocd.example.com:443, token: t}
catalog:
  interval: 1s
  watchDebounce: 2s
  namespace: Not_Valid
  retention: 5
  instances:
    - {name: elsewhere}
    - {name: prod, namespace: "UPPER"}
    - {name: prod}
`)
	_, err := Load(path, env(nil))
	var p *Problems
	if !errors.As(err, &p) {
		t.Fatalf("err = %v, want Problems", err)
	}
	all := strings.Join(p.List, "\n")
	for _, want := range []string{"catalog.interval", "catalog.watchDebounce", "catalog.namespace", "catalog.retention",
		`catalog.instances[0].name: "elsewhere" is not one of argocd.instances`, "catalog.instances[1].namespace", `catalog.instances[2].name: "prod" is listed twice`} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
}
