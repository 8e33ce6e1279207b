package config

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/paved-dev/paved/approval"
)

// Approvals configures the infrastructure requests that need a human look
// (package approval).
type Approvals struct {
	// AppURL is Backstage's frontend (app.baseUrl): the links of step
	// outputs and notifications (the request page of paved's plugin, the
	// Resource entity) start with it; empty: paths relative to the app, which
	// notifications resolve against the app's URL.
	AppURL string `yaml:"appUrl"`
	// ExpireAfter is how long a request waits for a decision (default 72h).
	ExpireAfter Duration `yaml:"expireAfter"`
	// SweepInterval is how often expired requests are closed and approved
	// ones whose provisioner died are finished (default 30s).
	SweepInterval Duration `yaml:"sweepInterval"`
	// Rules: the first that matches a request sends it for approval.
	Rules []ApprovalRule `yaml:"rules"`
}

// ApprovalRule marks requests that need approval, and who decides.
type ApprovalRule struct {
	// Action is what the rule is for: provision-infra (the default) or
	// create-argocd-app.
	Action string `yaml:"action"`
	// Kind is an infra kind, or a glob of kinds; empty: every kind.
	Kind string `yaml:"kind"`
	// Parameters match when each named parameter has one of the values,
	// e.g. size: [large, xlarge].
	Parameters map[string][]string `yaml:"parameters"`
	// OverBudget matches requests that would exceed their team's budget
	// (needs infra.budgets.overBudget: approval).
	OverBudget bool `yaml:"overBudget"`
	// Instance, Project and Namespace match an Argo CD application (action
	// create-argocd-app) by its Argo CD instance, project and destination
	// namespace: a name or glob, e.g. namespace: prod-*; empty: any.
	Instance  string `yaml:"instance"`
	Project   string `yaml:"project"`
	Namespace string `yaml:"namespace"`
	// Approvers is a group entity ref (group:default/platform), or owner:
	// the members of the request's owner group other than the requester.
	Approvers string `yaml:"approvers"`
}

// DefaultApprovals is the approvals configuration paved starts with: no rules.
func DefaultApprovals() Approvals {
	return Approvals{ExpireAfter: Duration(approval.DefaultExpireAfter), SweepInterval: Duration(30 * time.Second)}
}

// DomainRules are the rules as package approval applies them.
func (a Approvals) DomainRules() []approval.Rule {
	out := make([]approval.Rule, 0, len(a.Rules))
	for _, r := range a.Rules {
		approvers := r.Approvers
		if approvers != approval.ApproversOwner {
			approvers = TeamRef(approvers)
		}
		action := r.Action
		if action == approval.ActionProvisionInfra {
			action = ""
		}
		out = append(out, approval.Rule{Action: action, Kind: r.Kind, Parameters: r.Parameters, OverBudget: r.OverBudget,
			Instance: r.Instance, Project: r.Project, Namespace: r.Namespace, Approvers: approvers})
	}
	return out
}

func (a *Approvals) fill() {
	a.AppURL = strings.TrimRight(a.AppURL, "/")
}

func (a Approvals) validate(p *problems, budgets InfraBudgets) {
	if a.AppURL != "" {
		if u, err := url.Parse(a.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("approvals.appUrl", "must be Backstage's app URL (app.baseUrl), got %.64q", a.AppURL)
		}
	}
	if a.ExpireAfter.D() < time.Minute {
		p.add("approvals.expireAfter", "must be at least 1m")
	}
	if a.SweepInterval.D() < time.Second {
		p.add("approvals.sweepInterval", "must be at least 1s")
	}
	overBudgetRule := false
	for i, r := range a.Rules {
		f := fmt.Sprintf("approvals.rules[%d]", i)
		if r.Action == approval.ActionCreateApp {
			validateAppRule(p, f, r)
			continue
		}
		if r.Action != "" && r.Action != approval.ActionProvisionInfra {
			p.add(f+".action", "must be %s (the default) or %s, got %.64q", approval.ActionProvisionInfra, approval.ActionCreateApp, r.Action)
		}
		for _, m := range appMatchers(r) {
			if m[1] != "" {
				p.add(f+"."+m[0], "matches Argo CD applications: only with action: %s", approval.ActionCreateApp)
			}
		}
		if _, err := path.Match(r.Kind, ""); err != nil {
			p.add(f+".kind", "must be a kind name or glob, got %.64q", r.Kind)
		}
		for name, values := range r.Parameters {
			if len(values) == 0 {
				p.add(f+".parameters."+name, "must list at least one value")
			}
		}
		switch {
		case r.Approvers == approval.ApproversOwner:
		case r.Approvers == "" || !strings.HasPrefix(TeamRef(r.Approvers), "group:"):
			p.add(f+".approvers", "must be a group (platform or group:default/platform) or owner, got %.64q", r.Approvers)
		}
		if r.OverBudget {
			overBudgetRule = true
			if budgets.OverBudget != "approval" {
				p.add(f+".overBudget", "needs infra.budgets.overBudget: approval (over-budget requests are refused otherwise)")
			}
		}
		if r.Kind == "" && len(r.Parameters) == 0 && !r.OverBudget {
			p.add(f, "matches every request; name a kind, parameters or overBudget")
		}
	}
	if budgets.OverBudget == "approval" && !overBudgetRule {
		p.add("infra.budgets.overBudget", "approval needs an approvals rule with overBudget: true naming the approvers")
	}
}

// validateAppRule checks a rule for paved:create-argocd-app: it matches by
// instance, project and destination namespace, and names its approvers (an
// application has no owner group paved knows of).
func validateAppRule(p *problems, f string, r ApprovalRule) {
	if r.Kind != "" || len(r.Parameters) > 0 || r.OverBudget {
		p.add(f, "kind, parameters and overBudget match infrastructure requests, not action %s (use instance, project, namespace)", approval.ActionCreateApp)
	}
	for _, m := range appMatchers(r) {
		if _, err := path.Match(m[1], ""); err != nil {
			p.add(f+"."+m[0], "must be a name or glob, got %.64q", m[1])
		}
	}
	if r.Instance == "" && r.Project == "" && r.Namespace == "" {
		p.add(f, "matches every application; name an instance, project or namespace (e.g. namespace: prod-*)")
	}
	if r.Approvers == "" || r.Approvers == approval.ApproversOwner || !strings.HasPrefix(TeamRef(r.Approvers), "group:") {
		p.add(f+".approvers", "must be a group (platform or group:default/platform): an application's owner group is not known to paved, got %.64q", r.Approvers)
	}
}

// appMatchers are a rule's application fields, by name.
func appMatchers(r ApprovalRule) [][2]string {
	return [][2]string{{"instance", r.Instance}, {"project", r.Project}, {"namespace", r.Namespace}}
}
