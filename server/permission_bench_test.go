package server_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

// countingDecider answers every decision from a fixed policy and counts the
// round trips a real permission backend would have taken.
type countingDecider struct {
	policy *permission.Policy
	calls  atomic.Int64
}

func (d *countingDecider) Decide(ctx context.Context, u permission.User, perms []paved.Permission) ([]paved.Decision, error) {
	d.calls.Add(1)
	return d.policy.Decide(ctx, u, perms)
}

// BenchmarkPermissionCachedDecision is what the permission framework adds to
// one invoke once the user's decision is cached (target ≤ 0.1 ms): the
// invoke permission (basic, ALLOW), and a resource permission whose
// conditional decision (IS_OWNER with the user's claims) is applied to the
// resource. The cache-miss cost is one round trip to Backstage's permission
// backend, printed by the e2e test TestPermissionPolicy.
func BenchmarkPermissionCachedDecision(b *testing.B) {
	policy, err := permission.NewPolicy(nil, permission.Readers{})
	if err != nil {
		b.Fatal(err)
	}
	decider := &countingDecider{policy: policy}
	authz := permission.New(permission.Options{Decider: decider})
	user := paved.Principal{Kind: paved.PrincipalPlugin, Subject: "scaffolder", User: "user:default/jane",
		OnBehalfOf: "limited-token", Groups: []string{"group:default/team-a"}}
	ctx := paved.WithAuthorizer(paved.WithPrincipal(context.Background(), user), authz)
	invoke := permission.ActionInvoke("provision-infra", false, false)
	resource := &paved.Resource{Type: paved.ResourceInfra, Ref: "r1", Owner: "group:default/team-a", Kind: "postgresql",
		Params: map[string]string{"size": "small"}}
	cases := []struct {
		name string
		perm paved.Permission
		res  *paved.Resource
	}{
		{"invoke", invoke, nil},
		{"conditional", permission.InfraDeprovision, resource},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if err := paved.Authorize(ctx, c.perm, c.res); err != nil {
				b.Fatal(err) // the miss that fills the cache
			}
			before := decider.calls.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := paved.Authorize(ctx, c.perm, c.res); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if n := decider.calls.Load() - before; n != 0 {
				b.Fatalf("%d decisions asked with the decision cached", n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/op")
		})
	}
}
