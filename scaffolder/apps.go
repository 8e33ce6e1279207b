package scaffolder

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

// Apps is what the Argo CD actions need from an Argo CD client.
type Apps interface {
	Instances() []string
	CreateApp(ctx context.Context, req paved.AppRequest) (paved.App, error)
	GetApp(ctx context.Context, ref paved.AppRef, refresh bool) (paved.App, error)
	SyncApp(ctx context.Context, req paved.SyncRequest) (paved.App, error)
	DeleteApp(ctx context.Context, req paved.DeleteRequest) error
}

// AppActionsOptions configure the Argo CD actions.
type AppActionsOptions struct {
	Apps Apps
	// MaxWait bounds the wait of a single action call.
	MaxWait time.Duration
	// DefaultWait is used when wait is asked for without a timeout.
	DefaultWait time.Duration
	// PollInterval is the first interval between status polls while waiting.
	PollInterval time.Duration
	Sleep        func(ctx context.Context, d time.Duration) error
	// GitOps writes Applications to the GitOps repository (mode: gitops);
	// nil refuses that mode.
	GitOps AppCommitter
	// PullRequests opens the pull request of a review branch (gitops mode
	// with review); nil leaves review at the branch and its compare link.
	PullRequests PullRequests
	// Locks serialize the creates of one application across replicas, so
	// that exactly one concurrent identical call reports created; nil: none.
	Locks Locks
}

type appActions struct{ AppActionsOptions }

// AppActions returns the actions that create, read, sync, wait for and delete
// Argo CD applications.
func AppActions(o AppActionsOptions) []Action {
	if o.MaxWait <= 0 {
		o.MaxWait = 30 * time.Minute
	}
	if o.DefaultWait <= 0 {
		o.DefaultWait = 3 * time.Minute
	}
	if o.DefaultWait > o.MaxWait {
		o.DefaultWait = o.MaxWait
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	h := &appActions{o}
	return []Action{h.create(), h.get(), h.sync(), h.wait(), h.delete()}
}

// Patterns shared by the schemas and the handlers.
const (
	dnsLabel     = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	instanceName = `^[a-z0-9_-]+$`
	durationRE   = `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	entityRefRE  = `^([a-zA-Z][a-zA-Z0-9_-]*:)?([a-zA-Z0-9][-a-zA-Z0-9_.]*/)?[a-zA-Z0-9][-a-zA-Z0-9_.]*$`
)

func refProps() Schema {
	return Schema{
		"instance":  pattern(str("Argo CD instance", "Name of the configured Argo CD instance; may be left out when only one is configured."), instanceName, 63),
		"name":      pattern(str("Application name", "Name of the Argo CD Application (a DNS label)."), dnsLabel, 63),
		"namespace": pattern(str("Application namespace", "Namespace of the Application object, for apps-in-any-namespace; empty means Argo CD's own namespace."), dnsLabel, 63),
		"project":   pattern(str("Project", "Argo CD project; defaults to the instance's default project."), dnsLabel, 63),
	}
}

func sourceSchema() Schema {
	return object(Schema{
		"repoURL":        pattern(str("Repository URL", "Git or Helm repository URL."), `^\S+$`, 2048),
		"targetRevision": pattern(str("Target revision", "Branch, tag, commit, or chart version; empty means the default branch (HEAD)."), `^\S*$`, 255),
		"path":           pattern(str("Path", "Directory in the repository (manifests, Helm chart or Kustomize overlay)."), `^\S*$`, 1024),
		"chart":          pattern(str("Chart", "Helm chart name, for Helm repositories."), `^\S*$`, 255),
		"ref":            pattern(str("Ref", "Name of this source, for $ref-style value files of multi-source apps."), `^[a-zA-Z0-9_-]+$`, 63),
		"helm": object(Schema{
			"releaseName":  pattern(str("Release name", ""), dnsLabel, 53),
			"valueFiles":   stringList("Value files", "Helm value files, relative to the chart or $ref/…"),
			"values":       Schema{"type": "string", "title": "Values", "description": "Helm values as a YAML string.", "maxLength": 65536},
			"valuesObject": Schema{"type": "object", "title": "Values object", "description": "Helm values as an object."},
			"parameters": Schema{"type": "array", "title": "Parameters", "maxItems": 128, "items": object(Schema{
				"name":        Schema{"type": "string", "minLength": 1, "maxLength": 255},
				"value":       Schema{"type": "string", "maxLength": 4096},
				"forceString": Schema{"type": "boolean"},
			}, "name", "value")},
		}),
		"kustomize": object(Schema{
			"namePrefix":   pattern(str("Name prefix", ""), `^[a-z0-9-.]*$`, 63),
			"nameSuffix":   pattern(str("Name suffix", ""), `^[a-z0-9-.]*$`, 63),
			"namespace":    pattern(str("Namespace", ""), dnsLabel, 63),
			"images":       stringList("Images", "Image overrides such as name=repo/image:tag."),
			"commonLabels": stringMap("Common labels", ""),
		}),
		"directory": object(Schema{
			"recurse": boolean("Recurse", "Include subdirectories.", false),
			"include": Schema{"type": "string", "maxLength": 1024},
			"exclude": Schema{"type": "string", "maxLength": 1024},
		}),
	}, "repoURL")
}

func withRequired(s Schema, required ...string) Schema {
	s["required"] = required
	return s
}

func appOutput(extra Schema) Schema {
	props := Schema{
		"instance":             Schema{"type": "string"},
		"name":                 Schema{"type": "string"},
		"namespace":            Schema{"type": "string", "description": "The Application's own namespace (apps-in-any-namespace), as the namespace input of the other app actions takes it; absent for an application in Argo CD's namespace."},
		"destinationNamespace": Schema{"type": "string", "description": "The namespace the application deploys to (its destination)."},
		"project":              Schema{"type": "string"},
		"url":                  Schema{"type": "string", "description": "Link to the application in the Argo CD UI."},
		"syncStatus":           Schema{"type": "string", "description": "Synced, OutOfSync or Unknown; absent until Argo CD reports it (right after a create)."},
		"healthStatus":         Schema{"type": "string", "description": "Healthy, Progressing, Degraded, Suspended, Missing or Unknown; absent until Argo CD reports it."},
		"revision":             Schema{"type": "string"},
	}
	for k, v := range extra {
		props[k] = v
	}
	return Schema{"type": "object", "properties": props, "required": []string{"instance", "name", "project", "url"}}
}

type appRefInput struct {
	Instance  string `json:"instance"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Project   string `json:"project"`
}

type waitInput struct {
	Wait        bool   `json:"wait"`
	WaitTimeout string `json:"waitTimeout"`
}

type createInput struct {
	appRefInput
	waitInput
	CreateProject   bool                 `json:"createProject"`
	Source          *paved.AppSource     `json:"source"`
	Sources         []paved.AppSource    `json:"sources"`
	Destination     paved.AppDestination `json:"destination"`
	CreateNamespace bool                 `json:"createNamespace"`
	Automated       *paved.AutoSync      `json:"automated"`
	SyncOptions     []string             `json:"syncOptions"`
	Labels          map[string]string    `json:"labels"`
	Annotations     map[string]string    `json:"annotations"`
	Upsert          bool                 `json:"upsert"`
	EntityRef       string               `json:"entityRef"`
	TemplateRef     string               `json:"templateRef"`
	TaskID          string               `json:"taskId"`
	Mode            string               `json:"mode"`
}

func waitProps() Schema {
	return Schema{
		"wait":        boolean("Wait", "Wait until the application is Synced and Healthy.", false),
		"waitTimeout": pattern(str("Wait timeout", "How long to wait, e.g. 90s or 5m (default 3m). Keep it under the scaffolder's HTTP timeout (about 5m) or use paved:wait-argocd-app in a later step."), durationRE, 32),
	}
}

func (h *appActions) create() Action {
	props := refProps()
	for k, v := range waitProps() {
		props[k] = v
	}
	props["createProject"] = boolean("Create project", "Create the project (owned by paved, for this entity) if it does not exist; a project paved created for this entity gains this app's repository and destination when the caller holds paved.argocd.project.widen; another entity's project is a 409, anyone else's is used as it is.", false)
	props["source"] = sourceSchema()
	props["sources"] = Schema{"type": "array", "title": "Sources", "description": "Several sources (multi-source application) instead of source.", "items": sourceSchema(), "minItems": 1, "maxItems": 16}
	props["destination"] = object(Schema{
		"server":    pattern(str("Cluster URL", "API server URL of the destination cluster (default https://kubernetes.default.svc)."), `^https?://\S+$`, 2048),
		"name":      pattern(str("Cluster name", "Name of the destination cluster as known to Argo CD (instead of server)."), `^\S+$`, 253),
		"namespace": pattern(str("Namespace", "Namespace the application deploys to."), dnsLabel, 63),
	}, "namespace")
	props["createNamespace"] = boolean("Create namespace", "Let Argo CD create the destination namespace (CreateNamespace=true).", false)
	props["automated"] = object(Schema{
		"prune":    boolean("Prune", "Delete resources that are no longer in git.", false),
		"selfHeal": boolean("Self-heal", "Revert changes made outside git.", false),
	})
	props["syncOptions"] = stringList("Sync options", "Extra Argo CD sync options, e.g. ServerSideApply=true.")
	props["labels"] = stringMap("Labels", "Labels for the Application; paved adds labels linking back to the entity and the initiator.")
	props["annotations"] = stringMap("Annotations", "Annotations for the Application.")
	props["upsert"] = boolean("Upsert", "Update the application when it exists with a different spec (otherwise that is a conflict).", false)
	props["entityRef"] = pattern(str("Entity", "The Backstage entity this application belongs to, e.g. component:default/payments."), entityRefRE, 255)
	props["templateRef"] = pattern(str("Template", "The template that created it, e.g. template:default/new-service (Backstage does not pass templateInfo to remote actions; the paved scaffolder module fills it in)."), entityRefRE, 255)
	props["taskId"] = pattern(str("Task id", "The scaffolder task id, for the audit log."), `^[A-Za-z0-9_-]+$`, 128)
	props["mode"] = withDefault(withEnum(str("Mode", "api creates the Application through the Argo CD API; gitops commits it to the GitOps repository (apps/<name>.yaml) for the app-of-apps root Application to pick up, and reports the commit."), ModeAPI, ModeGitOps), ModeAPI)
	return Action{
		Name:        "create-argocd-app",
		Title:       "Create an Argo CD application",
		Description: "Creates an Argo CD Application through the Argo CD API. Re-running with the same spec changes nothing and reports created=false; a different spec is a conflict unless upsert is set. Argo CD's own error message is passed through.",
		Attributes:  Attributes{Destructive: false, Idempotent: true, ReadOnly: false},
		Input:       object(props, "name", "destination"),
		Output: withRequired(appOutput(gitOpsOutputs(Schema{
			"created": Schema{"type": "boolean", "description": "Whether this call created the application (gitops mode: whether it made a commit)."},
			"mode":    Schema{"type": "string"},
			// gitops mode needs no Argo CD instance, so may not know one.
			"instance": Schema{"type": "string", "description": "The Argo CD instance; in gitops mode absent when paved has none or several and the input names none."},
		}, "the Application's file", "holds the Application")), "name", "project", "url"),
		Examples: []Example{{
			Description: "Deploy a service's manifests from git with automated sync and wait until it is healthy.",
			Example: `steps:
  - id: argocd
    action: paved:create-argocd-app
    input:
      name: ${{ parameters.name }}
      source:
        repoURL: https://git.example.com/platform/deployments.git
        path: apps/${{ parameters.name }}
      destination:
        namespace: ${{ parameters.name }}
      createNamespace: true
      automated: {prune: true, selfHeal: true}
      entityRef: component:default/${{ parameters.name }}
      wait: true`,
			Input: map[string]any{
				"name":            "payments",
				"source":          map[string]any{"repoURL": "https://git.example.com/platform/deployments.git", "path": "apps/payments"},
				"destination":     map[string]any{"namespace": "payments"},
				"createNamespace": true,
				"automated":       map[string]any{"prune": true, "selfHeal": true},
				"entityRef":       "component:default/payments",
				"wait":            true,
			},
		}},
		Handler: h.handleCreate,
	}
}

func (h *appActions) handleCreate(ctx context.Context, in Input) (map[string]any, error) {
	var ci createInput
	if err := in.Decode(&ci); err != nil {
		return nil, err
	}
	var fields []paved.FieldError
	// gitops mode needs no Argo CD instance: Argo CD reads the repository.
	instance, ferr := ci.Instance, h.checkGitOps(ci)
	if ci.Mode != ModeGitOps {
		instance, ferr = h.instance(ci.Instance)
	}
	fields = append(fields, ferr...)
	sources := ci.Sources
	switch {
	case ci.Source != nil && len(ci.Sources) > 0:
		fields = append(fields, paved.FieldError{Field: "sources", Message: "set either source or sources, not both"})
	case ci.Source != nil:
		sources = []paved.AppSource{*ci.Source}
		fields = append(fields, checkSource("source", *ci.Source, false)...)
	case len(ci.Sources) > 0:
		for i, s := range ci.Sources {
			fields = append(fields, checkSource(fmt.Sprintf("sources.%d", i), s, true)...)
		}
	default:
		fields = append(fields, paved.FieldError{Field: "source", Message: "is required (or sources)"})
	}
	if ci.Destination.Server != "" && ci.Destination.Name != "" {
		fields = append(fields, paved.FieldError{Field: "destination.name", Message: "set either destination.server or destination.name, not both"})
	}
	timeout, terr := h.waitTimeout(ci.waitInput)
	fields = append(fields, terr...)
	labels, lerr := appLabels(ctx, ci)
	fields = append(fields, lerr...)
	annotations, aerr := appAnnotations(ctx, ci)
	fields = append(fields, aerr...)
	if len(fields) > 0 {
		return nil, paved.InvalidFields(fields...)
	}
	dest := ci.Destination
	if dest.Server == "" && dest.Name == "" {
		dest.Server = "https://kubernetes.default.svc"
	}
	req := paved.AppRequest{
		AppRef:          paved.AppRef{Instance: instance, Name: ci.Name, Namespace: ci.Namespace, Project: ci.Project},
		CreateProject:   ci.CreateProject,
		Sources:         sources,
		Destination:     dest,
		CreateNamespace: ci.CreateNamespace,
		Automated:       ci.Automated,
		SyncOptions:     ci.SyncOptions,
		Labels:          labels,
		Annotations:     annotations,
		Upsert:          ci.Upsert,
	}
	if ci.Mode == ModeGitOps {
		return h.commitApp(ctx, req)
	}
	unlock, lctx, err := lockCreate(ctx, h.Locks, "argocd-create:"+instance+"/"+ci.Namespace+"/"+ci.Name)
	if err != nil {
		return nil, err
	}
	app, err := h.Apps.CreateApp(lctx, req)
	unlock()
	if err != nil {
		return nil, err
	}
	created := app.Created
	if ci.Wait {
		if app, err = h.waitHealthy(ctx, app.AppRef, timeout, false); err != nil {
			return nil, err
		}
	}
	out := appOutputValues(app)
	out["created"] = created
	return out, nil
}

func checkSource(field string, s paved.AppSource, multi bool) []paved.FieldError {
	var fields []paved.FieldError
	if s.Path != "" && s.Chart != "" {
		fields = append(fields, paved.FieldError{Field: field + ".chart", Message: "set either path or chart, not both"})
	}
	if s.Chart != "" && s.TargetRevision == "" {
		// Argo CD refuses it; gitops mode would commit what it refuses.
		fields = append(fields, paved.FieldError{Field: field + ".targetRevision", Message: "is required with a Helm chart (the chart version)"})
	}
	if s.Path == "" && s.Chart == "" && !(multi && s.Ref != "") {
		fields = append(fields, paved.FieldError{Field: field + ".path", Message: "is required (or chart)"})
	}
	if strings.Contains(s.Path, "..") {
		fields = append(fields, paved.FieldError{Field: field + ".path", Message: "must not contain '..'"})
	}
	if s.Ref != "" && !multi {
		fields = append(fields, paved.FieldError{Field: field + ".ref", Message: "is only meaningful in sources"})
	}
	return fields
}

var labelKeyRE = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
var labelValueRE = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)

func validKey(k string) bool {
	name := k
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		if i > 253 {
			return false
		}
		name = k[i+1:]
	}
	return len(name) <= 63 && labelKeyRE.MatchString(k)
}

// appLabels merges the caller's labels with paved's own, which link the app to
// its Backstage entity and initiator. Label values are limited to 63 safe
// characters, so refs are reduced here and kept verbatim in annotations.
func appLabels(ctx context.Context, ci createInput) (map[string]string, []paved.FieldError) {
	var fields []paved.FieldError
	labels := map[string]string{}
	for k, v := range ci.Labels {
		switch {
		case !validKey(k):
			fields = append(fields, paved.FieldError{Field: "labels." + k, Message: "is not a valid Kubernetes label key"})
		case len(v) > 63 || !labelValueRE.MatchString(v):
			fields = append(fields, paved.FieldError{Field: "labels." + k, Message: "value must be at most 63 characters of A-Z, a-z, 0-9, '-', '_' or '.', starting and ending with a letter or digit"})
		default:
			labels[k] = v
		}
	}
	labels[paved.LabelManagedBy] = paved.ManagedByPaved
	if ci.EntityRef != "" {
		labels[paved.LabelEntity] = LabelValue(ci.EntityRef)
	}
	if p, ok := paved.PrincipalFrom(ctx); ok && p.User != "" {
		labels[paved.LabelUser] = LabelValue(p.User)
	}
	sortFields(fields)
	return labels, fields
}

func appAnnotations(ctx context.Context, ci createInput) (map[string]string, []paved.FieldError) {
	var fields []paved.FieldError
	ann := map[string]string{}
	for k, v := range ci.Annotations {
		if !validKey(k) {
			fields = append(fields, paved.FieldError{Field: "annotations." + k, Message: "is not a valid Kubernetes annotation key"})
			continue
		}
		ann[k] = v
	}
	if ci.EntityRef != "" {
		ann[paved.AnnotationEntityRef] = ci.EntityRef
	}
	if ci.TemplateRef != "" {
		ann[paved.AnnotationTemplate] = ci.TemplateRef
	}
	if ci.TaskID != "" {
		ann[paved.AnnotationTaskID] = ci.TaskID
	}
	if p, ok := paved.PrincipalFrom(ctx); ok && p.User != "" {
		ann[paved.AnnotationUserRef] = p.User
	}
	sortFields(fields)
	return ann, fields
}

func sortFields(f []paved.FieldError) {
	sort.Slice(f, func(i, j int) bool { return f[i].Field < f[j].Field })
}

// AppPermissionResource is app as paved's permission rules see it. Its
// owner is the owner paved recorded, else the user who created it.
func AppPermissionResource(app paved.App) *paved.Resource {
	owner := app.Annotations[paved.AnnotationOwner]
	if owner == "" {
		owner = app.Annotations[paved.AnnotationUserRef]
	}
	return &paved.Resource{Type: paved.ResourceArgoApp, Ref: app.Instance + "/" + app.Namespace + "/" + app.Name,
		Owner: owner, Project: app.Project, DestinationServer: app.Destination.Server,
		DestinationNamespace: app.Destination.Namespace, RepoURL: app.RepoURL,
		ManagedByPaved: app.Labels[paved.LabelManagedBy] == paved.ManagedByPaved}
}

// LabelValue turns a Backstage ref ("component:default/payments") into a valid
// label value ("component.default.payments"), cut to 63 characters.
func LabelValue(ref string) string {
	b := []byte(ref)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			b[i] = '.'
		}
	}
	s := string(b)
	if len(s) > 63 {
		s = s[len(s)-63:]
	}
	return strings.Trim(s, "-_.")
}

func (h *appActions) instance(name string) (string, []paved.FieldError) {
	return pickInstance(h.Apps.Instances(), name)
}

// pickInstance resolves the instance an action names among those configured;
// none named is fine when there is only one.
func pickInstance(all []string, name string) (string, []paved.FieldError) {
	if name == "" {
		if len(all) == 1 {
			return all[0], nil
		}
		if len(all) == 0 {
			return "", []paved.FieldError{{Field: "instance", Message: "no Argo CD instance is configured in paved"}}
		}
		return "", []paved.FieldError{{Field: "instance", Message: "is required when several Argo CD instances are configured (" + strings.Join(all, ", ") + ")"}}
	}
	for _, n := range all {
		if n == name {
			return name, nil
		}
	}
	return "", []paved.FieldError{{Field: "instance", Message: fmt.Sprintf("unknown Argo CD instance %q (configured: %s)", name, strings.Join(all, ", "))}}
}

func (h *appActions) waitTimeout(w waitInput) (time.Duration, []paved.FieldError) {
	if w.WaitTimeout == "" {
		return h.DefaultWait, nil
	}
	d, err := time.ParseDuration(w.WaitTimeout)
	if err != nil || d <= 0 {
		return 0, []paved.FieldError{{Field: "waitTimeout", Message: "must be a positive duration such as 90s or 5m"}}
	}
	if d > h.MaxWait {
		return 0, []paved.FieldError{{Field: "waitTimeout", Message: fmt.Sprintf("must be at most %s", h.MaxWait)}}
	}
	return d, nil
}

// appOutputValues are an app's outputs. Right after a create Argo CD has not
// reconciled the app yet: a status it does not report is absent, not "".
func appOutputValues(app paved.App) map[string]any {
	out := map[string]any{
		"instance": app.Instance,
		"name":     app.Name,
		"project":  app.Project,
		"url":      app.URL,
	}
	setIfKnown(out, "revision", app.Revision)
	setIfKnown(out, "namespace", app.Namespace)
	setIfKnown(out, "destinationNamespace", app.Destination.Namespace)
	setIfKnown(out, "syncStatus", app.SyncStatus)
	setIfKnown(out, "healthStatus", app.HealthStatus)
	return out
}

// setIfKnown sets an output that has no value yet (or none in this setup)
// only when it has one: a template reads an absent output, never "".
func setIfKnown(out map[string]any, key, v string) {
	if v != "" {
		out[key] = v
	}
}

// waitHealthy polls the application until it is Synced and Healthy. Argo CD
// being unavailable for a while (a restart) is retried until the deadline; a
// failed sync operation ends the wait at once with Argo CD's message.
//
// With appear, an application that does not exist (yet) is waited for too.
func (h *appActions) waitHealthy(ctx context.Context, ref paved.AppRef, timeout time.Duration, appear bool) (paved.App, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := h.PollInterval
	var last paved.App
	var lastErr error
	for {
		app, err := h.Apps.GetApp(ctx, ref, false)
		switch {
		case err == nil:
			last, lastErr = app, nil
			if app.Healthy() && app.OperationPhase != "Running" && app.OperationPhase != "Terminating" {
				return app, nil
			}
			if app.OperationPhase == "Failed" || app.OperationPhase == "Error" {
				return app, paved.Errorf(paved.EConflict, "sync of application %q failed (%s): %s%s", ref.Name, app.OperationPhase, app.OperationMessage, problemText(app.Problems))
			}
		case paved.ErrorCode(err) == paved.EUnavailable || ctx.Err() != nil:
			lastErr = err
		case appear && paved.ErrorCode(err) == paved.ENotFound:
			// A gitops-mode app exists once the root application has synced
			// the commit: waiting for it is waiting until it appears.
			last, lastErr = paved.App{}, err
		default:
			return app, err
		}
		if err := h.Sleep(ctx, interval); err != nil {
			return last, timeoutError(ref, timeout, last, lastErr)
		}
		if interval < 5*time.Second {
			interval += interval / 2
		}
	}
}

func timeoutError(ref paved.AppRef, timeout time.Duration, last paved.App, lastErr error) error {
	msg := fmt.Sprintf("timed out after %s waiting for application %q to be Synced and Healthy", timeout, ref.Name)
	if last.Name != "" {
		msg += fmt.Sprintf(": sync=%s health=%s", orUnknown(last.SyncStatus), orUnknown(last.HealthStatus))
		if last.OperationPhase != "" {
			msg += fmt.Sprintf(", last operation %s: %s", last.OperationPhase, last.OperationMessage)
		}
		msg += problemText(last.Problems)
	}
	if lastErr != nil {
		msg += "; last error: " + paved.ErrorMessage(lastErr)
	}
	return &paved.Error{Code: paved.ETimeout, Message: msg, Err: lastErr}
}

// problemText lists the resources in trouble for a wait's error message.
func problemText(ps []paved.AppProblem) string {
	if len(ps) == 0 {
		return ""
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return "; resources: " + strings.Join(parts, "; ")
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (h *appActions) get() Action {
	props := refProps()
	props["refresh"] = withEnum(str("Refresh", "Ask Argo CD to refresh from git first: normal or hard."), "", "normal", "hard")
	return Action{
		Name:        "get-argocd-app",
		Title:       "Get an Argo CD application",
		Description: "Reads an Argo CD Application: its link, sync and health status, revision and last operation.",
		Attributes:  Attributes{ReadOnly: true, Idempotent: true},
		Input:       object(props, "name"),
		Output: appOutput(Schema{
			"operationPhase":   Schema{"type": "string"},
			"operationMessage": Schema{"type": "string"},
			"destination":      Schema{"type": "object"},
			"problems": Schema{"type": "array", "description": "What keeps it from Synced and Healthy: resources whose sync failed or that are not Healthy, and error conditions.", "items": Schema{
				"type": "object", "required": []string{"status"},
				"properties": Schema{"resource": Schema{"type": "string"}, "status": Schema{"type": "string"}, "message": Schema{"type": "string"}},
			}},
		}),
		Examples: []Example{{
			Description: "Read the status of an application.",
			Example:     "steps:\n  - id: status\n    action: paved:get-argocd-app\n    input:\n      name: payments",
			Input:       map[string]any{"name": "payments"},
		}},
		Handler: func(ctx context.Context, in Input) (map[string]any, error) {
			var gi struct {
				appRefInput
				Refresh string `json:"refresh"`
			}
			if err := in.Decode(&gi); err != nil {
				return nil, err
			}
			ref, err := h.ref(gi.appRefInput)
			if err != nil {
				return nil, err
			}
			app, err := h.Apps.GetApp(ctx, ref, gi.Refresh != "")
			if err != nil {
				return nil, err
			}
			out := appOutputValues(app)
			out["operationPhase"] = app.OperationPhase
			out["operationMessage"] = app.OperationMessage
			out["destination"] = map[string]any{"server": app.Destination.Server, "name": app.Destination.Name, "namespace": app.Destination.Namespace}
			problems := make([]any, len(app.Problems))
			for i, p := range app.Problems {
				problems[i] = map[string]any{"resource": p.Resource, "status": p.Status, "message": p.Message}
			}
			out["problems"] = problems
			return out, nil
		},
	}
}

func (h *appActions) ref(in appRefInput) (paved.AppRef, error) {
	instance, fields := h.instance(in.Instance)
	if len(fields) > 0 {
		return paved.AppRef{}, paved.InvalidFields(fields...)
	}
	return paved.AppRef{Instance: instance, Name: in.Name, Namespace: in.Namespace, Project: in.Project}, nil
}

func (h *appActions) sync() Action {
	props := refProps()
	for k, v := range waitProps() {
		props[k] = v
	}
	props["revision"] = pattern(str("Revision", "Revision to sync to (default: the target revision)."), `^\S+$`, 255)
	props["prune"] = boolean("Prune", "Delete resources that are no longer in git.", false)
	props["dryRun"] = boolean("Dry run", "Ask Argo CD for a dry-run sync.", false)
	return Action{
		Name:        "sync-argocd-app",
		Title:       "Sync an Argo CD application",
		Description: "Starts a sync of an Argo CD Application, optionally waiting until it is Synced and Healthy.",
		Attributes:  Attributes{Idempotent: true},
		Input:       object(props, "name"),
		Output:      appOutput(Schema{"operationPhase": Schema{"type": "string"}, "operationMessage": Schema{"type": "string"}}),
		Examples: []Example{{
			Description: "Sync and wait.",
			Example:     "steps:\n  - id: sync\n    action: paved:sync-argocd-app\n    input:\n      name: payments\n      wait: true",
			Input:       map[string]any{"name": "payments", "wait": true},
		}},
		Handler: func(ctx context.Context, in Input) (map[string]any, error) {
			var si struct {
				appRefInput
				waitInput
				Revision string `json:"revision"`
				Prune    bool   `json:"prune"`
				DryRun   bool   `json:"dryRun"`
			}
			if err := in.Decode(&si); err != nil {
				return nil, err
			}
			ref, err := h.ref(si.appRefInput)
			if err != nil {
				return nil, err
			}
			timeout, fields := h.waitTimeout(si.waitInput)
			if len(fields) > 0 {
				return nil, paved.InvalidFields(fields...)
			}
			app, err := h.Apps.SyncApp(ctx, paved.SyncRequest{AppRef: ref, Revision: si.Revision, Prune: si.Prune, DryRun: si.DryRun})
			if err != nil {
				return nil, err
			}
			if si.Wait && !si.DryRun {
				if app, err = h.waitHealthy(ctx, app.AppRef, timeout, false); err != nil {
					return nil, err
				}
			}
			out := appOutputValues(app)
			out["operationPhase"] = app.OperationPhase
			out["operationMessage"] = app.OperationMessage
			return out, nil
		},
	}
}

func (h *appActions) wait() Action {
	props := refProps()
	props["timeout"] = pattern(str("Timeout", "How long to wait, e.g. 90s or 5m (default 3m)."), durationRE, 32)
	props["appear"] = boolean("Wait for it to appear", "The application may not exist yet: a gitops-mode app (or one a pull request adds) appears when the root application syncs the commit. Without it, a missing application is a 404 at once.", false)
	return Action{
		Name:        "wait-argocd-app",
		Title:       "Wait for an Argo CD application",
		Description: "Waits until an Argo CD Application is Synced and Healthy; fails with a clear timeout that includes the last operation's message.",
		Attributes:  Attributes{ReadOnly: true, Idempotent: true},
		Input:       object(props, "name"),
		Output:      appOutput(nil),
		Examples: []Example{{
			Description: "Wait up to five minutes.",
			Example:     "steps:\n  - id: wait\n    action: paved:wait-argocd-app\n    input:\n      name: payments\n      timeout: 5m",
			Input:       map[string]any{"name": "payments", "timeout": "5m"},
		}},
		Handler: func(ctx context.Context, in Input) (map[string]any, error) {
			var wi struct {
				appRefInput
				Timeout string `json:"timeout"`
				Appear  bool   `json:"appear"`
			}
			if err := in.Decode(&wi); err != nil {
				return nil, err
			}
			ref, err := h.ref(wi.appRefInput)
			if err != nil {
				return nil, err
			}
			timeout, fields := h.waitTimeout(waitInput{WaitTimeout: wi.Timeout})
			if len(fields) > 0 {
				fields[0].Field = "timeout"
				return nil, paved.InvalidFields(fields...)
			}
			app, err := h.waitHealthy(ctx, ref, timeout, wi.Appear)
			if err != nil {
				return nil, err
			}
			return appOutputValues(app), nil
		},
	}
}

func (h *appActions) delete() Action {
	props := refProps()
	props["cascade"] = boolean("Cascade", "Also delete the application's resources in the cluster.", true)
	props["propagationPolicy"] = withEnum(str("Propagation policy", "How Kubernetes deletes the resources."), "foreground", "background")
	props["deleteProject"] = boolean("Delete project", "Also delete the project if paved created it and no other application uses it.", false)
	props["force"] = boolean("Force", "Also delete an application paved did not create (needs the permission paved.argocd.app.delete on it).", false)
	return Action{
		Name:  "delete-argocd-app",
		Title: "Delete an Argo CD application",
		Description: "Deletes an Argo CD Application, by default with its resources; deleting one that does not exist succeeds with deleted=false. " +
			"An application paved did not create (no label app.kubernetes.io/managed-by: paved) is refused (409) unless force is true.",
		Attributes: Attributes{Destructive: true, Idempotent: true},
		Input:      object(props, "name"),
		Output: Schema{"type": "object", "required": []string{"instance", "name", "deleted"}, "properties": Schema{
			"instance": Schema{"type": "string"},
			"name":     Schema{"type": "string"},
			"deleted":  Schema{"type": "boolean", "description": "False when the application did not exist."},
		}},
		Examples: []Example{{
			Description: "Tear down an application and its project.",
			Example:     "steps:\n  - id: teardown\n    action: paved:delete-argocd-app\n    input:\n      name: payments\n      deleteProject: true",
			Input:       map[string]any{"name": "payments", "deleteProject": true},
		}},
		Handler: func(ctx context.Context, in Input) (map[string]any, error) {
			di := struct {
				appRefInput
				Cascade           *bool  `json:"cascade"`
				PropagationPolicy string `json:"propagationPolicy"`
				DeleteProject     bool   `json:"deleteProject"`
				Force             bool   `json:"force"`
			}{}
			if err := in.Decode(&di); err != nil {
				return nil, err
			}
			ref, err := h.ref(di.appRefInput)
			if err != nil {
				return nil, err
			}
			// Destructive by default only for what paved made: look first.
			app, err := h.Apps.GetApp(ctx, ref, false)
			if paved.ErrorCode(err) == paved.ENotFound {
				return map[string]any{"instance": ref.Instance, "name": ref.Name, "deleted": false}, nil
			}
			if err != nil {
				return nil, err
			}
			res := AppPermissionResource(app)
			if !res.ManagedByPaved && !di.Force {
				return nil, paved.Errorf(paved.EConflict, "application %q was not created by paved (no label %s: %s); set force: true to delete it anyway (needs %s)",
					ref.Name, paved.LabelManagedBy, paved.ManagedByPaved, permission.AppDelete.Name)
			}
			if err := paved.Authorize(ctx, permission.AppDelete, res); err != nil {
				return nil, err
			}
			cascade := di.Cascade == nil || *di.Cascade
			err = h.Apps.DeleteApp(ctx, paved.DeleteRequest{AppRef: ref, Cascade: cascade, PropagationPolicy: di.PropagationPolicy, DeleteProject: di.DeleteProject})
			deleted := true
			if paved.ErrorCode(err) == paved.ENotFound {
				deleted, err = false, nil
			}
			if err != nil {
				return nil, err
			}
			return map[string]any{"instance": ref.Instance, "name": ref.Name, "deleted": deleted}, nil
		},
	}
}
