package argocdtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GenerateAppSet plays the ApplicationSet controller for a list generator
// with goTemplate: it renders one Application per element, owned by the
// ApplicationSet (an owner reference, as the controller sets), and starts an
// automated sync as the application controller would. Applications it
// generated before are left as they are. It returns the generated names.
// Tests call it where a real controller would have acted on its own.
func (s *Server) GenerateAppSet(namespace, name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.publishLocked()
	set, ok := s.appsets[appKey{s.appNamespace(namespace), name}]
	if !ok {
		return nil, fmt.Errorf("argocdtest: no ApplicationSet %s", name)
	}
	if !set.Spec.GoTemplate {
		return nil, fmt.Errorf("argocdtest: ApplicationSet %s: only goTemplate is rendered", name)
	}
	raw, err := json.Marshal(set.Spec.Template)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New(name).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("argocdtest: ApplicationSet %s: %w", name, err)
	}
	var names []string
	for _, g := range set.Spec.Generators {
		if g.List == nil {
			return nil, fmt.Errorf("argocdtest: ApplicationSet %s: only list generators are rendered", name)
		}
		for _, el := range g.List.Elements {
			var params map[string]any
			if err := json.Unmarshal(el.Raw, &params); err != nil {
				return nil, err
			}
			var b strings.Builder
			if err := tmpl.Execute(&b, params); err != nil {
				return nil, fmt.Errorf("argocdtest: ApplicationSet %s: %w", name, err)
			}
			var rendered v1alpha1.ApplicationSetTemplate
			if err := json.Unmarshal([]byte(b.String()), &rendered); err != nil {
				return nil, err
			}
			key := appKey{set.Namespace, rendered.Name}
			names = append(names, rendered.Name)
			if _, exists := s.apps[key]; exists {
				continue
			}
			a := &v1alpha1.Application{ObjectMeta: s.newMeta(rendered.Name, set.Namespace), Spec: rendered.Spec}
			a.Labels, a.Annotations, a.Finalizers = rendered.Labels, rendered.Annotations, rendered.Finalizers
			a.OwnerReferences = []metav1.OwnerReference{{
				APIVersion: "argoproj.io/v1alpha1", Kind: "ApplicationSet", Name: set.Name, UID: set.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}}
			a.Status = v1alpha1.ApplicationStatus{
				Sync:       v1alpha1.SyncStatus{Status: v1alpha1.SyncStatusCodeOutOfSync},
				Health:     v1alpha1.HealthStatus{Status: health.HealthStatusMissing},
				SourceType: sourceType(a.Spec.GetSource()),
			}
			s.apps[key] = a
			s.autoSync(a)
		}
	}
	return names, nil
}

// deleteOwnedApps is Kubernetes' garbage collector after an ApplicationSet
// is deleted: its Applications go too, through their finalizers.
func (s *Server) deleteOwnedApps(set *v1alpha1.ApplicationSet) {
	for key, a := range s.apps {
		for _, ref := range a.OwnerReferences {
			if ref.Kind != "ApplicationSet" || ref.Name != set.Name || ref.UID != set.UID {
				continue
			}
			if len(a.Finalizers) == 0 {
				delete(s.apps, key)
				break
			}
			now := metav1.Now()
			a.DeletionTimestamp = &now
			uid := a.UID
			s.after(s.opts.SyncDelay, func() {
				if cur, ok := s.apps[key]; ok && cur.UID == uid {
					delete(s.apps, key)
				}
			})
			break
		}
	}
}
