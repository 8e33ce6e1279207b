package config

import "github.com/paved-dev/paved/guardrail"

// Guardrails limit each golden path, whoever calls (package guardrail).
type Guardrails struct {
	// Apps limit create-argocd-app, and each Application create-argocd-appset
	// would generate: the first rule whose templates name the call's
	// templateRef (or that names none) applies.
	Apps []AppGuardrail `yaml:"apps"`
	// Infra limits provision-infra: the first rule whose owners name the
	// resource's owner (or that names none) applies.
	Infra []InfraGuardrail `yaml:"infra"`
}

// AppGuardrail is one rule for applications; patterns are globs (* and ?).
type AppGuardrail struct {
	Templates    []string `yaml:"templates"`
	Projects     []string `yaml:"projects"`
	Destinations []string `yaml:"destinations"` // "<server or cluster name>/<namespace>"
	RepoURLs     []string `yaml:"repoURLs"`
}

// InfraGuardrail is one rule for infrastructure.
type InfraGuardrail struct {
	Owners []string `yaml:"owners"` // entity refs, e.g. group:default/platform
	Kinds  []string `yaml:"kinds"`
	Sizes  []string `yaml:"sizes"`
}

// Set returns the guardrails as package guardrail applies them; nil when
// none are configured.
func (g Guardrails) Set() (*guardrail.Set, error) {
	if len(g.Apps) == 0 && len(g.Infra) == 0 {
		return nil, nil
	}
	apps := make([]guardrail.Apps, len(g.Apps))
	for i, a := range g.Apps {
		apps[i] = guardrail.Apps{Templates: a.Templates, Projects: a.Projects, Destinations: a.Destinations, RepoURLs: a.RepoURLs}
	}
	infra := make([]guardrail.Infra, len(g.Infra))
	for i, r := range g.Infra {
		infra[i] = guardrail.Infra{Owners: r.Owners, Kinds: r.Kinds, Sizes: r.Sizes}
	}
	return guardrail.New(apps, infra)
}

func (g Guardrails) validate(p *problems) {
	if _, err := g.Set(); err != nil {
		p.add("guardrails", "%v", err)
	}
}
