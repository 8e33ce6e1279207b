package config

import "time"

// Permission configures who may do what (the permission package).
type Permission struct {
	// Backstage asks Backstage's permission backend (POST
	// /api/permission/authorize on behalf of the user) for every decision.
	// Turn it on when Backstage runs with permission.enabled: true; when off,
	// paved applies Policy.
	Backstage bool `yaml:"backstage"`
	// CacheTTL is how long a decision is reused for one user and permission.
	CacheTTL Duration `yaml:"cacheTTL"`
	// Policy is paved's own policy when Backstage's is not asked: the first
	// matching line decides; paved's defaults follow the lines.
	Policy []PolicyLine `yaml:"policy"`
}

// PolicyLine is one line of paved's own policy.
type PolicyLine struct {
	Permission string         `yaml:"permission"` // name, or prefix ending in '*'; empty: all
	Action     string         `yaml:"action"`     // create | read | update | delete; empty: all
	Users      []string       `yaml:"users"`
	Groups     []string       `yaml:"groups"`
	Result     string         `yaml:"result"` // ALLOW | DENY | CONDITIONAL
	Conditions map[string]any `yaml:"conditions"`
}

// DefaultPermission is the permission configuration when nothing is set.
func DefaultPermission() Permission {
	return Permission{CacheTTL: Duration(10 * time.Second)}
}
