package argocdtest

import (
	"context"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MethodAppRevisionMetadata is ApplicationService.RevisionMetadata, a key of Calls.
const MethodAppRevisionMetadata = "/application.ApplicationService/RevisionMetadata"

// SetCommitDate makes revision (a commit SHA, as the app's history holds
// it) known to the repo server, authored at.
func (s *Server) SetCommitDate(revision string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits[revision] = at
}

// SetHealth plays the controller assessing an application's health: healthStatus
// (Healthy, Degraded, Progressing…) with its transition time at, reconciled
// at at; the watchers get the change.
func (s *Server) SetHealth(namespace, name, healthStatus string, at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appKey{s.appNamespace(namespace), name}]
	if !ok {
		return false
	}
	t := metav1.NewTime(at)
	a.Status.Health = v1alpha1.HealthStatus{Status: health.HealthStatusCode(healthStatus), LastTransitionTime: &t}
	a.Status.ReconciledAt = &t
	s.publishLocked()
	return true
}

// SetCondition plays the controller reporting a condition on an
// application (ComparisonError when its source path does not exist, say);
// the watchers get the change.
func (s *Server) SetCondition(namespace, name, conditionType, message string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appKey{s.appNamespace(namespace), name}]
	if !ok {
		return false
	}
	now := metav1.Now()
	a.Status.Conditions = append(a.Status.Conditions, v1alpha1.ApplicationCondition{Type: conditionType, Message: message, LastTransitionTime: &now})
	s.publishLocked()
	return true
}

// RevisionMetadata is ApplicationService.RevisionMetadata: the author, date
// and message of a revision of the application's source, as the repo
// server reads them from git; a revision the repository lacks fails as
// Argo CD's does (Unknown, from the repo server).
func (v *appService) RevisionMetadata(ctx context.Context, q *application.RevisionMetadataQuery) (*v1alpha1.RevisionMetadata, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.lookup(q.GetAppNamespace(), q.GetName(), q.GetProject()); err != nil {
		return nil, err
	}
	at, ok := s.commits[q.GetRevision()]
	if !ok {
		return nil, status.Errorf(codes.Unknown, "error getting revision metadata: failed to get revision metadata for %q: revision not found", q.GetRevision())
	}
	return &v1alpha1.RevisionMetadata{Author: "Jane Doe <jane@example.com>", Date: metav1.NewTime(at), Message: "change " + q.GetRevision()[:min(7, len(q.GetRevision()))]}, nil
}
