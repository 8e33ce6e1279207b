package stack

import (
	"os"
	"path/filepath"
	"testing"
)

// The versions the stack runs are those its tools modules pin; a drift between
// the two would start one Argo CD with another's CRDs.
func TestToolVersionsMatchTheirModules(t *testing.T) {
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"kube":      "v1.31.14",
		"argocd":    ArgoCDVersion,
		"argocd3":   ArgoCD3Version,
		"helm":      "v3.16.3",
		"kustomize": "v5.4.3",
		"gitea":     GiteaVersion,
	}
	for _, tl := range tools {
		got, err := requiredVersion(filepath.Join(root, "e2e", "tools", tl.name, "go.mod"), tl.module)
		if err != nil {
			t.Fatal(err)
		}
		if got != want[tl.name] {
			t.Errorf("%s: go.mod requires %s %s, want %s", tl.name, tl.module, got, want[tl.name])
		}
	}
}

func TestRequiredVersion(t *testing.T) {
	gomod := filepath.Join(t.TempDir(), "go.mod")
	body := "module x\n\nrequire example.com/single v1.2.3\n\nrequire (\n\texample.com/a v0.1.0 // indirect\n\texample.com/b v2.0.0+incompatible\n)\n"
	if err := os.WriteFile(gomod, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for mod, want := range map[string]string{"example.com/single": "v1.2.3", "example.com/a": "v0.1.0", "example.com/b": "v2.0.0+incompatible"} {
		if got, err := requiredVersion(gomod, mod); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", mod, got, err, want)
		}
	}
	if _, err := requiredVersion(gomod, "example.com/absent"); err == nil {
		t.Error("absent module: no error")
	}
}

func TestKubeMajorMinor(t *testing.T) {
	if major, minor := kubeMajorMinor("v1.31.14"); major != "1" || minor != "31" {
		t.Errorf("got %s.%s", major, minor)
	}
}

func TestReadStatOfThisProcess(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.rss <= 0 || st.pgrp <= 0 {
		t.Errorf("stat of self: %+v", st)
	}
}

func TestArgoMajor(t *testing.T) {
	t.Setenv(ArgoCDEnv, "")
	for in, want := range map[string]string{"": "v2", "v2": "v2", ArgoCDVersion: "v2", "v3": "v3", ArgoCD3Version: "v3"} {
		if got, err := argoMajor(in); err != nil || got != want {
			t.Errorf("argoMajor(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := argoMajor("v4"); err == nil {
		t.Error("v4: no error")
	}
	t.Setenv(ArgoCDEnv, "v3")
	if got, _ := argoMajor(""); got != "v3" {
		t.Errorf("with %s=v3: %q", ArgoCDEnv, got)
	}
}
