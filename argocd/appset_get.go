package argocd

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/paved-dev/paved"
)

// GetAppSet reads an ApplicationSet and the Applications it owns. Argo CD
// generates them asynchronously, so right after creation Apps may be short.
func (c *Client) GetAppSet(ctx context.Context, instance, name, namespace string) (paved.AppSetState, error) {
	in, err := c.instance(instance)
	if err != nil {
		return paved.AppSetState{}, err
	}
	set, err := in.getAppSet(ctx, name, in.namespace(namespace))
	if err != nil {
		return paved.AppSetState{}, err
	}
	out := paved.AppSetState{
		Instance:       in.cfg.Name,
		Name:           set.Name,
		Namespace:      set.Namespace,
		Project:        set.Spec.Template.Spec.Project,
		ManagedByPaved: set.Labels[paved.LabelManagedBy] == paved.ManagedByPaved,
		Labels:         set.Labels,
		Annotations:    set.Annotations,
		Environments:   listEnvironments(set),
	}
	if in.cfg.AppNamespace == "" {
		out.Namespace = ""
	}
	for _, cond := range set.Status.Conditions {
		out.Conditions = append(out.Conditions, paved.AppSetCondition{Type: string(cond.Type), Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message})
	}

	// The Applications carry an owner reference to their ApplicationSet; a
	// templated project cannot narrow the listing.
	q := &application.ApplicationQuery{}
	if p := out.Project; p != "" && !strings.Contains(p, "{{") {
		q.Projects = []string{p}
	}
	if set.Namespace != "" {
		q.AppNamespace = &set.Namespace
	}
	var list *v1alpha1.ApplicationList
	err = in.call(ctx, "application.ApplicationService/List", func(ctx context.Context, a *authed) error {
		var err error
		list, err = a.apps.List(ctx, q)
		return err
	})
	if err != nil {
		return paved.AppSetState{}, err
	}
	for i := range list.Items {
		app := &list.Items[i]
		if !ownedBy(app, set) {
			continue
		}
		out.Apps = append(out.Apps, paved.AppSetAppState{App: in.toApp(app, in.cfg.AppNamespace), Environment: app.Labels[paved.LabelEnvironment]})
	}
	order := map[string]int{}
	for i, env := range out.Environments {
		order[paved.AppSetAppName(set.Name, env.Name)] = i
	}
	slices.SortStableFunc(out.Apps, func(a, b paved.AppSetAppState) int {
		ia, oka := order[a.Name]
		ib, okb := order[b.Name]
		switch {
		case oka && okb:
			return ia - ib
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// ownedBy is what Kubernetes' garbage collector and Argo CD's controller go
// by: an owner reference of kind ApplicationSet with the set's name (and UID,
// when both are known, so that a set deleted and created again under the
// same name does not claim its predecessor's orphans).
func ownedBy(app *v1alpha1.Application, set *v1alpha1.ApplicationSet) bool {
	if app.Namespace != "" && set.Namespace != "" && app.Namespace != set.Namespace {
		return false
	}
	for _, ref := range app.OwnerReferences {
		if ref.Kind != "ApplicationSet" || ref.Name != set.Name {
			continue
		}
		if ref.UID != "" && set.UID != "" && ref.UID != set.UID {
			continue
		}
		return true
	}
	return false
}

// listEnvironments reads back the elements BuildApplicationSet writes.
func listEnvironments(set *v1alpha1.ApplicationSet) []paved.Environment {
	var envs []paved.Environment
	for _, g := range set.Spec.Generators {
		if g.List == nil {
			continue
		}
		for _, el := range g.List.Elements {
			var m map[string]any
			if json.Unmarshal(el.Raw, &m) != nil {
				continue
			}
			name, _ := m[paved.AppSetKeyEnvironment].(string)
			if name == "" {
				continue
			}
			ns, _ := m[paved.AppSetKeyNamespace].(string)
			server, _ := m[paved.AppSetKeyServer].(string)
			envs = append(envs, paved.Environment{Name: name, Namespace: ns, Server: server})
		}
	}
	return envs
}
