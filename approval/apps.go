package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
)

// AppRule returns the reason of the first rule that sends the creation of
// app for approval; ok false: none does.
func (s *Service) AppRule(app paved.AppRequest) (Rule, string, bool) {
	for i, ru := range s.o.Rules {
		if ru.matchesApp(app) {
			return ru, ru.describe(i), true
		}
	}
	return Rule{}, "", false
}

// GateApp stores the creation of app (checked by the caller as creating it
// would: fields, guardrails, permission) as a pending request and notifies
// its approvers when a rule asks for approval; ok false means no rule
// matched and the caller creates it. Asking again for an application
// already pending (a retried step) returns its request.
func (s *Service) GateApp(ctx context.Context, app paved.AppRequest) (Pending, bool, error) {
	rule, reason, ok := s.AppRule(app)
	if !ok {
		return Pending{}, false, nil
	}
	name := AppName(app.AppRef)
	p, _ := paved.PrincipalFrom(ctx)
	if p.User == "" {
		return Pending{}, false, paved.Errorf(paved.EForbidden, "Argo CD application %s needs approval (%s), and only a request made on behalf of a user can be sent for approval", name, reason)
	}
	owner := app.Annotations[paved.AnnotationEntityRef]
	if owner == "" {
		owner = p.User
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	return s.open(ctx, Request{
		ID: infra.NewID(), Kind: KindArgoCDApp, Name: name, Owner: owner, Parameters: appParams(app), App: &app,
		EntityRef: app.Annotations[paved.AnnotationEntityRef], Requester: p.User, Approvers: rule.Approvers, Reason: reason,
		State: StatePending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.o.ExpireAfter),
	})
}

// AppName is the name of an application's request: instance/name, or
// instance/namespace/name for an application outside Argo CD's namespace.
func AppName(ref paved.AppRef) string {
	if ref.Namespace != "" {
		return ref.Instance + "/" + ref.Namespace + "/" + ref.Name
	}
	return ref.Instance + "/" + ref.Name
}

// appParams is what an approver reads of an application: where it deploys
// from and to.
func appParams(app paved.AppRequest) map[string]any {
	project := app.Project
	if project == "" {
		project = "default"
	}
	params := map[string]any{"instance": app.Instance, "project": project, "namespace": app.Destination.Namespace}
	if app.Destination.Name != "" {
		params["cluster"] = app.Destination.Name
	} else {
		params["cluster"] = app.Destination.Server
	}
	for i, src := range app.Sources {
		key := "source"
		if len(app.Sources) > 1 {
			key = fmt.Sprintf("sources.%d", i)
		}
		what := src.Path
		if src.Chart != "" {
			what = "chart " + src.Chart
		}
		params[key] = strings.TrimSpace(fmt.Sprintf("%s %s %s", src.RepoURL, what, src.TargetRevision))
	}
	if app.Automated != nil {
		params["automated"] = fmt.Sprintf("prune=%t selfHeal=%t", app.Automated.Prune, app.Automated.SelfHeal)
	}
	return params
}

func sameApp(a, b *paved.AppRequest) bool {
	if a == nil || b == nil {
		return a == b
	}
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && bytes.Equal(ja, jb)
}
