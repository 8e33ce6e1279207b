package scaffolder

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/guardrail"
	"github.com/paved-dev/paved/permission"
)

// AppSets is what the ApplicationSet actions need from an Argo CD client.
type AppSets interface {
	Instances() []string
	CreateAppSet(ctx context.Context, req paved.AppSetRequest) (paved.AppSet, error)
	GetAppSet(ctx context.Context, instance, name, namespace string) (paved.AppSetState, error)
	DeleteAppSet(ctx context.Context, instance, name, namespace string) error
	AppURL(instance, name string) (string, error)
}

// AppSetCommitter writes an ApplicationSet to the GitOps repository, or
// removes it from there (gitops mode).
type AppSetCommitter interface {
	CommitAppSet(ctx context.Context, req paved.AppSetRequest) (gitops.AppSetCommit, error)
	RemoveAppSet(ctx context.Context, name string, force bool) (gitops.AppSetRemoval, error)
	AppSetPath(name string) string
}

var _ AppSetCommitter = gitops.Writer{}

// AppSetActionsOptions configure the ApplicationSet action.
type AppSetActionsOptions struct {
	AppSets AppSets
	// GitOps writes ApplicationSets to the GitOps repository (mode: gitops);
	// nil refuses that mode.
	GitOps AppSetCommitter
	// Locks serialize the creates of one ApplicationSet across replicas, so
	// that exactly one concurrent identical call reports created; nil: none.
	Locks Locks
	// Guardrails limit each golden path's projects, destinations and
	// repositories, for every Application a set would generate, as
	// create-argocd-app's; nil: none.
	Guardrails *guardrail.Set
	// Approvals are the rules that hold Applications back for an approver.
	// paved holds single Applications only: a set that would generate one
	// a rule names is refused, so that a set is no way around the rule;
	// nil: no rules.
	Approvals AppRules
}

// AppRules says which rule, if any, sends an Application for approval.
type AppRules interface {
	AppRule(app paved.AppRequest) (approval.Rule, string, bool)
}

// maxEnvironments bounds one ApplicationSet: beyond a handful of
// environments a git or cluster generator fits better than a list.
const maxEnvironments = 20

type appSetActions struct{ AppSetActionsOptions }

// AppSetActions returns paved:create-argocd-appset, paved:get-argocd-appset
// and paved:delete-argocd-appset.
func AppSetActions(o AppSetActionsOptions) []Action {
	h := &appSetActions{o}
	return []Action{h.create(), h.get(), h.delete()}
}

type environmentInput struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Server    string `json:"server"`
}

type appSetInput struct {
	Instance        string             `json:"instance"`
	Name            string             `json:"name"`
	Project         string             `json:"project"`
	RepoURL         string             `json:"repoURL"`
	Path            string             `json:"path"`
	TargetRevision  string             `json:"targetRevision"`
	Environments    []environmentInput `json:"environments"`
	Automated       bool               `json:"automated"`
	Prune           bool               `json:"prune"`
	SelfHeal        bool               `json:"selfHeal"`
	CreateNamespace bool               `json:"createNamespace"`
	Labels          map[string]string  `json:"labels"`
	Annotations     map[string]string  `json:"annotations"`
	Owner           string             `json:"owner"`
	EntityRef       string             `json:"entityRef"`
	TemplateRef     string             `json:"templateRef"`
	TaskID          string             `json:"taskId"`
	Upsert          bool               `json:"upsert"`
	Mode            string             `json:"mode"`
}

func (h *appSetActions) create() Action {
	src := sourceSchema()["properties"].(Schema)
	refs := refProps()
	props := Schema{
		"instance": refs["instance"],
		"name":     pattern(str("ApplicationSet name", "Name of the ApplicationSet (a DNS label); each environment's Application is <name>-<environment>."), dnsLabel, 63),
		"project":  refs["project"],
		"repoURL":  src["repoURL"],
		"path": pattern(str("Path", "Directory in the repository; {{.environment}}, {{.namespace}} and {{.server}} are replaced per environment, e.g. envs/{{.environment}}."),
			`^\S*$`, 1024),
		"targetRevision": pattern(str("Target revision", "Branch, tag or commit (the same placeholders as path); empty means the default branch (HEAD)."), `^\S*$`, 255),
		"environments": Schema{
			"type": "array", "title": "Environments", "description": "One Application per environment, each with its own namespace and cluster.",
			"minItems": 1, "maxItems": maxEnvironments,
			"items": object(Schema{
				"name":      pattern(str("Environment", "Name of the environment (a DNS label), e.g. dev or prod."), dnsLabel, 63),
				"namespace": pattern(str("Namespace", "Namespace the environment's Application deploys to."), dnsLabel, 63),
				"server":    pattern(str("Cluster URL", "API server URL of the environment's cluster (default https://kubernetes.default.svc)."), `^https?://\S+$`, 2048),
			}, "name", "namespace"),
		},
		"automated":       boolean("Automated sync", "Let Argo CD sync each Application automatically.", false),
		"prune":           boolean("Prune", "With automated sync: delete resources that are no longer in git.", false),
		"selfHeal":        boolean("Self-heal", "With automated sync: revert changes made outside git.", false),
		"createNamespace": boolean("Create namespace", "Let Argo CD create each environment's namespace (CreateNamespace=true).", false),
		"labels":          stringMap("Labels", "Labels for the ApplicationSet and its Applications; paved adds labels linking back to the entity and the initiator."),
		"annotations":     stringMap("Annotations", "Annotations for the ApplicationSet and its Applications."),
		"owner":           pattern(str("Owner", "The owning group, e.g. group:default/payments; the catalog shows it as the Components' owner."), entityRefRE, 255),
		"entityRef":       pattern(str("Entity", "The Backstage entity the Applications belong to, e.g. component:default/payments."), entityRefRE, 255),
		"templateRef":     pattern(str("Template", "The template that created it, e.g. template:default/new-service-environments."), entityRefRE, 255),
		"taskId":          pattern(str("Task id", "The scaffolder task id, for the audit log."), `^[A-Za-z0-9_-]+$`, 128),
		"upsert":          boolean("Upsert", "Replace the ApplicationSet when it exists with a different spec (otherwise that is a conflict).", false),
		"mode": withDefault(withEnum(str("Mode", "api creates the ApplicationSet through the Argo CD API; gitops commits it to the GitOps repository (appsets/<name>.yaml) and reports the commit."),
			ModeAPI, ModeGitOps), ModeAPI),
	}
	app := Schema{"type": "object", "required": []string{"name", "environment", "namespace", "server"}, "properties": Schema{
		"name":        Schema{"type": "string", "description": "<applicationSet>-<environment>"},
		"environment": Schema{"type": "string"},
		"namespace":   Schema{"type": "string"},
		"server":      Schema{"type": "string"},
		"url":         Schema{"type": "string", "description": "Link to the Application in the Argo CD UI (empty in gitops mode when no instance is known)."},
	}}
	return Action{
		Name:  "create-argocd-appset",
		Title: "Create an Argo CD ApplicationSet, one application per environment",
		Description: "Creates an Argo CD ApplicationSet whose list generator makes one Application per environment, each built like create-argocd-app's. " +
			"Re-running with the same spec changes nothing (created=false); a different spec is a conflict unless upsert is set. Argo CD's own error message is passed through.",
		Attributes: Attributes{Idempotent: true},
		Input:      object(props, "name", "repoURL", "environments"),
		Output: Schema{"type": "object", "required": []string{"name", "project", "mode", "created", "updated", "applications"}, "properties": gitOpsOutputs(Schema{
			"instance":     Schema{"type": "string"},
			"name":         Schema{"type": "string", "description": "The ApplicationSet."},
			"namespace":    Schema{"type": "string"},
			"project":      Schema{"type": "string"},
			"mode":         Schema{"type": "string"},
			"created":      Schema{"type": "boolean", "description": "Whether this call created the ApplicationSet (gitops mode: whether it made a commit)."},
			"updated":      Schema{"type": "boolean", "description": "Whether upsert replaced a different spec."},
			"applications": Schema{"type": "array", "items": app, "description": "The Applications Argo CD generates, one per environment."},
		}, "the ApplicationSet's file", "holds the ApplicationSet")},
		Examples: []Example{{
			Description: "Deploy a service to dev and prod, each from its own overlay directory and into its own namespace, with automated sync.",
			Example: `steps:
  - id: appset
    action: paved:create-argocd-appset
    input:
      name: ${{ parameters.name }}
      repoURL: https://git.example.com/platform/deployments.git
      path: services/${{ parameters.name }}/{{.environment}}
      environments:
        - {name: dev, namespace: ${{ parameters.name }}-dev}
        - {name: prod, namespace: ${{ parameters.name }}, server: https://prod.k8s.example.com}
      automated: true
      createNamespace: true
      entityRef: component:default/${{ parameters.name }}`,
			Input: map[string]any{
				"name":    "payments",
				"repoURL": "https://git.example.com/platform/deployments.git",
				"path":    "services/payments/{{.environment}}",
				"environments": []any{
					map[string]any{"name": "dev", "namespace": "payments-dev"},
					map[string]any{"name": "prod", "namespace": "payments", "server": "https://prod.k8s.example.com"},
				},
				"automated":       true,
				"createNamespace": true,
				"entityRef":       "component:default/payments",
			},
		}},
		Handler: h.handleCreate,
	}
}

func (h *appSetActions) handleCreate(ctx context.Context, in Input) (map[string]any, error) {
	var ai appSetInput
	if err := in.Decode(&ai); err != nil {
		return nil, err
	}
	req, instance, fields := h.request(ctx, ai)
	if len(fields) > 0 {
		return nil, paved.InvalidFields(fields...)
	}
	// Each Application the set generates is one create-argocd-app would
	// make: the guardrails, then the policy, decide on each.
	if err := h.Guardrails.CheckApps(appSetGuardrailApps(ai.TemplateRef, req)...); err != nil {
		return nil, err
	}
	for _, e := range req.Environments {
		if err := paved.Authorize(ctx, permission.AppCreate, appSetAppResource(req.Template, e)); err != nil {
			return nil, err
		}
	}
	if err := h.needsApproval(req, instance); err != nil {
		return nil, err
	}
	if ai.Mode == ModeGitOps {
		return h.commit(ctx, req, instance)
	}
	unlock, lctx, err := lockCreate(ctx, h.Locks, "argocd-appset-create:"+instance+"/"+ai.Name)
	if err != nil {
		return nil, err
	}
	set, err := h.AppSets.CreateAppSet(lctx, req)
	unlock()
	if err != nil {
		return nil, err
	}
	out := appSetOutput(set)
	out["mode"] = ModeAPI
	return out, nil
}

// needsApproval refuses a set that would generate an Application an
// approval rule holds back (e.g. an environment in namespace prod-*): paved
// holds single Applications for an approver, not sets, and a set must not
// be a way around the rule.
func (h *appSetActions) needsApproval(req paved.AppSetRequest, instance string) error {
	if h.Approvals == nil {
		return nil
	}
	var fields []paved.FieldError
	reasons := map[string]bool{}
	for i, e := range req.Environments {
		app := paved.AppRequest{
			AppRef:      paved.AppRef{Instance: instance, Name: paved.AppSetAppName(req.Template.Name, e.Name), Project: req.Template.Project},
			Destination: paved.AppDestination{Server: e.Server, Namespace: e.Namespace},
		}
		if _, reason, ok := h.Approvals.AppRule(app); ok {
			reasons[reason] = true
			fields = append(fields, paved.FieldError{Field: fmt.Sprintf("environments.%d.namespace", i),
				Message: fmt.Sprintf("environment %q needs approval (%s)", e.Name, reason)})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	why := make([]string, 0, len(reasons))
	for r := range reasons {
		why = append(why, r)
	}
	sort.Strings(why)
	err := paved.Errorf(paved.EForbidden, "ApplicationSet %s would generate applications that need approval (%s); paved holds single applications for an approval, not sets: create those environments with paved:create-argocd-app",
		req.Template.Name, strings.Join(why, "; "))
	err.Fields = fields
	return err
}

// appSetGuardrailApps are the Applications an ApplicationSet generates,
// one per environment, as the guardrails see them: each destination named
// by its element (environments.N.namespace) and environment.
func appSetGuardrailApps(templateRef string, req paved.AppSetRequest) []guardrail.App {
	repos := map[string]string{}
	if len(req.Template.Sources) > 0 {
		repos["repoURL"] = req.Template.Sources[0].RepoURL
	}
	apps := make([]guardrail.App, 0, len(req.Environments))
	for i, e := range req.Environments {
		server := e.Server
		if server == "" {
			server = paved.InClusterServer
		}
		apps = append(apps, guardrail.App{TemplateRef: templateRef, Project: req.Template.Project, DestinationServer: server,
			DestinationNamespace: e.Namespace, DestinationField: fmt.Sprintf("environments.%d.namespace", i), Environment: e.Name, RepoURLs: repos})
	}
	return apps
}

// appSetAppResource is the Application an ApplicationSet generates for
// env, as paved's permission rules see it.
func appSetAppResource(tmpl paved.AppRequest, env paved.Environment) *paved.Resource {
	dest := paved.AppDestination{Server: env.Server, Namespace: env.Namespace}
	if dest.Server == "" {
		dest.Server = paved.InClusterServer
	}
	repo := ""
	if len(tmpl.Sources) > 0 {
		repo = tmpl.Sources[0].RepoURL
	}
	return AppPermissionResource(paved.App{
		AppRef: paved.AppRef{Instance: tmpl.Instance, Name: paved.AppSetAppName(tmpl.Name, env.Name), Project: tmpl.Project},
		Labels: tmpl.Labels, Annotations: tmpl.Annotations, Destination: dest, RepoURL: repo})
}

// request checks the input as create-argocd-app checks its own and builds
// the ApplicationSet request; instance is "" in gitops mode when none is
// named and several (or none) are configured.
func (h *appSetActions) request(ctx context.Context, ai appSetInput) (paved.AppSetRequest, string, []paved.FieldError) {
	var fields []paved.FieldError
	var all []string
	if h.AppSets != nil {
		all = h.AppSets.Instances()
	}
	instance, ferr := pickInstance(all, ai.Instance)
	if ai.Mode == ModeGitOps {
		// Argo CD reads the repository: an instance only gives the links.
		if h.GitOps == nil {
			fields = append(fields, gitOpsOff)
		}
		if ai.Instance == "" {
			ferr = nil
		}
	}
	fields = append(fields, ferr...)

	source := paved.AppSource{RepoURL: ai.RepoURL, Path: ai.Path, TargetRevision: ai.TargetRevision}
	for _, f := range checkSource("source", source, false) {
		f.Field = strings.TrimPrefix(f.Field, "source.")
		fields = append(fields, f)
	}
	fields = append(fields, checkPlaceholders("path", ai.Path)...)
	fields = append(fields, checkPlaceholders("targetRevision", ai.TargetRevision)...)

	envs := make([]paved.Environment, 0, len(ai.Environments))
	seen := map[string]int{}
	for i, e := range ai.Environments {
		at := fmt.Sprintf("environments.%d.name", i)
		if j, dup := seen[e.Name]; dup {
			fields = append(fields, paved.FieldError{Field: at, Message: fmt.Sprintf("%q is already the name of environments.%d", e.Name, j)})
		}
		seen[e.Name] = i
		if app := paved.AppSetAppName(ai.Name, e.Name); len(app) > 63 {
			fields = append(fields, paved.FieldError{Field: at, Message: fmt.Sprintf("makes the application name %q longer than 63 characters", app)})
		}
		envs = append(envs, paved.Environment{Name: e.Name, Namespace: e.Namespace, Server: e.Server})
	}

	ci := createInput{Labels: ai.Labels, Annotations: ai.Annotations, EntityRef: ai.EntityRef, TemplateRef: ai.TemplateRef, TaskID: ai.TaskID}
	labels, lerr := appLabels(ctx, ci)
	fields = append(fields, lerr...)
	annotations, aerr := appAnnotations(ctx, ci)
	fields = append(fields, aerr...)
	if ai.Owner != "" {
		annotations[paved.AnnotationOwner] = ai.Owner
	}
	sortFields(fields)

	var automated *paved.AutoSync
	if ai.Automated {
		automated = &paved.AutoSync{Prune: ai.Prune, SelfHeal: ai.SelfHeal}
	}
	req := paved.AppSetRequest{
		Template: paved.AppRequest{
			AppRef:          paved.AppRef{Instance: instance, Name: ai.Name, Project: ai.Project},
			Sources:         []paved.AppSource{{RepoURL: ai.RepoURL, Path: normalizePlaceholders(ai.Path), TargetRevision: normalizePlaceholders(ai.TargetRevision)}},
			CreateNamespace: ai.CreateNamespace,
			Automated:       automated,
			Labels:          labels,
			Annotations:     annotations,
			Upsert:          ai.Upsert,
		},
		Environments: envs,
	}
	return req, instance, fields
}

// placeholderRE matches {{.key}}; {{key}} (fasttemplate style) is accepted
// too and written as Go template.
var placeholderRE = regexp.MustCompile(`\{\{\.?([A-Za-z0-9_]*)\}\}`)

var placeholderKeys = map[string]bool{paved.AppSetKeyEnvironment: true, paved.AppSetKeyNamespace: true, paved.AppSetKeyServer: true}

// checkPlaceholders refuses what Argo CD's goTemplate would fail on only
// later, in the ApplicationSet controller, where the template's author would
// never see it: unknown keys and stray braces.
func checkPlaceholders(field, s string) []paved.FieldError {
	var fields []paved.FieldError
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if !placeholderKeys[m[1]] {
			fields = append(fields, paved.FieldError{Field: field, Message: fmt.Sprintf("unknown placeholder %s; use {{.environment}}, {{.namespace}} or {{.server}}", m[0])})
		}
	}
	// Any brace outside a placeholder is refused: a lone one next to a
	// placeholder ("{{{.namespace}}") opens a Go template action too.
	if rest := placeholderRE.ReplaceAllString(s, ""); strings.ContainsAny(rest, "{}") {
		fields = append(fields, paved.FieldError{Field: field, Message: "has a brace outside a placeholder; placeholders are {{.environment}}, {{.namespace}} and {{.server}}"})
	}
	return fields
}

func normalizePlaceholders(s string) string {
	return placeholderRE.ReplaceAllString(s, "{{.$1}}")
}

func appSetOutput(set paved.AppSet) map[string]any {
	apps := make([]any, 0, len(set.Apps))
	for _, a := range set.Apps {
		apps = append(apps, map[string]any{"name": a.Name, "environment": a.Environment, "namespace": a.Namespace, "server": a.Server, "url": a.URL})
	}
	return map[string]any{
		"instance":     set.Instance,
		"name":         set.Name,
		"namespace":    set.Namespace,
		"project":      set.Project,
		"created":      set.Created,
		"updated":      set.Updated,
		"applications": apps,
	}
}
