package paved

import "time"

// AppRef names an Argo CD application on one instance.
type AppRef struct {
	Instance  string `json:"instance"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"` // the Application's namespace (apps-in-any-namespace)
	Project   string `json:"project,omitempty"`
}

// AppRequest is what a template asks for: one Argo CD Application.
type AppRequest struct {
	AppRef
	CreateProject   bool              `json:"createProject,omitempty"`
	Sources         []AppSource       `json:"sources"` // one element = single-source app
	Destination     AppDestination    `json:"destination"`
	CreateNamespace bool              `json:"createNamespace,omitempty"`
	Automated       *AutoSync         `json:"automated,omitempty"`
	SyncOptions     []string          `json:"syncOptions,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	Upsert          bool              `json:"upsert,omitempty"`
}

// AppSource is one source of an application: a directory of manifests, a Helm
// chart or a Kustomize overlay in a git or Helm repository.
type AppSource struct {
	RepoURL        string           `json:"repoURL"`
	TargetRevision string           `json:"targetRevision,omitempty"`
	Path           string           `json:"path,omitempty"`
	Chart          string           `json:"chart,omitempty"`
	Ref            string           `json:"ref,omitempty"`
	Helm           *HelmSource      `json:"helm,omitempty"`
	Kustomize      *KustomizeSource `json:"kustomize,omitempty"`
	Directory      *DirectorySource `json:"directory,omitempty"`
}

// HelmSource holds Helm options of a source.
type HelmSource struct {
	ReleaseName  string          `json:"releaseName,omitempty"`
	ValueFiles   []string        `json:"valueFiles,omitempty"`
	Values       string          `json:"values,omitempty"`
	ValuesObject map[string]any  `json:"valuesObject,omitempty"`
	Parameters   []HelmParameter `json:"parameters,omitempty"`
}

// HelmParameter is one --set of a Helm source.
type HelmParameter struct {
	Name        string `json:"name"`
	Value       string `json:"value"`
	ForceString bool   `json:"forceString,omitempty"`
}

// KustomizeSource holds Kustomize options of a source.
type KustomizeSource struct {
	NamePrefix   string            `json:"namePrefix,omitempty"`
	NameSuffix   string            `json:"nameSuffix,omitempty"`
	Namespace    string            `json:"namespace,omitempty"`
	Images       []string          `json:"images,omitempty"`
	CommonLabels map[string]string `json:"commonLabels,omitempty"`
}

// DirectorySource holds options of a plain-manifests source.
type DirectorySource struct {
	Recurse bool   `json:"recurse,omitempty"`
	Include string `json:"include,omitempty"`
	Exclude string `json:"exclude,omitempty"`
}

// AppDestination is the cluster and namespace an application deploys to.
type AppDestination struct {
	Server    string `json:"server,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// AutoSync is the automated sync policy.
type AutoSync struct {
	Prune    bool `json:"prune,omitempty"`
	SelfHeal bool `json:"selfHeal,omitempty"`
}

// App is the state of an application as Argo CD reports it.
type App struct {
	AppRef
	URL              string            `json:"url"`
	SyncStatus       string            `json:"syncStatus"`
	HealthStatus     string            `json:"healthStatus"`
	Revision         string            `json:"revision"`
	OperationPhase   string            `json:"operationPhase,omitempty"`
	OperationMessage string            `json:"operationMessage,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	Annotations      map[string]string `json:"annotations,omitempty"`
	Destination      AppDestination    `json:"destination"`
	RepoURL          string            `json:"repoURL,omitempty"`
	CreatedAt        time.Time         `json:"createdAt"`
	History          []Deployment      `json:"history,omitempty"`
	// HealthSince is when the application's health last changed
	// (status.health.lastTransitionTime), zero when Argo CD does not say.
	HealthSince time.Time `json:"-"`
	// ReconciledAt is when Argo CD last compared the application with git
	// and assessed its health (status.reconciledAt).
	ReconciledAt time.Time `json:"-"`
	// Problems are what keeps the application from Synced and Healthy, as
	// Argo CD reports it: resources whose last sync failed, resources that
	// are not Healthy, and error conditions (e.g. manifests that do not render).
	Problems []AppProblem `json:"problems,omitempty"`
	// Created is true when this call created the application.
	Created bool `json:"created"`
}

// Healthy reports whether the app is Synced and Healthy.
func (a App) Healthy() bool { return a.SyncStatus == "Synced" && a.HealthStatus == "Healthy" }

// AppProblem is one resource (or, with Resource empty, the application
// itself) in trouble: Status is SyncFailed, a health status such as Degraded
// or Progressing, or a condition type such as ComparisonError.
type AppProblem struct {
	Resource string `json:"resource,omitempty"` // Kind namespace/name
	Status   string `json:"status"`
	Message  string `json:"message,omitempty"`
}

// String reads "Deployment web/api: Degraded (exceeded its progress deadline)".
func (p AppProblem) String() string {
	s := p.Status
	if p.Resource != "" {
		s = p.Resource + ": " + s
	}
	if p.Message != "" {
		s += " (" + p.Message + ")"
	}
	return s
}

// Deployment is one entry of an application's sync history.
type Deployment struct {
	ID         int64     `json:"id"`
	Revision   string    `json:"revision"`
	DeployedAt time.Time `json:"deployedAt"`
	StartedAt  time.Time `json:"startedAt,omitempty"`
}

// SyncRequest asks Argo CD to sync an application.
type SyncRequest struct {
	AppRef
	Revision string `json:"revision,omitempty"`
	Prune    bool   `json:"prune,omitempty"`
	DryRun   bool   `json:"dryRun,omitempty"`
}

// DeleteRequest asks Argo CD to delete an application.
type DeleteRequest struct {
	AppRef
	Cascade           bool   `json:"cascade"`
	PropagationPolicy string `json:"propagationPolicy,omitempty"` // foreground | background
	DeleteProject     bool   `json:"deleteProject,omitempty"`
}

// Labels and annotations paved puts on what it creates.
const (
	LabelManagedBy      = "app.kubernetes.io/managed-by"
	ManagedByPaved      = "paved"
	LabelEntity         = "paved.dev/entity"     // a label-safe form of the Backstage entity ref
	LabelUser           = "paved.dev/initiator"  // a label-safe form of the initiating user's name
	AnnotationEntityRef = "paved.dev/entity-ref" // the Backstage entity ref, verbatim
	AnnotationUserRef   = "paved.dev/initiator"  // the user entity ref, verbatim
	AnnotationTemplate  = "backstage.io/source-template"
	AnnotationTaskID    = "paved.dev/scaffolder-task"
	AnnotationCreatedAt = "paved.dev/created-at"
	LabelEnvironment    = "paved.dev/environment" // on each Application an ApplicationSet generates
	AnnotationOwner     = "paved.dev/owner"       // the owning group; the catalog's owner of the Component

	// Keys the catalog reads from an Application before the Backstage ones,
	// so a template can set the entity's fields.
	AnnotationComponentType = "paved.dev/component-type"
	AnnotationLifecycle     = "paved.dev/lifecycle"
	AnnotationSystem        = "paved.dev/system"

	// A provisioned resource: the labels go on the Application that delivers
	// it (so the catalog shows it on the Resource, not as a Component), the
	// annotations on its catalog Resource.
	LabelInfraID          = "paved.dev/infra-id"
	LabelInfraKind        = "paved.dev/infra-kind"
	AnnotationInfraID     = "paved.dev/infra-id"
	AnnotationInfraStatus = "paved.dev/infra-status"
	// AnnotationCostMonthly is what a Resource costs per month at its kind's
	// price, "480 USD" (amount, a space, ISO 4217 currency).
	AnnotationCostMonthly = "paved.dev/cost-monthly"
)

// PullRequest is a pull (GitLab: merge) request of GitOps review mode.
type PullRequest struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
	State  string `json:"state"` // open, merged or closed (without merging)
	Branch string `json:"branch"`
	Base   string `json:"base"`
	Title  string `json:"title,omitempty"`
	Body   string `json:"body,omitempty"`
}

// States of a pull request.
const (
	PullRequestOpen   = "open"
	PullRequestMerged = "merged"
	PullRequestClosed = "closed"
)
