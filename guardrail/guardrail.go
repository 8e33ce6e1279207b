// Package guardrail holds the limits an operator puts on each golden path in
// paved's config, applied whoever calls (a user, the scaffolder on their
// behalf, a static token): which Argo CD projects, destinations and source
// repositories a template's applications may use, and which infrastructure
// kinds and sizes an owner may provision. A request outside them is a 403
// naming the field and the rule; the permission policy decides who, the
// guardrails decide what.
package guardrail

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/paved-dev/paved"
)

// Apps limits the Argo CD applications of some golden paths. An empty list
// puts no limit on its field.
type Apps struct {
	// Templates are the golden paths (the call's templateRef) the rule is
	// for; empty: every call.
	Templates []string
	// Projects are glob patterns of allowed Argo CD projects.
	Projects []string
	// Destinations are glob patterns of "<server or cluster name>/<namespace>".
	Destinations []string
	// RepoURLs are glob patterns of allowed source repositories.
	RepoURLs []string
}

// Infra limits what owners may provision. An empty list puts no limit.
type Infra struct {
	// Owners are the entity refs (user or group) the rule is for, as the
	// resource's owner; empty: every owner.
	Owners []string
	// Kinds are the allowed infrastructure kinds.
	Kinds []string
	// Sizes are the allowed values of the kind's size parameter.
	Sizes []string
}

// Set is the configured guardrails. For a call, the first rule of its kind
// that is for it (its template, its owner) applies; none: no limit.
type Set struct {
	Apps  []Apps
	Infra []Infra

	apps []compiledApps
}

type compiledApps struct {
	projects, destinations, repoURLs []*regexp.Regexp
}

// New checks every pattern and returns the set.
func New(apps []Apps, infra []Infra) (*Set, error) {
	s := &Set{Apps: apps, Infra: infra}
	for i, a := range apps {
		var c compiledApps
		var err error
		for _, f := range []struct {
			name string
			in   []string
			out  *[]*regexp.Regexp
		}{{"projects", a.Projects, &c.projects}, {"destinations", a.Destinations, &c.destinations}, {"repoURLs", a.RepoURLs, &c.repoURLs}} {
			if *f.out, err = compile(f.in); err != nil {
				return nil, fmt.Errorf("guardrails.apps[%d].%s: %v", i, f.name, err)
			}
		}
		s.apps = append(s.apps, c)
	}
	return s, nil
}

// compile turns glob patterns (* any run of characters, ? one) into anchored
// expressions.
func compile(globs []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(globs))
	for _, g := range globs {
		if g == "" {
			return nil, fmt.Errorf("an empty pattern")
		}
		var b strings.Builder
		b.WriteString("^")
		for _, r := range g {
			switch r {
			case '*':
				b.WriteString(".*")
			case '?':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		b.WriteString("$")
		re, err := regexp.Compile(b.String())
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %v", g, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func matchesAny(res []*regexp.Regexp, v string) bool {
	for _, re := range res {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// App is what CheckApp looks at in a request for an application.
type App struct {
	TemplateRef string
	Project     string
	// Destination is the server URL or the cluster name, and the namespace.
	DestinationServer, DestinationName, DestinationNamespace string
	// DestinationField names the destination in the request; empty:
	// destination.namespace. Environment, when set, is the environment of an
	// ApplicationSet the application is generated for, said in that field's
	// message.
	DestinationField, Environment string
	// RepoURLs are the sources' repositories, with the field naming each.
	RepoURLs map[string]string // field → URL
}

// CheckApp returns nil when the first rule for a's template allows it, else
// a 403 listing every field outside the rule.
func (s *Set) CheckApp(a App) error {
	return s.CheckApps(a)
}

// CheckApps checks the applications one request makes (an ApplicationSet's,
// one per environment) as CheckApp checks each: nil when all are inside
// their rule, else one 403 listing every field outside, each once, and
// naming the rule of the first application refused.
func (s *Set) CheckApps(apps ...App) error {
	if s == nil {
		return nil
	}
	var bad []paved.FieldError
	seen := map[paved.FieldError]bool{}
	rule, forWhat := "", ""
	for _, a := range apps {
		r, fields := s.appFields(a)
		if len(fields) > 0 && rule == "" {
			rule, forWhat = r, a.TemplateRef
		}
		for _, f := range fields {
			if !seen[f] {
				seen[f] = true
				bad = append(bad, f)
			}
		}
	}
	return refused(bad, rule, forWhat)
}

// appFields returns the first rule for a's template and the fields of a
// outside it; none: "" and nil.
func (s *Set) appFields(a App) (string, []paved.FieldError) {
	for i, r := range s.Apps {
		if len(r.Templates) > 0 && !contains(r.Templates, a.TemplateRef) {
			continue
		}
		c := s.apps[i]
		rule := fmt.Sprintf("guardrails.apps[%d]", i)
		var bad []paved.FieldError
		if len(c.projects) > 0 && !matchesAny(c.projects, a.Project) {
			bad = append(bad, outside("project", a.Project, rule, "projects", r.Projects))
		}
		where := a.DestinationServer
		if where == "" {
			where = a.DestinationName
		}
		if len(c.destinations) > 0 && !matchesAny(c.destinations, where+"/"+a.DestinationNamespace) {
			field := a.DestinationField
			if field == "" {
				field = "destination.namespace"
			}
			f := outside(field, where+"/"+a.DestinationNamespace, rule, "destinations", r.Destinations)
			if a.Environment != "" {
				f.Message = fmt.Sprintf("environment %.100q: %s", a.Environment, f.Message)
			}
			bad = append(bad, f)
		}
		if len(c.repoURLs) > 0 {
			for _, field := range slices.Sorted(maps.Keys(a.RepoURLs)) {
				if u := a.RepoURLs[field]; !matchesAny(c.repoURLs, u) {
					bad = append(bad, outside(field, u, rule, "repoURLs", r.RepoURLs))
				}
			}
		}
		return rule, bad
	}
	return "", nil
}

// CheckInfra returns nil when the first rule for owner allows kind and the
// size parameter, else a 403 naming the fields outside the rule.
func (s *Set) CheckInfra(kind, owner string, params map[string]any) error {
	if s == nil {
		return nil
	}
	for i, r := range s.Infra {
		if len(r.Owners) > 0 && !containsFold(r.Owners, owner) {
			continue
		}
		rule := fmt.Sprintf("guardrails.infra[%d]", i)
		var bad []paved.FieldError
		if len(r.Kinds) > 0 && !contains(r.Kinds, kind) {
			bad = append(bad, outside("kind", kind, rule, "kinds", r.Kinds))
		}
		if size, ok := params["size"].(string); ok && len(r.Sizes) > 0 && !contains(r.Sizes, size) {
			bad = append(bad, outside("parameters.size", size, rule, "sizes", r.Sizes))
		}
		return refused(bad, rule, owner)
	}
	return nil
}

func outside(field, value, rule, list string, allowed []string) paved.FieldError {
	return paved.FieldError{Field: field, Message: fmt.Sprintf("%.200q is outside %s.%s %q", value, rule, list, allowed)}
}

func refused(bad []paved.FieldError, rule, forWhat string) error {
	if len(bad) == 0 {
		return nil
	}
	msgs := make([]string, len(bad))
	for i, f := range bad {
		msgs[i] = f.Field + ": " + f.Message
	}
	if forWhat == "" {
		forWhat = "every call"
	}
	return &paved.Error{Code: paved.EForbidden, Fields: bad,
		Message: fmt.Sprintf("outside the guardrails of %s (for %s): %s", rule, forWhat, strings.Join(msgs, "; "))}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
