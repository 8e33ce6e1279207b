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
	"sigs.k8s.io/yaml"

	"github.com/paved-dev/paved"
)

// The keys of each list-generator element, which the ApplicationSet's
// template reads as {{.environment}}, {{.namespace}} and {{.server}}.
const (
	KeyEnvironment = "environment"
	KeyNamespace   = "namespace"
	KeyServer      = "server"
)

// LabelEnvironment marks each generated Application with its environment.
const LabelEnvironment = "paved.dev/environment"

// appSetSpecDifferent starts Argo CD's refusal to overwrite an ApplicationSet
// (server/applicationset Create without upsert); unlike the Application one,
// Argo CD words it with a capital S, and it is an InvalidArgument.
const appSetSpecDifferent = "existing ApplicationSet spec is different"

// Environment is one Application an ApplicationSet generates: where it deploys.
type Environment struct {
	Name      string // the Application is named <ApplicationSet>-<Name>
	Namespace string
	Server    string // cluster API URL; default InClusterServer
}

// AppSetRequest is an ApplicationSet with a list generator that produces one
// Application per environment. Template is built exactly as a single
// Application of create-argocd-app (BuildApplication); its Name is the
// ApplicationSet's, and its destination is replaced by each environment's.
// Sources may use {{.environment}}, {{.namespace}} and {{.server}}, which Argo
// CD's goTemplate renders per environment.
type AppSetRequest struct {
	Template     paved.AppRequest
	Environments []Environment
}

// AppSet is an ApplicationSet and the Applications it generates.
type AppSet struct {
	Instance  string
	Name      string
	Namespace string
	Project   string
	Apps      []AppSetApp
	// Created is true when this call created the ApplicationSet; Updated when
	// it existed with another spec and upsert replaced it.
	Created, Updated bool
}

// AppSetApp is one Application an ApplicationSet generates.
type AppSetApp struct {
	Name        string
	Environment string
	Namespace   string
	Server      string
	URL         string // in the Argo CD UI; empty when no instance is known
}

// AppName is the name of the Application generated for env.
func AppName(appSet, env string) string { return appSet + "-" + env }

// BuildApplicationSet renders a request as the ApplicationSet paved creates,
// through the API or (gitops mode) as YAML in a repository. The template is
// the Application BuildApplication makes, so both actions agree on labels,
// finalizer, sync policy and the normalised form Argo CD compares with
// reflect.DeepEqual when the same ApplicationSet is created again.
func BuildApplicationSet(req AppSetRequest, defaultProject string) (*v1alpha1.ApplicationSet, error) {
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
			server = InClusterServer
		}
		// encoding/json sorts the keys and writes no spaces: the bytes the
		// Kubernetes API server gives back, so a re-run compares equal.
		raw, err := json.Marshal(map[string]string{KeyEnvironment: env.Name, KeyNamespace: env.Namespace, KeyServer: server})
		if err != nil {
			return nil, err
		}
		elements = append(elements, apiextensionsv1.JSON{Raw: raw})
	}
	tmpl := req.Template
	tmpl.Destination = paved.AppDestination{Server: "{{." + KeyServer + "}}", Namespace: "{{." + KeyNamespace + "}}"}
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
	appLabels[LabelEnvironment] = "{{." + KeyEnvironment + "}}"
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
					Name:        AppName(req.Template.Name, "{{."+KeyEnvironment+"}}"),
					Labels:      appLabels,
					Annotations: app.Annotations,
					Finalizers:  app.Finalizers,
				},
				Spec: app.Spec,
			},
		},
	}, nil
}

// ApplicationSetYAML renders req as an ApplicationSet manifest, built by the
// same code as the one api mode creates, without the fields the API server
// fills and without the generator's empty per-generator template.
func ApplicationSetYAML(req AppSetRequest, defaultProject, namespace string) ([]byte, error) {
	set, err := BuildApplicationSet(req, defaultProject)
	if err != nil {
		return nil, err
	}
	if set.Namespace == "" {
		set.Namespace = namespace
	}
	doc, err := ManifestDoc(set)
	if err != nil {
		return nil, err
	}
	if spec, ok := doc["spec"].(map[string]any); ok {
		gens, _ := spec["generators"].([]any)
		for _, g := range gens {
			if list, ok := g.(map[string]any)["list"].(map[string]any); ok {
				delete(list, "template")
			}
		}
	}
	return yaml.Marshal(doc)
}

// ManifestDoc is obj (an Application or ApplicationSet) as the document a
// manifest file holds: without the fields the API server fills (status,
// creation time), so the file reads as written.
func ManifestDoc(obj any) (map[string]any, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	delete(doc, "status")
	if meta, ok := doc["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return doc, nil
}

// CreateAppSet creates the ApplicationSet, or leaves it as it is when it
// already exists with the same spec (Created and Updated false), so that a
// template can be re-run. A different spec is Argo CD's conflict unless
// Template.Upsert is set, which replaces it (Updated).
func (c *Client) CreateAppSet(ctx context.Context, req AppSetRequest) (AppSet, error) {
	in, err := c.instance(req.Template.Instance)
	if err != nil {
		return AppSet{}, err
	}
	if req.Template.Namespace == "" {
		req.Template.Namespace = in.cfg.AppNamespace
	}
	set, err := BuildApplicationSet(req, in.cfg.DefaultProject)
	if err != nil {
		return AppSet{}, err
	}
	// Argo CD answers an identical create with the existing object, as it
	// answers a fresh one: only a prior lookup tells them apart.
	existing, err := in.getAppSet(ctx, set.Name, set.Namespace)
	if err != nil && paved.ErrorCode(err) != paved.ENotFound {
		return AppSet{}, err
	}
	var out *v1alpha1.ApplicationSet
	err = in.call(ctx, "applicationset.ApplicationSetService/Create", func(ctx context.Context, a *authed) error {
		var err error
		out, err = a.appsets.Create(ctx, &applicationset.ApplicationSetCreateRequest{Applicationset: set, Upsert: req.Template.Upsert})
		return err
	})
	if err != nil {
		return AppSet{}, appSetConflict(err)
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

func (in *instance) toAppSet(set *v1alpha1.ApplicationSet, envs []Environment) AppSet {
	out := AppSet{
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
		name := AppName(set.Name, env.Name)
		server := env.Server
		if server == "" {
			server = InClusterServer
		}
		out.Apps = append(out.Apps, AppSetApp{Name: name, Environment: env.Name, Namespace: env.Namespace, Server: server, URL: in.appURL(name, out.Namespace)})
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
