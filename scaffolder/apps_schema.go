package scaffolder

import (
	"github.com/paved-dev/paved"
)

// The schemas and decoded inputs of the app actions (create, get, sync,
// wait, delete) and the output values they share.

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
		"waitStatus":           Schema{"type": "string", "enum": []string{"healthy", "progressing"}, "description": "After a wait: healthy, or progressing when the wait ended at the calling client's own limit (an MCP client's request timeout) before the application was Synced and Healthy; absent without a wait."},
		"waitMessage":          Schema{"type": "string", "description": "With waitStatus progressing: the application's state and how to keep waiting."},
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
