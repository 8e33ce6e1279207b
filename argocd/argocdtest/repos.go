package argocdtest

import (
	"context"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/repository"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v2/reposerver/apiclient"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// repoService is RepositoryService's GetAppDetails, as argocd-server and its
// repo server answer it for a new application (no appName): the project must
// exist and admit the repository, and the source's path must exist (a path
// made missing with SetMissing fails as the repo server's checkout does).
type repoService struct {
	repository.UnimplementedRepositoryServiceServer
	s *Server
}

func (r *repoService) GetAppDetails(_ context.Context, q *repository.RepoAppDetailsQuery) (*apiclient.RepoAppDetailsResponse, error) {
	if q.Source == nil {
		return nil, status.Errorf(codes.InvalidArgument, "missing payload in request")
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	proj, ok := s.projects[q.AppProject]
	if !ok {
		return nil, projectNotFound(q.AppProject)
	}
	if !proj.IsSourcePermitted(v1alpha1.ApplicationSource{RepoURL: q.Source.RepoURL}) {
		return nil, status.Errorf(codes.PermissionDenied, "repository '%s' not permitted in project '%s'", q.Source.RepoURL, q.AppProject)
	}
	if q.Source.Chart == "" && s.missing[q.Source.RepoURL+"\x00"+q.Source.Path] {
		// The repo server's error reaches the caller as argocd-server got it.
		return nil, status.Errorf(codes.Unknown, "%s: app path does not exist", q.Source.Path)
	}
	if q.Source.Chart != "" {
		return &apiclient.RepoAppDetailsResponse{Type: string(v1alpha1.ApplicationSourceTypeHelm), Helm: &apiclient.HelmAppSpec{Name: q.Source.Chart}}, nil
	}
	return &apiclient.RepoAppDetailsResponse{Type: string(v1alpha1.ApplicationSourceTypeDirectory), Directory: &apiclient.DirectoryAppSpec{}}, nil
}
