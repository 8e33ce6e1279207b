package argocd

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paved-dev/paved"
)

// specDifferent starts Argo CD's refusal to overwrite an application
// (server/application Create without upsert).
const specDifferent = "existing application spec is different"

// isConnUnavailable reports a call that did not reach Argo CD: gRPC's
// Unavailable, which a connection in reconnect back-off answers at once.
func isConnUnavailable(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.Unavailable
}

func isUnauthenticated(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.Unauthenticated
}

// mapError gives an Argo CD error a paved code and keeps Argo CD's message
// as the caller-facing text: users asked to see Argo CD's real error. token
// is scrubbed from anything shown, in case a message ever echoes it.
func (in *instance) mapError(err error, token string) error {
	if err == nil {
		return nil
	}
	var pe *paved.Error
	if errors.As(err, &pe) {
		return err
	}
	name := in.cfg.Name
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return unavailable(name, err)
		}
		// Not a gRPC status: apiclient failed to dial or to handshake.
		return paved.Wrap(paved.EUnavailable, err, "Argo CD instance %q is unreachable: %s", name, redact(err.Error(), token))
	}
	msg := redact(st.Message(), token)
	switch st.Code() {
	case codes.InvalidArgument:
		if strings.Contains(msg, specDifferent) {
			return paved.Wrap(paved.EConflict, err, "%s", msg)
		}
		return paved.Wrap(paved.EInvalid, err, "%s", msg)
	case codes.NotFound:
		return paved.Wrap(paved.ENotFound, err, "%s", msg)
	case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
		return paved.Wrap(paved.EConflict, err, "%s", msg)
	case codes.PermissionDenied:
		return paved.Wrap(paved.EForbidden, err, "Argo CD instance %q: %s", name, msg)
	case codes.Unauthenticated:
		return paved.Wrap(paved.EUnavailable, err, "Argo CD instance %q refused paved's credentials: %s", name, msg)
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted:
		return paved.Wrap(paved.EUnavailable, err, "Argo CD instance %q is unavailable: %s", name, msg)
	default:
		// Unknown and Internal carry Argo CD's own failures (repo server,
		// Kubernetes API); the caller can do nothing but retry later, and
		// should still read what Argo CD said.
		return paved.Wrap(paved.EUnavailable, err, "Argo CD instance %q failed: %s", name, msg)
	}
}

func unavailable(name string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return paved.Wrap(paved.EUnavailable, err, "Argo CD instance %q did not answer in time", name)
	}
	return paved.Wrap(paved.EUnavailable, err, "call to Argo CD instance %q was cancelled", name)
}

func redact(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "[redacted]")
}
