package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/applicationset"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paved-dev/paved"
)

// appSetSpecDifferent starts Argo CD's refusal to overwrite an ApplicationSet
// (server/applicationset Create without upsert); unlike the Application one,
// Argo CD words it with a capital S, and it is an InvalidArgument.
const appSetSpecDifferent = "existing ApplicationSet spec is different"

// BuildApplicationSet renders a request as the ApplicationSet paved creates,
// through the API or (gitops mode) as YAML in a repository. The template is
// the Application BuildApplication makes, so both actions agree on labels,
// finalizer, sync policy and the normalised form Argo CD compares with
// reflect.DeepEqual when the same ApplicationSet is created again.
func BuildApplicationSet(req paved.AppSetRequest, defaultProject string) (*v1alpha1.ApplicationSet, error) {
	var bad []paved.FieldError
	if len(req.Environments) == 0 {
		bad = append(bad, paved.FieldError{Field: "environments", Message: "at least one environment is required"})
	}
	seen := map[string]bool{}
	elements := make([]apiextensionsv1.JSON, 0, len(req.Environments))
	for i, env := range req.Environments {
		switch {
		case env.Name == "":
			bad = append(bad, paved.FieldError{Field: fmt.Sprintf("environments[%d].name", i), Message: "is required"})
		case seen[env.Name]:
			bad = append(bad, paved.FieldError{Field: fmt.Sprintf("environments[%d].name", i), Message: fmt.Sprintf("%q is used twice", env.Name)})
		}
		seen[env.Name] = true
		server := env.Server
		if server == "" {
			server = paved.InClusterServer
		}
		// encoding/json sorts the keys and writes no spaces: the bytes the
		// Kubernetes API server gives back, so a re-run compares equal.
		raw, err := json.Marshal(map[string]string{paved.AppSetKeyEnvironment: env.Name, paved.AppSetKeyNamespace: env.Namespace, paved.AppSetKeyServer: server})
		if err != nil {
			return nil, err
		}
		elements = append(elements, apiextensionsv1.JSON{Raw: raw})
	}
	tmpl := req.Template
	tmpl.Destination = paved.AppDestination{Server: "{{." + paved.AppSetKeyServer + "}}", Namespace: "{{." + paved.AppSetKeyNamespace + "}}"}
	app, err := BuildApplication(tmpl, defaultProject)
	if err != nil {
		var pe *paved.Error
		if !errors.As(err, &pe) {
			return nil, err
		}
		bad = append(bad, pe.Fields...)
	}
	if len(bad) > 0 {
		return nil, paved.InvalidFields(bad...)
	}
	appLabels := maps.Clone(app.Labels)
	appLabels[paved.LabelEnvironment] = "{{." + paved.AppSetKeyEnvironment + "}}"
	return &v1alpha1.ApplicationSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "ApplicationSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        req.Template.Name,
			Namespace:   req.Template.Namespace,
			Labels:      app.Labels,
			Annotations: app.Annotations,
		},
		Spec: v1alpha1.ApplicationSetSpec{
			GoTemplate: true,
			// A typo in a placeholder fails generation instead of deploying
			// to a path or namespace named "<no value>".
			GoTemplateOptions: []string{"missingkey=error"},
			Generators:        []v1alpha1.ApplicationSetGenerator{{List: &v1alpha1.ListGenerator{Elements: elements}}},
			Template: v1alpha1.ApplicationSetTemplate{
				ApplicationSetTemplateMeta: v1alpha1.ApplicationSetTemplateMeta{
					Name:        paved.AppSetAppName(req.Template.Name, "{{."+paved.AppSetKeyEnvironment+"}}"),
					Labels:      appLabels,
					Annotations: app.Annotations,
					Finalizers:  app.Finalizers,
				},
				Spec: app.Spec,
			},
		},
	}, nil
}

// CreateAppSet creates the ApplicationSet, or leaves it as it is when it
// already exists with the same spec (Created and Updated false), so that a
// template can be re-run. A different spec is Argo CD's conflict unless
// Template.Upsert is set, which replaces it (Updated).
func (c *Client) CreateAppSet(ctx context.Context, req paved.AppSetRequest) (paved.AppSet, error) {
	in, err := c.instance(req.Template.Instance)
	if err != nil {
		return paved.AppSet{}, err
	}
	if req.Template.Namespace == "" {
		req.Template.Namespace = in.cfg.AppNamespace
	}
	set, err := BuildApplicationSet(req, in.cfg.DefaultProject)
	if err != nil {
		return paved.AppSet{}, err
	}
	// Argo CD answers an identical create with the existing object, as it
	// answers a fresh one: only a prior lookup tells them apart.
	existing, err := in.getAppSet(ctx, set.Name, set.Namespace)
	if err != nil && paved.ErrorCode(err) != paved.ENotFound {
		return paved.AppSet{}, err
	}
	var out *v1alpha1.ApplicationSet
	err = in.call(ctx, "applicationset.ApplicationSetService/Create", func(ctx context.Context, a *authed) error {
		var err error
		out, err = a.appsets.Create(ctx, &applicationset.ApplicationSetCreateRequest{Applicationset: set, Upsert: req.Template.Upsert})
		return err
	})
	if err != nil {
		return paved.AppSet{}, appSetConflict(err)
	}
	res := in.toAppSet(out, req.Environments)
	res.Created = existing == nil
	res.Updated = existing != nil && !sameAppSet(existing, set)
	return res, nil
}

// DeleteAppSet deletes an ApplicationSet; Argo CD's controller then deletes
// the Applications it generated (and, through their finalizer, what they
// deployed) unless the ApplicationSet preserves them.
func (c *Client) DeleteAppSet(ctx context.Context, instance, name, namespace string) error {
	in, err := c.instance(instance)
	if err != nil {
		return err
	}
	q := &applicationset.ApplicationSetDeleteRequest{Name: name, AppsetNamespace: in.namespace(namespace)}
	return in.call(ctx, "applicationset.ApplicationSetService/Delete", func(ctx context.Context, a *authed) error {
		_, err := a.appsets.Delete(ctx, q)
		return err
	})
}

// AppURL is the link to an application in an instance's UI.
func (c *Client) AppURL(instance, name string) (string, error) {
	in, err := c.instance(instance)
	if err != nil {
		return "", err
	}
	return in.appURL(name, in.cfg.AppNamespace), nil
}

func (in *instance) getAppSet(ctx context.Context, name, namespace string) (*v1alpha1.ApplicationSet, error) {
	var out *v1alpha1.ApplicationSet
	err := in.call(ctx, "applicationset.ApplicationSetService/Get", func(ctx context.Context, a *authed) error {
		var err error
		out, err = a.appsets.Get(ctx, &applicationset.ApplicationSetGetQuery{Name: name, AppsetNamespace: namespace})
		return err
	})
	return out, err
}

// sameAppSet is Argo CD's own test for "nothing to update".
func sameAppSet(a, b *v1alpha1.ApplicationSet) bool {
	return reflect.DeepEqual(a.Spec, b.Spec) &&
		reflect.DeepEqual(a.Labels, b.Labels) &&
		reflect.DeepEqual(a.Annotations, b.Annotations) &&
		reflect.DeepEqual(a.Finalizers, b.Finalizers)
}

// appSetConflict gives Argo CD's "spec is different" its conflict code:
// mapError knows only the Application wording.
func appSetConflict(err error) error {
	if paved.ErrorCode(err) == paved.EInvalid && strings.Contains(paved.ErrorMessage(err), appSetSpecDifferent) {
		return paved.Wrap(paved.EConflict, err, "%s", paved.ErrorMessage(err))
	}
	return err
}

func (in *instance) toAppSet(set *v1alpha1.ApplicationSet, envs []paved.Environment) paved.AppSet {
	out := paved.AppSet{
		Instance:  in.cfg.Name,
		Name:      set.Name,
		Namespace: set.Namespace,
		Project:   set.Spec.Template.Spec.Project,
	}
	if in.cfg.AppNamespace == "" {
		// As for single apps: the namespace shows only with apps-in-any-namespace.
		out.Namespace = ""
	}
	for _, env := range envs {
		name := paved.AppSetAppName(set.Name, env.Name)
		server := env.Server
		if server == "" {
			server = paved.InClusterServer
		}
		out.Apps = append(out.Apps, paved.AppSetApp{Name: name, Environment: env.Name, Namespace: env.Namespace, Server: server, URL: in.appURL(name, out.Namespace)})
	}
	return out
}

// appURL is the UI link of an application; namespace goes into it only with
// apps-in-any-namespace, as in toApp.
func (in *instance) appURL(name, namespace string) string {
	base := in.cfg.uiURL() + "/applications/"
	if namespace != "" {
		return base + namespace + "/" + name
	}
	return base + name
}
