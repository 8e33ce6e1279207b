package scaffolder

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/guardrail"
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
	// CallerWait bounds one call's wait by the calling plugin's id, for
	// callers that give up sooner than the wait asked for (an MCP client
	// after 60 s): past it the call answers waitStatus "progressing" with the
	// app's state rather than keep waiting for a caller that has left.
	CallerWait map[string]time.Duration
	Sleep      func(ctx context.Context, d time.Duration) error
	// GitOps writes Applications to the GitOps repository (mode: gitops);
	// nil refuses that mode.
	GitOps AppCommitter
	// Sources asks Argo CD whether an application's sources resolve before
	// gitops mode commits it (api mode has Argo CD's own validation on
	// create); nil: no check.
	Sources SourceChecker
	// PullRequests opens the pull request of a review branch (gitops mode
	// with review); nil leaves review at the branch and its compare link.
	PullRequests PullRequests
	// Locks serialize the creates of one application across replicas, so
	// that exactly one concurrent identical call reports created; nil: none.
	Locks Locks
	// Guardrails limit each golden path's projects, destinations and
	// repositories, whoever calls; nil: none.
	Guardrails *guardrail.Set
	// Approvals holds back the applications a rule sends for approval
	// (e.g. destination namespace prod-*); nil: none.
	Approvals AppApprovals
}

// AppApprovals holds back the applications that need an approver's yes.
type AppApprovals interface {
	// AppRule returns the rule that sends app for approval, and why.
	AppRule(app paved.AppRequest) (approval.Rule, string, bool)
	GateApp(ctx context.Context, app paved.AppRequest) (approval.Pending, bool, error)
}

var _ AppApprovals = (*approval.Service)(nil)

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
		o.Sleep = paved.Sleep
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
			"status": Schema{"type": "string", "enum": []string{"pending-approval"}, "description": "pending-approval when an approval rule (e.g. destination namespace prod-*) sends the application for approval: " +
				"nothing is created until an approver says yes, then paved creates it and notifies the requester; url is then the request's page. Absent otherwise."},
			"approvalId":  pendingOutputs["approvalId"],
			"approvalUrl": pendingOutputs["approvalUrl"],
			"reason":      pendingOutputs["reason"],
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
	repos := map[string]string{}
	for i, s := range sources {
		field := fmt.Sprintf("sources.%d.repoURL", i)
		if ci.Source != nil {
			field = "source.repoURL"
		}
		repos[field] = s.RepoURL
	}
	if err := h.Guardrails.CheckApp(guardrail.App{TemplateRef: ci.TemplateRef, Project: ci.Project, DestinationServer: dest.Server,
		DestinationName: dest.Name, DestinationNamespace: dest.Namespace, RepoURLs: repos}); err != nil {
		return nil, err
	}
	// The policy's conditions see the application as it would be; an
	// unnamed project is "" to them (the instance's default project is not
	// known here), so a policy conditional on HAS_PROJECT needs it named.
	firstRepo := ""
	if len(sources) > 0 {
		firstRepo = sources[0].RepoURL
	}
	if err := paved.Authorize(ctx, permission.AppCreate, AppPermissionResource(paved.App{
		AppRef: paved.AppRef{Instance: instance, Name: ci.Name, Namespace: ci.Namespace, Project: ci.Project},
		Labels: labels, Annotations: annotations, Destination: dest, RepoURL: firstRepo})); err != nil {
		return nil, err
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
	if h.Approvals != nil {
		if ci.Mode == ModeGitOps {
			if _, reason, ok := h.Approvals.AppRule(req); ok {
				return nil, paved.Errorf(paved.EForbidden, "application %s needs approval (%s), and paved holds only mode api for an approval: create it with mode api, or have the GitOps repository's review approve it", ci.Name, reason)
			}
		} else {
			p, pending, err := h.Approvals.GateApp(ctx, req)
			if err != nil {
				return nil, err
			}
			if pending {
				return appPendingOutput(p, req), nil
			}
		}
	}
	if ci.Mode == ModeGitOps {
		if err := h.checkSources(ctx, req, ci.Source != nil); err != nil {
			return nil, err
		}
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
	out := appOutputValues(app)
	if ci.Wait {
		if _, out, err = h.waitOutput(ctx, app.AppRef, timeout, appearing{}); err != nil {
			return nil, err
		}
	}
	out["created"] = created
	return out, nil
}

// appPendingOutput is the step's output for an application sent for
// approval: the step finishes at once (no wait), and url leads to the
// request's page.
func appPendingOutput(p approval.Pending, req paved.AppRequest) map[string]any {
	project := req.Project
	if project == "" {
		project = "default"
	}
	out := map[string]any{
		"instance": req.Instance, "name": req.Name, "project": project, "url": p.URL, "created": false, "mode": ModeAPI,
		"status": "pending-approval", "approvalId": p.Request.ID, "approvalUrl": p.URL, "reason": p.Request.Reason,
	}
	setIfKnown(out, "namespace", req.Namespace)
	setIfKnown(out, "destinationNamespace", req.Destination.Namespace)
	return out
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
	if h := s.Helm; h != nil && h.Values != "" && len(h.ValuesObject) > 0 {
		// Argo CD renders valuesObject alone when both are set: values would
		// be dropped without a word.
		fields = append(fields, paved.FieldError{Field: field + ".helm.values", Message: "set either values or valuesObject, not both (Argo CD ignores values when valuesObject is set)"})
	}
	return fields
}

// appLabels merges the caller's labels with paved's own, which link the app to
// its Backstage entity and initiator. Label values are limited to 63 safe
// characters, so refs are reduced here and kept verbatim in annotations.
func appLabels(ctx context.Context, ci createInput) (map[string]string, []paved.FieldError) {
	var fields []paved.FieldError
	labels := map[string]string{}
	for k, v := range ci.Labels {
		switch {
		case !paved.ValidLabelKey(k):
			fields = append(fields, paved.FieldError{Field: "labels." + k, Message: "is not a valid Kubernetes label key"})
		case !paved.ValidLabelValue(v):
			fields = append(fields, paved.FieldError{Field: "labels." + k, Message: "value must be at most 63 characters of A-Z, a-z, 0-9, '-', '_' or '.', starting and ending with a letter or digit"})
		default:
			labels[k] = v
		}
	}
	labels[paved.LabelManagedBy] = paved.ManagedByPaved
	if ci.EntityRef != "" {
		labels[paved.LabelEntity] = paved.LabelValue(ci.EntityRef)
	}
	if p, ok := paved.PrincipalFrom(ctx); ok && p.User != "" {
		labels[paved.LabelUser] = paved.LabelValue(p.User)
	}
	sortFields(fields)
	return labels, fields
}

func appAnnotations(ctx context.Context, ci createInput) (map[string]string, []paved.FieldError) {
	var fields []paved.FieldError
	ann := map[string]string{}
	for k, v := range ci.Annotations {
		if !paved.ValidLabelKey(k) {
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
