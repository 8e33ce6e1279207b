package argocdtest

import (
	"context"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/session"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/version"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

type sessionService struct {
	session.UnimplementedSessionServiceServer
	s *Server
}

type versionService struct {
	version.UnimplementedVersionServiceServer
	s *Server
}

// Create is SessionService.Create: a local-account login.
func (v *sessionService) Create(ctx context.Context, q *session.SessionCreateRequest) (*session.SessionResponse, error) {
	if q.Token != "" {
		return nil, status.Errorf(codes.Unauthenticated, "token-based session creation no longer supported. please upgrade argocd cli to v0.7+")
	}
	if q.Username == "" || q.Password == "" {
		return nil, status.Errorf(codes.Unauthenticated, "no credentials supplied")
	}
	if v.s.opts.Password == "" || q.Username != v.s.opts.Username || q.Password != v.s.opts.Password {
		return nil, status.Errorf(codes.Unauthenticated, "Invalid username or password")
	}
	token, err := v.s.issue(q.Username)
	if err != nil {
		return nil, err
	}
	return &session.SessionResponse{Token: token}, nil
}

// Delete is SessionService.Delete, which only clears a browser cookie.
func (v *sessionService) Delete(context.Context, *session.SessionDeleteRequest) (*session.SessionResponse, error) {
	return &session.SessionResponse{}, nil
}

// GetUserInfo is SessionService.GetUserInfo.
func (v *sessionService) GetUserInfo(ctx context.Context, _ *session.GetUserInfoRequest) (*session.GetUserInfoResponse, error) {
	user, _ := ctx.Value(claimsKey{}).(string)
	return &session.GetUserInfoResponse{LoggedIn: true, Username: user, Iss: "argocd"}, nil
}

// Version is VersionService.Version.
func (v *versionService) Version(context.Context, *emptypb.Empty) (*version.VersionMessage, error) {
	return &version.VersionMessage{Version: v.s.opts.Version, Platform: "linux/amd64", GoVersion: "argocdtest"}, nil
}
