package argocd

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/paved-dev/paved"
)

// createNamespace is the sync option that makes Argo CD create the
// destination namespace.
const createNamespace = "CreateNamespace=true"

// BuildApplication renders a request as the Application that paved creates,
// through the API or (gitops mode) as YAML in a repository.
//
// The object is already in the form Argo CD stores after normalising (empty
// source options and sync policies are nil, nil not empty maps), because Argo
// CD compares a re-created app with reflect.DeepEqual: anything else would
// turn a harmless re-run into "existing application spec is different".
func BuildApplication(req paved.AppRequest, defaultProject string) (*v1alpha1.Application, error) {
	var bad []paved.FieldError
	if req.Name == "" {
		bad = append(bad, paved.FieldError{Field: "name", Message: "is required"})
	}
	if len(req.Sources) == 0 {
		bad = append(bad, paved.FieldError{Field: "sources", Message: "at least one source is required"})
	}
	sources := make(v1alpha1.ApplicationSources, 0, len(req.Sources))
	for i, s := range req.Sources {
		src, err := buildSource(s)
		if err != nil {
			bad = append(bad, paved.FieldError{Field: fmt.Sprintf("sources[%d].helm.valuesObject", i), Message: err.Error()})
		}
		if s.RepoURL == "" {
			bad = append(bad, paved.FieldError{Field: fmt.Sprintf("sources[%d].repoURL", i), Message: "is required"})
		}
		sources = append(sources, src)
	}
	if len(bad) > 0 {
		return nil, paved.InvalidFields(bad...)
	}

	project := req.Project
	if project == "" {
		project = defaultProject
	}
	if project == "" {
		project = v1alpha1.DefaultAppProjectName
	}
	labels := map[string]string{paved.LabelManagedBy: paved.ManagedByPaved}
	maps.Copy(labels, req.Labels)

	app := &v1alpha1.Application{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Application"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        req.Name,
			Namespace:   req.Namespace,
			Labels:      labels,
			Annotations: nilIfEmpty(req.Annotations),
			// Without the finalizer, deleting the app would orphan its resources.
			Finalizers: []string{v1alpha1.ResourcesFinalizerName},
		},
		Spec: v1alpha1.ApplicationSpec{
			Project: project,
			Destination: v1alpha1.ApplicationDestination{
				Server:    req.Destination.Server,
				Name:      req.Destination.Name,
				Namespace: req.Destination.Namespace,
			},
			SyncPolicy: buildSyncPolicy(req),
		},
	}
	if app.Spec.Destination.Server == "" && app.Spec.Destination.Name == "" {
		app.Spec.Destination.Server = paved.InClusterServer
	}
	if len(sources) == 1 {
		app.Spec.Source = &sources[0]
	} else {
		app.Spec.Sources = sources
	}
	return app, nil
}

func buildSource(s paved.AppSource) (v1alpha1.ApplicationSource, error) {
	src := v1alpha1.ApplicationSource{
		RepoURL:        s.RepoURL,
		TargetRevision: s.TargetRevision,
		Path:           s.Path,
		Chart:          s.Chart,
		Ref:            s.Ref,
	}
	var err error
	if h := s.Helm; h != nil {
		helm := &v1alpha1.ApplicationSourceHelm{
			ReleaseName: h.ReleaseName,
			ValueFiles:  slices.Clone(h.ValueFiles),
			Values:      h.Values,
		}
		for _, p := range h.Parameters {
			helm.Parameters = append(helm.Parameters, v1alpha1.HelmParameter{Name: p.Name, Value: p.Value, ForceString: p.ForceString})
		}
		if len(h.ValuesObject) > 0 {
			var raw []byte
			// encoding/json sorts map keys: the same values give the same bytes,
			// which Argo CD's DeepEqual on re-create needs.
			if raw, err = json.Marshal(h.ValuesObject); err == nil {
				helm.ValuesObject = &runtime.RawExtension{Raw: raw}
			}
		}
		if !helm.IsZero() {
			src.Helm = helm
		}
	}
	if k := s.Kustomize; k != nil {
		kust := &v1alpha1.ApplicationSourceKustomize{
			NamePrefix:   k.NamePrefix,
			NameSuffix:   k.NameSuffix,
			Namespace:    k.Namespace,
			CommonLabels: nilIfEmpty(k.CommonLabels),
		}
		for _, img := range k.Images {
			kust.Images = append(kust.Images, v1alpha1.KustomizeImage(img))
		}
		if !kust.IsZero() {
			src.Kustomize = kust
		}
	}
	if d := s.Directory; d != nil && (d.Recurse || d.Include != "" || d.Exclude != "") {
		src.Directory = &v1alpha1.ApplicationSourceDirectory{Recurse: d.Recurse, Include: d.Include, Exclude: d.Exclude}
	}
	return src, err
}

func buildSyncPolicy(req paved.AppRequest) *v1alpha1.SyncPolicy {
	p := &v1alpha1.SyncPolicy{}
	if a := req.Automated; a != nil {
		p.Automated = &v1alpha1.SyncPolicyAutomated{Prune: a.Prune, SelfHeal: a.SelfHeal}
	}
	for _, o := range req.SyncOptions {
		if !slices.Contains(p.SyncOptions, o) {
			p.SyncOptions = append(p.SyncOptions, o)
		}
	}
	if req.CreateNamespace && !slices.Contains(p.SyncOptions, createNamespace) {
		p.SyncOptions = append(p.SyncOptions, createNamespace)
	}
	if p.IsZero() {
		return nil
	}
	return p
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}
