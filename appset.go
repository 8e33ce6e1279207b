package paved

// ApplicationSet: the request of paved:create-argocd-appset and what Argo CD
// answers. The argocd package renders and creates them; the gitops writer
// commits them.

// InClusterServer is the destination of the cluster Argo CD runs in, used
// when a request names no cluster.
const InClusterServer = "https://kubernetes.default.svc"

// The keys of each list-generator element, which the ApplicationSet's
// template reads as {{.environment}}, {{.namespace}} and {{.server}}.
const (
	AppSetKeyEnvironment = "environment"
	AppSetKeyNamespace   = "namespace"
	AppSetKeyServer      = "server"
)

// Environment is one Application an ApplicationSet generates: where it deploys.
type Environment struct {
	Name      string // the Application is named <ApplicationSet>-<Name>
	Namespace string
	Server    string // cluster API URL; default InClusterServer
}

// AppSetRequest is an ApplicationSet with a list generator that produces one
// Application per environment. Template is built exactly as a single
// Application of create-argocd-app (argocd.BuildApplication); its Name is the
// ApplicationSet's, and its destination is replaced by each environment's.
// Sources may use {{.environment}}, {{.namespace}} and {{.server}}, which Argo
// CD's goTemplate renders per environment.
type AppSetRequest struct {
	Template     AppRequest
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

// AppSetAppName is the name of the Application generated for env.
func AppSetAppName(appSet, env string) string { return appSet + "-" + env }

// AppSetState is an ApplicationSet as Argo CD holds it and the Applications
// its controller has generated so far.
type AppSetState struct {
	Instance  string
	Name      string
	Namespace string
	Project   string
	// ManagedByPaved is true when paved created the ApplicationSet (its
	// app.kubernetes.io/managed-by label).
	ManagedByPaved bool
	Labels         map[string]string
	Annotations    map[string]string
	// Environments are the elements of a list generator written with paved's
	// keys, in order; empty for other generators.
	Environments []Environment
	// Apps are the Applications the ApplicationSet owns, in the order of
	// Environments, then by name.
	Apps []AppSetAppState
	// Conditions are the controller's, e.g. ErrorOccurred with the reason
	// generation failed.
	Conditions []AppSetCondition
}

// AppSetAppState is a generated Application and its status.
type AppSetAppState struct {
	App
	Environment string // the paved.dev/environment label; "" when absent
}

// AppSetCondition is one condition of an ApplicationSet's status.
type AppSetCondition struct {
	Type, Status, Reason, Message string
}
