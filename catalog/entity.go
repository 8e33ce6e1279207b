// Package catalog turns what paved knows (Argo CD applications on every
// configured instance, the infrastructure paved provisioned) into Backstage
// catalog entities, keeps the current set as an immutable snapshot with a
// change log, and refreshes both in the background. It imports no web
// framework, database driver or Argo CD client: the server serves its
// snapshots, sqlstore persists them, cmd/paved wires the sources in.
package catalog

import (
	"strings"
)

// Backstage's kinds that paved provides.
const (
	KindComponent = "Component"
	KindResource  = "Resource"
)

// APIVersion of every entity paved provides.
const APIVersion = "backstage.io/v1alpha1"

// Annotations paved sets. The argocd/* ones are those of the Argo CD
// Backstage plugins, so their cards work on paved's entities unchanged.
const (
	AnnotationManagedByLocation       = "backstage.io/managed-by-location"
	AnnotationManagedByOriginLocation = "backstage.io/managed-by-origin-location"
	AnnotationKubernetesID            = "backstage.io/kubernetes-id"
	AnnotationKubernetesNamespace     = "backstage.io/kubernetes-namespace"
	AnnotationArgoAppName             = "argocd/app-name"
	AnnotationArgoAppNamespace        = "argocd/app-namespace"
	AnnotationArgoInstance            = "argocd/instance-name"
	AnnotationArgoProject             = "argocd/project"
	AnnotationSyncStatus              = "argocd/sync-status"
	AnnotationHealthStatus            = "argocd/health-status"
)

// Labels paved sets: the same statuses as the annotations, as label values
// so that catalog filters (metadata.labels.argocd/health-status=Degraded) work.
const (
	LabelSyncStatus   = "argocd/sync-status"
	LabelHealthStatus = "argocd/health-status"
)

// Entity is a Backstage catalog entity, with the fields paved fills. The
// field order is the order of the JSON and YAML that paved serves.
type Entity struct {
	APIVersion string   `json:"apiVersion" yaml:"apiVersion"`
	Kind       string   `json:"kind" yaml:"kind"`
	Metadata   Metadata `json:"metadata" yaml:"metadata"`
	Spec       Spec     `json:"spec" yaml:"spec"`
}

// Metadata is an entity's metadata.
type Metadata struct {
	Name        string            `json:"name" yaml:"name"`
	Namespace   string            `json:"namespace" yaml:"namespace"`
	Title       string            `json:"title,omitempty" yaml:"title,omitempty"`
	Description string            `json:"description,omitempty" yaml:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Annotations map[string]string `json:"annotations" yaml:"annotations"`
	Tags        []string          `json:"tags,omitempty" yaml:"tags,omitempty"`
	Links       []Link            `json:"links,omitempty" yaml:"links,omitempty"`
}

// Link is one of metadata.links.
type Link struct {
	URL   string `json:"url" yaml:"url"`
	Title string `json:"title,omitempty" yaml:"title,omitempty"`
	Icon  string `json:"icon,omitempty" yaml:"icon,omitempty"`
	Type  string `json:"type,omitempty" yaml:"type,omitempty"`
}

// Spec holds the spec fields of Components and Resources.
type Spec struct {
	Type         string   `json:"type" yaml:"type"`
	Lifecycle    string   `json:"lifecycle,omitempty" yaml:"lifecycle,omitempty"`
	Owner        string   `json:"owner" yaml:"owner"`
	System       string   `json:"system,omitempty" yaml:"system,omitempty"`
	DependsOn    []string `json:"dependsOn,omitempty" yaml:"dependsOn,omitempty"`
	DependencyOf []string `json:"dependencyOf,omitempty" yaml:"dependencyOf,omitempty"`
}

// Ref is the entity's reference in Backstage's canonical form,
// "component:default/shop": kind in lower case, as the catalog compares refs
// case-insensitively.
func (e *Entity) Ref() string {
	return EntityRef(e.Kind, e.Metadata.Namespace, e.Metadata.Name)
}

// EntityRef builds a canonical entity reference.
func EntityRef(kind, namespace, name string) string {
	return strings.ToLower(kind) + ":" + strings.ToLower(namespace) + "/" + strings.ToLower(name)
}
