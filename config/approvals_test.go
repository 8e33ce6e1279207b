package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/approval"
)

func TestApprovals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, `
infra:
  budgets: {currency: USD, default: 500, overBudget: approval}
approvals:
  appUrl: https://backstage.example.com/
  expireAfter: 48h
  rules:
    - {kind: postgresql, parameters: {size: [large]}, approvers: platform}
    - {overBudget: true, approvers: owner}
    - {action: create-argocd-app, namespace: "prod-*", project: payments, approvers: platform}
`)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Approvals
	if a.AppURL != "https://backstage.example.com" || a.ExpireAfter.D() != 48*time.Hour || a.SweepInterval.D() != 30*time.Second {
		t.Errorf("approvals = %+v", a)
	}
	want := []approval.Rule{
		{Kind: "postgresql", Parameters: map[string][]string{"size": {"large"}}, Approvers: "group:default/platform"},
		{OverBudget: true, Approvers: approval.ApproversOwner},
		{Action: approval.ActionCreateApp, Namespace: "prod-*", Project: "payments", Approvers: "group:default/platform"},
	}
	if got := a.DomainRules(); !reflect.DeepEqual(got, want) {
		t.Errorf("rules = %+v, want %+v", got, want)
	}
}

func TestApprovalsReportEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, `
approvals:
  appUrl: "javascript:alert(1)"
  expireAfter: 1s
  rules:
    - {kind: "[", approvers: platform}
    - {kind: postgresql, parameters: {size: []}, approvers: "user:default/jane"}
    - {approvers: platform}
    - {overBudget: true, approvers: platform}
    - {action: create-argocd-app, approvers: owner}
    - {action: create-argocd-app, namespace: "[", kind: postgresql, approvers: platform}
    - {action: delete-everything, kind: postgresql, namespace: prod, approvers: platform}
`)
	_, err := Load(path, env(nil))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		"approvals.appUrl: must be Backstage's app URL",
		"approvals.expireAfter: must be at least 1m",
		"approvals.rules[0].kind: must be a kind name or glob",
		"approvals.rules[1].parameters.size: must list at least one value",
		"approvals.rules[1].approvers: must be a group",
		"approvals.rules[2]: matches every request",
		"approvals.rules[3].overBudget: needs infra.budgets.overBudget: approval",
		"approvals.rules[4]: matches every application; name an instance, project or namespace",
		"approvals.rules[4].approvers: must be a group (platform or group:default/platform): an application's owner group is not known to paved",
		"approvals.rules[5]: kind, parameters and overBudget match infrastructure requests, not action create-argocd-app",
		"approvals.rules[5].namespace: must be a name or glob",
		"approvals.rules[6].action: must be provision-infra (the default) or create-argocd-app",
		"approvals.rules[6].namespace: matches Argo CD applications: only with action: create-argocd-app",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
}

func TestInfraTTLNotice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, "infra:\n  ttlNotice: 72h\n")
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Infra.TTLNotice.D() != 72*time.Hour {
		t.Errorf("ttlNotice = %v, want 72h", cfg.Infra.TTLNotice.D())
	}
	if Default().Infra.TTLNotice != 0 {
		t.Errorf("TTL notices are on by default")
	}
	writeFile(t, path, "infra:\n  ttlNotice: -1h\n")
	if _, err := Load(path, env(nil)); err == nil || !strings.Contains(err.Error(), "infra.ttlNotice: must be 0 (no notices) or positive") {
		t.Errorf("a negative ttlNotice: %v", err)
	}
}
