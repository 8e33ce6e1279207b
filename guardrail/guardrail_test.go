package guardrail_test

import (
	"strings"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/guardrail"
)

func TestGuardrails(t *testing.T) {
	s, err := guardrail.New([]guardrail.Apps{
		{Templates: []string{"template:default/new-service"}, Projects: []string{"team-*"},
			Destinations: []string{"https://kubernetes.default.svc/team-*", "prod-eu/team-*"}, RepoURLs: []string{"https://git.example.com/*"}},
		{Projects: []string{"sandbox"}},
	}, []guardrail.Infra{
		{Owners: []string{"group:default/platform"}, Sizes: []string{"small", "medium", "large"}},
		{Kinds: []string{"postgresql"}, Sizes: []string{"small", "medium"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ok := guardrail.App{TemplateRef: "template:default/new-service", Project: "team-a", DestinationServer: "https://kubernetes.default.svc",
		DestinationNamespace: "team-a-prod", RepoURLs: map[string]string{"source.repoURL": "https://git.example.com/a/b.git"}}
	if err := s.CheckApp(ok); err != nil {
		t.Errorf("inside: %v", err)
	}
	named := ok
	named.DestinationServer, named.DestinationName = "", "prod-eu"
	if err := s.CheckApp(named); err != nil {
		t.Errorf("a destination by cluster name: %v", err)
	}
	bad := ok
	bad.Project, bad.DestinationNamespace, bad.RepoURLs = "platform", "kube-system", map[string]string{"sources.1.repoURL": "https://evil.example/x.git"}
	err = s.CheckApp(bad)
	var pe *paved.Error
	if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(paved.ErrorMessage(err), "guardrails.apps[0]") {
		t.Fatalf("outside: %v", err)
	}
	pe = err.(*paved.Error)
	fields := map[string]bool{}
	for _, f := range pe.Fields {
		fields[f.Field] = true
	}
	if !fields["project"] || !fields["destination.namespace"] || !fields["sources.1.repoURL"] || len(fields) != 3 {
		t.Errorf("fields %+v, want project, destination.namespace and sources.1.repoURL", pe.Fields)
	}
	// Another golden path falls to the catch-all rule.
	other := guardrail.App{TemplateRef: "template:default/other", Project: "team-a"}
	if err := s.CheckApp(other); paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "guardrails.apps[1]") {
		t.Errorf("catch-all: %v", err)
	}

	params := func(size string) map[string]any { return map[string]any{"size": size, "region": "eu-west-1"} }
	if err := s.CheckInfra("postgresql", "group:default/Platform", params("large")); err != nil {
		t.Errorf("platform large: %v", err)
	}
	if err := s.CheckInfra("s3-bucket", "group:default/platform", nil); err != nil {
		t.Errorf("platform, any kind: %v", err)
	}
	err = s.CheckInfra("postgresql", "group:default/team-a", params("large"))
	if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), `parameters.size: "large" is outside guardrails.infra[1].sizes`) {
		t.Errorf("team-a large: %v", err)
	}
	if err := s.CheckInfra("s3-bucket", "user:default/jane", nil); paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "kind") {
		t.Errorf("jane, another kind: %v", err)
	}
	if _, err := guardrail.New([]guardrail.Apps{{Projects: []string{""}}}, nil); err == nil {
		t.Error("an empty pattern was accepted")
	}
	// An ApplicationSet's applications: one 403, each field once, each
	// destination named by its element and environment.
	dev, prod := bad, bad
	dev.DestinationNamespace, dev.DestinationField, dev.Environment = "team-a", "environments.0.namespace", "dev"
	prod.DestinationField, prod.Environment = "environments.1.namespace", "prod"
	err = s.CheckApps(dev, prod)
	if paved.ErrorCode(err) != paved.EForbidden || !strings.Contains(err.Error(), "outside the guardrails of guardrails.apps[0]") ||
		!strings.Contains(err.Error(), `environments.1.namespace: environment "prod": "https://kubernetes.default.svc/kube-system" is outside guardrails.apps[0].destinations`) {
		t.Fatalf("a set outside: %v", err)
	}
	var got []string
	for _, f := range err.(*paved.Error).Fields {
		got = append(got, f.Field)
	}
	if strings.Join(got, ",") != "project,sources.1.repoURL,environments.1.namespace" {
		t.Errorf("a set's fields %v, want project, sources.1.repoURL and environments.1.namespace, each once", got)
	}
	inside := ok
	inside.DestinationField, inside.Environment = "environments.0.namespace", "dev"
	if err := s.CheckApps(inside, named); err != nil {
		t.Errorf("a set inside: %v", err)
	}
	var none *guardrail.Set
	if none.CheckApps(bad) != nil || none.CheckApp(bad) != nil || none.CheckInfra("x", "y", nil) != nil {
		t.Error("no guardrails refused")
	}
}
