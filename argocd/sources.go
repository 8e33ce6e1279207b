package argocd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/repository"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paved-dev/paved"
)

// What Argo CD's repo server says of a source that cannot resolve, by the
// field at fault. Any other failure of the repo server (a git host down, a
// repo server restarting) is not the caller's input: it stays an outage.
var sourceFaults = []struct{ field, says string }{
	{"path", "app path does not exist"},
	{"path", "app path is not a directory"},
	{"path", "app path is absolute"},
	{"path", "app path outside root"},
	{"targetRevision", "unable to resolve"},
	{"repoURL", "repository not found"},
}

// CheckSources asks the instance's repo server whether each source of req
// resolves, with RepositoryService.GetAppDetails (the call Argo CD's UI makes
// while an application is being filled in), before paved commits an
// Application that Argo CD would only refuse later (gitops mode). A source
// that does not resolve is an EInvalid naming sources.<i>.<field> with Argo
// CD's message; several are reported at once. Sources that only lend their
// repository to others (ref, no path or chart) render nothing and are not
// asked about.
//
// The check is made as for a new application (no application name): Argo
// CD refuses to describe a source that an existing application does not
// have, which would refuse every upsert. The account needs repositories,
// get and applications, create in the project.
func (c *Client) CheckSources(ctx context.Context, req paved.AppRequest) error {
	in, err := c.instance(req.Instance)
	if err != nil {
		return err
	}
	proj := in.project(req.Project)
	app, err := BuildApplication(req, in.cfg.DefaultProject)
	if err != nil {
		return err
	}
	var bad []paved.FieldError
	for i, src := range app.Spec.GetSources() {
		if src.Path == "" && src.Chart == "" {
			continue
		}
		q := &repository.RepoAppDetailsQuery{Source: &src, AppProject: proj, SourceIndex: int32(i)}
		err := in.call(ctx, "repository.RepositoryService/GetAppDetails", func(ctx context.Context, a *authed) error {
			_, err := a.repos.GetAppDetails(ctx, q)
			return err
		})
		if err == nil {
			continue
		}
		fe, ok := sourceFault(err, fmt.Sprintf("sources.%d", i), in.cfg.Token)
		if !ok {
			return err
		}
		bad = append(bad, fe)
	}
	if len(bad) > 0 {
		return paved.InvalidFields(bad...)
	}
	return nil
}

// sourceFault tells a source the repo server cannot resolve (the caller's
// input) from an outage or a refusal of paved's account, which mapError has
// already given their codes.
func sourceFault(err error, field string, token string) (paved.FieldError, bool) {
	var gs interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &gs) || gs.GRPCStatus() == nil {
		return paved.FieldError{}, false
	}
	st := gs.GRPCStatus()
	fault := func(f string) (paved.FieldError, bool) {
		return paved.FieldError{Field: field + "." + f, Message: "Argo CD cannot resolve the source: " + redact(st.Message(), token)}, true
	}
	switch st.Code() {
	case codes.Unknown, codes.Internal, codes.InvalidArgument, codes.NotFound:
		for _, f := range sourceFaults {
			if strings.Contains(st.Message(), f.says) {
				return fault(f.field)
			}
		}
	case codes.PermissionDenied:
		// The project's sourceRepos; paved's own RBAC is a plain
		// "permission denied", which stays a 403.
		if strings.Contains(st.Message(), "not permitted in project") {
			return fault("repoURL")
		}
	}
	return paved.FieldError{}, false
}
