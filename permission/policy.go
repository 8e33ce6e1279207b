package permission

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/paved-dev/paved"
)

// PolicyRule is one line of paved's own policy: for the permissions it
// matches and the users it names, the decision. The first matching line
// decides.
type PolicyRule struct {
	// Permission is a permission name, or a prefix ending in '*'; empty matches all.
	Permission string `yaml:"permission" json:"permission,omitempty"`
	// Action matches the permission's action attribute (create, read,
	// update, delete); empty matches all.
	Action string `yaml:"action" json:"action,omitempty"`
	// Users and Groups (entity refs) the line is for; both empty: every user.
	Users  []string `yaml:"users" json:"users,omitempty"`
	Groups []string `yaml:"groups" json:"groups,omitempty"`
	// Result is ALLOW, DENY or CONDITIONAL (resource permissions only).
	Result string `yaml:"result" json:"result"`
	// Conditions of a CONDITIONAL line, Backstage's criteria with paved's
	// rules; IS_OWNER without claims is the user's ownership refs.
	Conditions *paved.Criteria `yaml:"-" json:"conditions,omitempty"`
}

// Policy is paved's own policy, used when Backstage's permission framework
// is disabled: the configured lines, then the defaults (DefaultRules).
type Policy struct {
	rules []PolicyRule
}

var _ Decider = (*Policy)(nil)

// Readers are the groups of the default policy's read permissions.
type Readers struct {
	// DevEx read the adoption metrics (paved.devex.read).
	DevEx []string
	// FeedbackComments read the feedback comments
	// (paved.devex.feedback.read); empty: DevEx.
	FeedbackComments []string
}

// DefaultRules end every policy: operator permissions (audit, key rotation,
// project widening, acting for other owners) are denied to users; adoption
// metrics and feedback comments are for their reader groups; changing,
// tearing down or reading the credentials of a resource is for its owners;
// the rest is allowed.
func DefaultRules(readers Readers) []PolicyRule {
	owner := &paved.Criteria{Rule: "IS_OWNER"}
	rules := []PolicyRule{
		{Permission: AuditRead.Name, Result: paved.DecisionDeny},
		{Permission: KeysRotate.Name, Result: paved.DecisionDeny},
		{Permission: ProjectWiden.Name, Result: paved.DecisionDeny},
		{Permission: InfraOperate.Name, Result: paved.DecisionDeny},
	}
	commentReaders := readers.FeedbackComments
	if len(commentReaders) == 0 {
		commentReaders = readers.DevEx
	}
	if len(readers.DevEx) > 0 {
		rules = append(rules, PolicyRule{Permission: DevExRead.Name, Groups: readers.DevEx, Result: paved.DecisionAllow})
	}
	if len(commentReaders) > 0 {
		rules = append(rules, PolicyRule{Permission: FeedbackCommentsRead.Name, Groups: commentReaders, Result: paved.DecisionAllow})
	}
	rules = append(rules,
		PolicyRule{Permission: DevExRead.Name, Result: paved.DecisionDeny},
		PolicyRule{Permission: FeedbackCommentsRead.Name, Result: paved.DecisionDeny},
		PolicyRule{Permission: InfraConnectionRead.Name, Result: paved.DecisionConditional, Conditions: owner},
		PolicyRule{Permission: "paved.infra.*", Action: "delete", Result: paved.DecisionConditional, Conditions: owner},
		PolicyRule{Permission: "paved.infra.*", Action: "update", Result: paved.DecisionConditional, Conditions: owner},
		PolicyRule{Permission: "paved.argocd.app.*", Action: "delete", Result: paved.DecisionConditional, Conditions: owner},
		PolicyRule{Result: paved.DecisionAllow},
	)
	return rules
}

// NewPolicy checks the configured lines and returns the policy they make
// with the defaults after them.
func NewPolicy(lines []PolicyRule, readers Readers) (*Policy, error) {
	known := map[string]paved.Permission{}
	for _, p := range Fixed() {
		known[p.Name] = p
	}
	for i, l := range lines {
		switch l.Result {
		case paved.DecisionAllow, paved.DecisionDeny:
			if l.Conditions != nil {
				return nil, fmt.Errorf("permission.policy[%d]: conditions need result CONDITIONAL", i)
			}
		case paved.DecisionConditional:
			if l.Conditions == nil {
				return nil, fmt.Errorf("permission.policy[%d]: result CONDITIONAL needs conditions", i)
			}
			if err := checkCriteria(l.Conditions); err != nil {
				return nil, fmt.Errorf("permission.policy[%d].conditions: %v", i, err)
			}
			if p, ok := known[l.Permission]; ok && p.Type != "resource" {
				return nil, fmt.Errorf("permission.policy[%d]: %s is a basic permission; only resource permissions take conditions", i, p.Name)
			}
		default:
			return nil, fmt.Errorf("permission.policy[%d].result: must be ALLOW, DENY or CONDITIONAL", i)
		}
		if l.Action != "" && !slices.Contains([]string{"create", "read", "update", "delete"}, l.Action) {
			return nil, fmt.Errorf("permission.policy[%d].action: must be create, read, update or delete", i)
		}
	}
	return &Policy{rules: append(slices.Clone(lines), DefaultRules(readers)...)}, nil
}

func checkCriteria(c *paved.Criteria) error {
	switch {
	case len(c.AllOf) > 0:
		for i := range c.AllOf {
			if err := checkCriteria(&c.AllOf[i]); err != nil {
				return err
			}
		}
	case len(c.AnyOf) > 0:
		for i := range c.AnyOf {
			if err := checkCriteria(&c.AnyOf[i]); err != nil {
				return err
			}
		}
	case c.Not != nil:
		return checkCriteria(c.Not)
	case c.Rule == "":
		return fmt.Errorf("a condition needs rule, allOf, anyOf or not")
	default:
		found := false
		for _, r := range Rules() {
			if r.Name == c.Rule && (c.ResourceType == "" || c.ResourceType == r.ResourceType) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("unknown rule %q", c.Rule)
		}
	}
	return nil
}

// Decide implements Decider.
func (p *Policy) Decide(_ context.Context, u User, perms []paved.Permission) ([]paved.Decision, error) {
	refs := ownershipRefs(u)
	out := make([]paved.Decision, len(perms))
	for i, perm := range perms {
		out[i] = paved.Decision{Result: paved.DecisionDeny}
		for _, l := range p.rules {
			if !l.matches(perm, refs) {
				continue
			}
			if l.Result == paved.DecisionConditional {
				if perm.Type != "resource" {
					continue // conditions only apply to resources; look further
				}
				out[i] = paved.Decision{Result: l.Result, PluginID: "paved", ResourceType: perm.ResourceType,
					Conditions: withClaims(l.Conditions, perm.ResourceType, refs)}
			} else {
				out[i] = paved.Decision{Result: l.Result}
			}
			break
		}
	}
	return out, nil
}

func (l PolicyRule) matches(p paved.Permission, refs []string) bool {
	if l.Permission != "" && !matchName(l.Permission, p.Name) {
		return false
	}
	if l.Action != "" && l.Action != p.Attributes.Action {
		return false
	}
	if len(l.Users) == 0 && len(l.Groups) == 0 {
		return true
	}
	for _, who := range append(slices.Clone(l.Users), l.Groups...) {
		if slices.Contains(refs, EntityRef(who)) {
			return true
		}
	}
	return false
}

// withClaims copies c, giving IS_OWNER without claims the user's refs and
// every rule the resource type.
func withClaims(c *paved.Criteria, resourceType string, refs []string) *paved.Criteria {
	if c == nil {
		return nil
	}
	out := *c
	out.AllOf, out.AnyOf, out.Not = nil, nil, nil
	for i := range c.AllOf {
		out.AllOf = append(out.AllOf, *withClaims(&c.AllOf[i], resourceType, refs))
	}
	for i := range c.AnyOf {
		out.AnyOf = append(out.AnyOf, *withClaims(&c.AnyOf[i], resourceType, refs))
	}
	if c.Not != nil {
		out.Not = withClaims(c.Not, resourceType, refs)
	}
	if out.Rule != "" {
		if out.ResourceType == "" {
			out.ResourceType = resourceType
		}
		if out.Rule == "IS_OWNER" && len(out.Params) == 0 {
			out.Params, _ = json.Marshal(map[string][]string{"claims": refs})
		}
	}
	return &out
}
