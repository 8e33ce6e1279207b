package argocd

import (
	"context"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/paved-dev/paved"
)

// CommitTime returns when revision of an application's (first) source was
// committed, from Argo CD's revision metadata
// (GET /api/v1/applications/{name}/revisions/{revision}/metadata): the date
// of the commit as its git repository records it.
func (c *Client) CommitTime(ctx context.Context, ref paved.AppRef, revision string) (time.Time, error) {
	in, err := c.instance(ref.Instance)
	if err != nil {
		return time.Time{}, err
	}
	ns := in.namespace(ref.Namespace)
	q := &application.RevisionMetadataQuery{Name: &ref.Name, Revision: &revision, Project: ptr(in.project(ref.Project))}
	if ns != "" {
		q.AppNamespace = &ns
	}
	var md *v1alpha1.RevisionMetadata
	err = in.call(ctx, "application.ApplicationService/RevisionMetadata", func(ctx context.Context, a *authed) error {
		var err error
		md, err = a.apps.RevisionMetadata(ctx, q)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	if md.Date.IsZero() {
		return time.Time{}, paved.Errorf(paved.ENotFound, "Argo CD instance %q has no commit date for revision %q of %s", in.cfg.Name, revision, ref.Name)
	}
	return md.Date.Time, nil
}
