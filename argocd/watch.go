package argocd

import (
	"context"
	"errors"
	"io"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paved-dev/paved"
)

// The event types of WatchApps, as Kubernetes and Argo CD name them.
const (
	EventAdded    = "ADDED"
	EventModified = "MODIFIED"
	EventDeleted  = "DELETED"
)

// WatchApps follows Argo CD's application watch stream
// (ApplicationService.Watch) for the applications matching a label selector
// and, when given, one of the projects, and calls event for each change until
// ctx ends (nil) or the stream breaks (an error, for the caller to back off
// and watch again). Argo CD first sends every matching application as ADDED,
// so a new watch also reports what changed while none was open, except
// deletions. A deleted application comes with its last state.
//
// An instance that does not serve the stream (Unimplemented, or a proxy that
// garbles it: Unknown) gives EInvalid, and an account that may not use it
// EForbidden; both carry paved.ErrCannotWatch: watching again will not help.
func (c *Client) WatchApps(ctx context.Context, instance, selector string, projects []string, event func(typ string, app paved.App)) error {
	in, err := c.instance(instance)
	if err != nil {
		return paved.MarkCannotWatch(err)
	}
	q := &application.ApplicationQuery{Projects: projects}
	if selector != "" {
		q.Selector = &selector
	}
	return in.watch(ctx, q, event, in.usesLogin())
}

func (in *instance) watch(ctx context.Context, q *application.ApplicationQuery, event func(string, paved.App), retry bool) error {
	// The connect phase gets the call timeout; the stream itself lives as
	// long as ctx.
	actx, span := in.startSpan(ctx, "application.ApplicationService/Watch")
	actx, cancel := context.WithTimeout(actx, in.cfg.Timeout)
	a, err := in.acquire(actx)
	cancel()
	endSpan(span, err)
	span.End()
	if err != nil {
		return err
	}
	defer in.release(a)
	stream, err := a.apps.Watch(ctx, q)
	received := false
	for err == nil {
		var ev *v1alpha1.ApplicationWatchEvent
		if ev, err = stream.Recv(); err == nil {
			received = true
			event(string(ev.Type), in.toApp(&ev.Application, in.cfg.AppNamespace))
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	// Argo CD checks the session when the stream opens, so a refused
	// session shows before the first event.
	if isUnauthenticated(err) && in.usesLogin() && !received {
		in.invalidate(a)
		if retry {
			in.log.Info("Argo CD refused the session; logging in again", "instance", in.cfg.Name)
			return in.watch(ctx, q, event, false)
		}
	}
	return in.watchError(err, a.token)
}

func (in *instance) watchError(err error, token string) error {
	if errors.Is(err, io.EOF) {
		return paved.Errorf(paved.EUnavailable, "Argo CD instance %q ended the watch stream", in.cfg.Name)
	}
	if st, ok := status.FromError(err); ok && (st.Code() == codes.Unimplemented || st.Code() == codes.Unknown) {
		return paved.MarkCannotWatch(paved.Wrap(paved.EInvalid, err, "Argo CD instance %q does not serve the application watch stream: %s",
			in.cfg.Name, redact(st.Message(), token)))
	}
	err = in.mapError(err, token)
	if paved.ErrorCode(err) == paved.EForbidden {
		return paved.MarkCannotWatch(err)
	}
	return err
}
