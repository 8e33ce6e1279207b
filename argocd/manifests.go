package argocd

import (
	"encoding/json"

	"sigs.k8s.io/yaml"

	"github.com/paved-dev/paved"
)

// Manifests renders requests as the manifest files gitops mode commits
// (gitops.Renderer): the objects api mode creates, as YAML.
type Manifests struct{}

// Application renders req as an Argo CD Application manifest.
func (Manifests) Application(req paved.AppRequest, defaultProject, namespace string) ([]byte, error) {
	return ApplicationYAML(req, defaultProject, namespace)
}

// ApplicationSet renders req as an Argo CD ApplicationSet manifest.
func (Manifests) ApplicationSet(req paved.AppSetRequest, defaultProject, namespace string) ([]byte, error) {
	return ApplicationSetYAML(req, defaultProject, namespace)
}

// ApplicationYAML renders req as an Argo CD Application manifest, built by
// the same code as the Application api mode creates. Fields the API server
// fills (status, creation time) are left out, so the file reads as written.
func ApplicationYAML(req paved.AppRequest, defaultProject, namespace string) ([]byte, error) {
	app, err := BuildApplication(req, defaultProject)
	if err != nil {
		return nil, err
	}
	if app.Namespace == "" {
		app.Namespace = namespace
	}
	doc, err := ManifestDoc(app)
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(doc)
}

// ApplicationSetYAML renders req as an ApplicationSet manifest, built by the
// same code as the one api mode creates, without the fields the API server
// fills and without the generator's empty per-generator template.
func ApplicationSetYAML(req paved.AppSetRequest, defaultProject, namespace string) ([]byte, error) {
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
