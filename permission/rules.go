package permission

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/paved-dev/paved"
)

// Rule is a permission rule a policy may use in a conditional decision,
// serialized like createPermissionIntegrationRouter's metadata.
type Rule struct {
	Name         string         `json:"name"`
	Description  string         `json:"description"`
	ResourceType string         `json:"resourceType"`
	ParamsSchema map[string]any `json:"paramsSchema"`
	apply        func(r *paved.Resource, params map[string]json.RawMessage) (bool, error)
}

// paramsSchema is a rule's parameters as zod-to-json-schema writes them for
// createPermissionRule: an object of required string or string-list fields.
func paramsSchema(fields map[string]string, lists ...string) map[string]any {
	props := map[string]any{}
	var required []string
	for name, desc := range fields {
		props[name] = map[string]any{"type": "string", "description": desc}
		required = append(required, name)
	}
	for i := 0; i+1 < len(lists); i += 2 {
		props[lists[i]] = map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": lists[i+1]}
		required = append(required, lists[i])
	}
	slices.Sort(required)
	if required == nil {
		required = []string{}
	}
	return map[string]any{"type": "object", "properties": props, "required": required,
		"additionalProperties": false, "$schema": "http://json-schema.org/draft-07/schema#"}
}

func stringsParam(params map[string]json.RawMessage, name string) ([]string, error) {
	raw, ok := params[name]
	if !ok {
		return nil, fmt.Errorf("parameter %q is required", name)
	}
	var v []string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("parameter %q must be a list of strings", name)
	}
	return v, nil
}

func stringParam(params map[string]json.RawMessage, name string) (string, error) {
	raw, ok := params[name]
	if !ok {
		return "", fmt.Errorf("parameter %q is required", name)
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("parameter %q must be a string", name)
	}
	return v, nil
}

// EntityRef normalizes an owner the way Backstage reads one: a bare name is
// a group in the default namespace, a kind without namespace is in default.
func EntityRef(ref string) string {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if ref == "" {
		return ""
	}
	kind, rest, ok := strings.Cut(ref, ":")
	if !ok {
		kind, rest = "group", ref
	}
	if !strings.Contains(rest, "/") {
		rest = "default/" + rest
	}
	return kind + ":" + rest
}

func isOwner(resourceType string) Rule {
	return Rule{Name: "IS_OWNER", ResourceType: resourceType,
		Description:  "Allow resources owned by one of the given entity refs (for a user: their ownershipEntityRefs, the user and their groups)",
		ParamsSchema: paramsSchema(nil, "claims", "Entity refs, e.g. user:default/jane and group:default/team-a"),
		apply: func(r *paved.Resource, params map[string]json.RawMessage) (bool, error) {
			claims, err := stringsParam(params, "claims")
			if err != nil {
				return false, err
			}
			owner := EntityRef(r.Owner)
			return owner != "" && slices.ContainsFunc(claims, func(c string) bool { return EntityRef(c) == owner }), nil
		}}
}

// Rules returns every rule paved applies, by resource type.
func Rules() []Rule {
	return []Rule{
		isOwner(paved.ResourceInfra),
		{Name: "HAS_KIND", ResourceType: paved.ResourceInfra,
			Description:  "Allow infrastructure resources of one of the given kinds (golden paths)",
			ParamsSchema: paramsSchema(nil, "kinds", "Kind names, e.g. postgresql"),
			apply: func(r *paved.Resource, params map[string]json.RawMessage) (bool, error) {
				kinds, err := stringsParam(params, "kinds")
				return slices.Contains(kinds, r.Kind), err
			}},
		{Name: "HAS_PARAMETER", ResourceType: paved.ResourceInfra,
			Description: "Allow infrastructure resources whose parameter has one of the given values (e.g. size is small or medium)",
			ParamsSchema: paramsSchema(map[string]string{"parameter": "The kind's parameter, e.g. size"},
				"values", "Allowed values"),
			apply: func(r *paved.Resource, params map[string]json.RawMessage) (bool, error) {
				name, err := stringParam(params, "parameter")
				if err != nil {
					return false, err
				}
				values, err := stringsParam(params, "values")
				if err != nil {
					return false, err
				}
				v, ok := r.Params[name]
				return ok && slices.Contains(values, v), nil
			}},
		isOwner(paved.ResourceArgoApp),
		{Name: "HAS_PROJECT", ResourceType: paved.ResourceArgoApp,
			Description:  "Allow Argo CD applications in one of the given projects",
			ParamsSchema: paramsSchema(nil, "projects", "Argo CD project names"),
			apply: func(r *paved.Resource, params map[string]json.RawMessage) (bool, error) {
				projects, err := stringsParam(params, "projects")
				return slices.Contains(projects, r.Project), err
			}},
		{Name: "DESTINATION_NAMESPACE_MATCHES", ResourceType: paved.ResourceArgoApp,
			Description:  "Allow Argo CD applications whose destination namespace matches one of the given patterns (* and ? as in shell globs)",
			ParamsSchema: paramsSchema(nil, "patterns", "Namespace patterns, e.g. team-a-*"),
			apply: func(r *paved.Resource, params map[string]json.RawMessage) (bool, error) {
				patterns, err := stringsParam(params, "patterns")
				if err != nil {
					return false, err
				}
				for _, p := range patterns {
					if ok, err := path.Match(p, r.DestinationNamespace); err != nil {
						return false, fmt.Errorf("pattern %q: %v", p, err)
					} else if ok {
						return true, nil
					}
				}
				return false, nil
			}},
		{Name: "IS_MANAGED_BY_PAVED", ResourceType: paved.ResourceArgoApp,
			Description:  "Allow Argo CD applications paved created (label app.kubernetes.io/managed-by: paved)",
			ParamsSchema: paramsSchema(nil),
			apply: func(r *paved.Resource, _ map[string]json.RawMessage) (bool, error) {
				return r.ManagedByPaved, nil
			}},
	}
}

var rulesByKey = func() map[string]Rule {
	m := map[string]Rule{}
	for _, r := range Rules() {
		m[r.ResourceType+"/"+r.Name] = r
	}
	return m
}()

// Evaluate applies criteria to r with paved's rules. When the result is
// false, failed names the rule (with its parameters) that decided it.
func Evaluate(c *paved.Criteria, r *paved.Resource) (ok bool, failed string, err error) {
	if c == nil || r == nil {
		return false, "", nil
	}
	switch {
	case len(c.AllOf) > 0:
		for i := range c.AllOf {
			if ok, failed, err := Evaluate(&c.AllOf[i], r); !ok || err != nil {
				return false, failed, err
			}
		}
		return true, "", nil
	case len(c.AnyOf) > 0:
		var fails []string
		for i := range c.AnyOf {
			ok, failed, err := Evaluate(&c.AnyOf[i], r)
			if err != nil {
				return false, "", err
			}
			if ok {
				return true, "", nil
			}
			fails = append(fails, failed)
		}
		return false, "none of " + strings.Join(fails, ", "), nil
	case c.Not != nil:
		ok, _, err := Evaluate(c.Not, r)
		if err != nil {
			return false, "", err
		}
		if ok {
			return false, "not " + describe(c.Not), nil
		}
		return true, "", nil
	}
	rt := c.ResourceType
	if rt == "" {
		rt = r.Type
	}
	if rt != r.Type {
		return false, "", fmt.Errorf("rule %s is for resource type %q, not %q", c.Rule, rt, r.Type)
	}
	rule, known := rulesByKey[rt+"/"+c.Rule]
	if !known {
		return false, "", fmt.Errorf("permission rule %q does not exist for resource type %q", c.Rule, rt)
	}
	params := map[string]json.RawMessage{}
	if len(c.Params) > 0 && string(c.Params) != "null" {
		if err := json.Unmarshal(c.Params, &params); err != nil {
			return false, "", fmt.Errorf("rule %s: params must be an object", c.Rule)
		}
	}
	ok, err = rule.apply(r, params)
	if err != nil {
		return false, "", fmt.Errorf("rule %s: %v", c.Rule, err)
	}
	if !ok {
		return false, describe(c), nil
	}
	return true, "", nil
}

func describe(c *paved.Criteria) string {
	if c.Rule == "" {
		return "a combined condition"
	}
	if len(c.Params) == 0 || string(c.Params) == "{}" {
		return c.Rule
	}
	return c.Rule + " " + string(c.Params)
}
