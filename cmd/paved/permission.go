package main

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/config"
	"github.com/paved-dev/paved/permission"
)

// newAuthorizer returns the one authorizer of every route and action:
// Backstage's permission backend when configured, else paved's own policy.
func newAuthorizer(cfg config.Config, discovery *backstage.Discovery, signer *backstage.Signer, membership permission.GroupMembership, logger *slog.Logger) (*permission.Authorizer, error) {
	var decider permission.Decider
	if cfg.Permission.Backstage {
		decider = &permission.Backend{
			BaseURL: func() (string, error) { return discovery.BaseURL("permission") },
			Tokens:  signer,
		}
	} else {
		lines := make([]permission.PolicyRule, len(cfg.Permission.Policy))
		for i, l := range cfg.Permission.Policy {
			lines[i] = permission.PolicyRule{Permission: l.Permission, Action: l.Action, Users: l.Users, Groups: l.Groups, Result: l.Result}
			if l.Conditions != nil {
				raw, err := json.Marshal(l.Conditions)
				if err != nil {
					return nil, fmt.Errorf("permission.policy[%d].conditions: %v", i, err)
				}
				var c paved.Criteria
				if err := json.Unmarshal(raw, &c); err != nil {
					return nil, fmt.Errorf("permission.policy[%d].conditions: %v", i, err)
				}
				lines[i].Conditions = &c
			}
		}
		policy, err := permission.NewPolicy(lines, permission.Readers{DevEx: cfg.DevEx.ReaderGroups, FeedbackComments: cfg.DevEx.Feedback.CommentReaderGroups})
		if err != nil {
			return nil, err
		}
		decider = policy
	}
	return permission.New(permission.Options{Decider: decider, TTL: cfg.Permission.CacheTTL.D(), Membership: membership, Logger: logger}), nil
}
