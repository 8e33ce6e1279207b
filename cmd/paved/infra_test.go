package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paved-dev/paved/gitops/gitopstest"
)

// TestGitOpsAndInfraThroughRun starts paved on its embedded GitOps
// repository with the example golden paths, and drives the actions through
// the CLI: an Application in gitops mode, a provisioning and its removal.
func TestGitOpsAndInfraThroughRun(t *testing.T) {
	kinds, err := filepath.Abs(filepath.Join("..", "..", "examples", "infra-kinds"))
	if err != nil {
		t.Fatal(err)
	}
	p := startPaved(t, "infra:\n  kindsDir: "+kinds+"\n", nil)
	repo := filepath.Join(p.env["PAVED_DATA_DIR"], "gitops.git")

	out, err := p.cli(t, "{}", "actions", "invoke", "list-infra-kinds", "--input", "-")
	if err != nil {
		t.Fatalf("list-infra-kinds: %v", err)
	}
	// No PostgreSQL server is configured: the postgres kind is skipped.
	if !strings.Contains(out, "postgresql-crossplane") || !strings.Contains(out, "s3-bucket") || strings.Contains(out, `"driver": "postgres"`) {
		t.Errorf("list-infra-kinds = %s", out)
	}

	app := `{"name":"payments","mode":"gitops","source":{"repoURL":"https://git.example.test/payments.git","path":"deploy"},"destination":{"namespace":"payments"}}`
	out, err = p.cli(t, app, "actions", "invoke", "create-argocd-app", "--input", "-")
	if err != nil {
		t.Fatalf("create-argocd-app in gitops mode: %v\n%s", err, p.stderr.String())
	}
	var body struct {
		Output map[string]any `json:"output"`
	}
	if err := json.Unmarshal([]byte(out), &body); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	created := body.Output
	if created["commit"] != gitopstest.Git(t, repo, "rev-parse", "main") || created["path"] != "apps/payments.yaml" || created["created"] != true {
		t.Errorf("create-argocd-app output = %v", created)
	}

	prov := `{"kind":"s3-bucket","name":"assets","owner":"group:default/platform","parameters":{"region":"eu-west-1"}}`
	out, err = p.cli(t, prov, "actions", "invoke", "provision-infra", "--input", "-")
	if err != nil {
		t.Fatalf("provision-infra: %v\n%s", err, p.stderr.String())
	}
	files := gitopstest.Files(t, repo, "main")
	for _, f := range []string{"apps/payments.yaml", "apps/infra-s3-bucket-assets.yaml", "infra/s3-bucket/assets/terraform.yaml"} {
		if !slices.Contains(files, f) {
			t.Errorf("%s missing from the embedded repository: %v", f, files)
		}
	}
	if !strings.Contains(out, `"entityRef": "resource:default/assets"`) && !strings.Contains(out, `"entityRef":"resource:default/assets"`) {
		t.Errorf("provision-infra output = %s", out)
	}

	bad := `{"kind":"s3-bucket","name":"x'; DROP TABLE infra_resources;--","parameters":{"region":"eu-west-1"}}`
	if _, err := p.cli(t, bad, "actions", "invoke", "provision-infra", "--input", "-"); err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("an injection in name: %v, want an error naming name", err)
	}

	if _, err := p.cli(t, `{"kind":"s3-bucket","name":"assets"}`, "actions", "invoke", "deprovision-infra", "--input", "-"); err != nil {
		t.Fatalf("deprovision-infra: %v", err)
	}
	if files := gitopstest.Files(t, repo, "main"); slices.Contains(files, "infra/s3-bucket/assets/terraform.yaml") {
		t.Errorf("files after deprovisioning = %v", files)
	}
}
