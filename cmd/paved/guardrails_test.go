package main

import (
	"strings"
	"testing"

	"github.com/paved-dev/paved/argocd/argocdtest"
)

// TestServeAppliesTheGuardrailsToApplicationSets: paved serve holds
// create-argocd-appset to the configured guardrails as it holds
// create-argocd-app: an environment outside its golden path is a 403 naming
// that element and the rule, and nothing reaches Argo CD; a set inside is
// created.
func TestServeAppliesTheGuardrailsToApplicationSets(t *testing.T) {
	argo := fakeArgoCD(t)
	p := startPaved(t, argoConfig(argo.Addr())+`
guardrails:
  apps:
    - templates: [template:default/new-service-environments]
      projects: [default]
      destinations: ["https://kubernetes.default.svc/shop-*"]
      repoURLs: ["https://git.example.com/*"]
`, map[string]string{"ARGO_PASSWORD": "argo-pass-123"})
	set := func(prodNamespace string) string {
		return `{"name":"shop","project":"default","repoURL":"https://git.example.com/deploy.git","path":"envs/{{.environment}}",
		  "environments":[{"name":"dev","namespace":"shop-dev"},{"name":"prod","namespace":"` + prodNamespace + `"}],
		  "templateRef":"template:default/new-service-environments"}`
	}
	_, err := p.cli(t, set("kube-system"), "actions", "invoke", "create-argocd-appset", "--input", "-")
	if err == nil || !strings.Contains(err.Error(), "403 NotAllowedError") ||
		!strings.Contains(err.Error(), `environments.1.namespace: environment "prod": "https://kubernetes.default.svc/kube-system" is outside guardrails.apps[0].destinations`) {
		t.Fatalf("a set with prod outside the golden path: %v, want a 403 naming environments.1.namespace and the rule", err)
	}
	if n := argo.Calls(argocdtest.MethodAppSetCreate); n != 0 {
		t.Fatalf("the refused set reached Argo CD %d times", n)
	}
	if _, err := p.cli(t, set("shop-prod"), "actions", "invoke", "create-argocd-appset", "--input", "-"); err != nil {
		t.Fatalf("a set inside the golden path: %v", err)
	}
	if _, ok := argo.AppSet("", "shop"); !ok {
		t.Fatal("the set inside the golden path is not in Argo CD")
	}
}
