package scaffolder

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

// paved:wait-argocd-app and the wait loop create-argocd-app shares: poll
// until Synced and Healthy, or time out naming what Argo CD reports.

func (h *appActions) waitTimeout(w waitInput) (time.Duration, []paved.FieldError) {
	if w.WaitTimeout == "" {
		return h.DefaultWait, nil
	}
	d, err := time.ParseDuration(w.WaitTimeout)
	if err != nil || d <= 0 {
		return 0, []paved.FieldError{{Field: "waitTimeout", Message: "must be a positive duration such as 90s or 5m"}}
	}
	if d > h.MaxWait {
		return 0, []paved.FieldError{{Field: "waitTimeout", Message: fmt.Sprintf("must be at most %s", h.MaxWait)}}
	}
	return d, nil
}

// waitHealthy polls the application until it is Synced and Healthy. Argo CD
// being unavailable for a while (a restart) is retried until the deadline; a
// failed sync operation ends the wait at once with Argo CD's message.
//
// With appear, an application that does not exist (yet) is waited for too;
// while it does not, the pull request that adds it (when known) is looked at
// every few polls, and one closed without merging ends the wait.
func (h *appActions) waitHealthy(ctx context.Context, ref paved.AppRef, timeout time.Duration, appear appearing) (paved.App, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := h.PollInterval
	var last paved.App
	var lastErr error
	mayRead := !appear.read
	for poll := 0; ; poll++ {
		app, err := h.Apps.GetApp(ctx, ref, false)
		switch {
		case err == nil:
			if !mayRead {
				if err := paved.Authorize(ctx, permission.AppRead, AppPermissionResource(app)); err != nil {
					return paved.App{}, err
				}
				mayRead = true
			}
			last, lastErr = app, nil
			if app.Healthy() && app.OperationPhase != "Running" && app.OperationPhase != "Terminating" {
				return app, nil
			}
			if app.OperationPhase == "Failed" || app.OperationPhase == "Error" {
				msg := fmt.Sprintf("sync of application %q failed (%s)", ref.Name, app.OperationPhase)
				if len(app.Problems) > 0 {
					msg += ": " + problemList(app.Problems) + "; operation: " + app.OperationMessage
				} else {
					msg += ": " + app.OperationMessage
				}
				return app, paved.Errorf(paved.EConflict, "%s", msg)
			}
		case paved.ErrorCode(err) == paved.EUnavailable || ctx.Err() != nil:
			lastErr = err
		case appear.yes && paved.ErrorCode(err) == paved.ENotFound:
			// A gitops-mode app exists once the root application has synced
			// the commit: waiting for it is waiting until it appears.
			last, lastErr = paved.App{}, err
			if appear.pullRequest > 0 && poll%prEvery == 0 {
				if err := h.pullRequestAlive(ctx, ref, appear.pullRequest); err != nil {
					return last, err
				}
			}
		default:
			return app, err
		}
		if err := h.Sleep(ctx, interval); err != nil {
			return last, timeoutError(ref, timeout, last, lastErr)
		}
		if interval < 5*time.Second {
			interval += interval / 2
		}
	}
}

// appearing says whether a wait also waits for the application to appear,
// and the pull request whose merge makes it appear (0: none known).
type appearing struct {
	yes         bool
	pullRequest int
	// read asks for paved.argocd.app.read on the app once it is found (the
	// wait action; create and sync have decided on their own permission).
	read bool
}

// prEvery is how many polls apart a wait looks at the pull request: a forge's
// API is rate-limited (GitHub: 5,000 calls an hour per token).
const prEvery = 3

// pullRequestAlive is nil unless the pull request is closed without merging:
// then the application will not appear, and the wait ends with a conflict
// naming it. Not reaching the forge is not a reason to stop waiting.
func (h *appActions) pullRequestAlive(ctx context.Context, ref paved.AppRef, number int) error {
	pr, err := h.PullRequests.PullRequest(ctx, number)
	switch {
	case paved.ErrorCode(err) == paved.ENotFound:
		return paved.InvalidFields(paved.FieldError{Field: "pullRequest", Message: fmt.Sprintf("pull request #%d does not exist in the GitOps repository", number)})
	case err != nil || pr.State != paved.PullRequestClosed:
		return nil
	}
	return &paved.Error{Code: paved.EConflict, Message: fmt.Sprintf(
		"pull request #%d (%s) that adds application %q was closed without merging: the application will not appear", number, pr.URL, ref.Name)}
}

// waitOutput waits like waitHealthy and returns the app's outputs with
// waitStatus "healthy", within the caller's own limit (CallerWait): when that
// limit, not the timeout asked for, ends the wait of an app that has not
// failed, the outputs say "progressing", with its state and what to do next.
// A caller that leaves cancels the wait with its request.
func (h *appActions) waitOutput(ctx context.Context, ref paved.AppRef, timeout time.Duration, appear appearing) (paved.App, map[string]any, error) {
	limit := timeout
	if p, ok := paved.PrincipalFrom(ctx); ok && p.Kind == paved.PrincipalPlugin {
		if d := h.CallerWait[p.Subject]; d > 0 && d < timeout {
			limit = d
		}
	}
	app, err := h.waitHealthy(ctx, ref, limit, appear)
	if err == nil {
		out := appOutputValues(app)
		out["waitStatus"] = "healthy"
		return app, out, nil
	}
	if limit == timeout || paved.ErrorCode(err) != paved.ETimeout || ctx.Err() != nil || app.Name == "" {
		return app, nil, err
	}
	out := appOutputValues(app)
	out["waitStatus"] = "progressing"
	out["waitMessage"] = fmt.Sprintf("application %q still progressing after %s (sync=%s health=%s), the longest one call from this caller waits; "+
		"call paved:wait-argocd-app again to keep waiting", ref.Name, limit, orUnknown(app.SyncStatus), orUnknown(app.HealthStatus))
	return app, out, nil
}

func timeoutError(ref paved.AppRef, timeout time.Duration, last paved.App, lastErr error) error {
	msg := fmt.Sprintf("timed out after %s waiting for application %q to be Synced and Healthy", timeout, ref.Name)
	if last.Name != "" {
		msg += fmt.Sprintf(": sync=%s health=%s", orUnknown(last.SyncStatus), orUnknown(last.HealthStatus))
		if len(last.Problems) > 0 {
			msg += "; resources: " + problemList(last.Problems)
		}
		if last.OperationPhase != "" {
			msg += fmt.Sprintf("; last operation %s: %s", last.OperationPhase, last.OperationMessage)
		}
	}
	if lastErr != nil {
		msg += "; last error: " + paved.ErrorMessage(lastErr)
	}
	return &paved.Error{Code: paved.ETimeout, Message: msg, Err: lastErr}
}

// problemList lists the resources in trouble for a wait's error message.
// They come before the operation's message, which often repeats them at
// length: the actions registry path shows only the first 400 bytes of the
// message in the task log (see server/reason.go).
func problemList(ps []paved.AppProblem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

func (h *appActions) wait() Action {
	props := refProps()
	props["timeout"] = pattern(str("Timeout", "How long to wait, e.g. 90s or 5m (default 3m)."), durationRE, 32)
	props["appear"] = boolean("Wait for it to appear", "The application may not exist yet: a gitops-mode app (or one a pull request adds) appears when the root application syncs the commit. Without it, a missing application is a 404 at once.", false)
	props["pullRequest"] = Schema{"type": "integer", "minimum": 1, "title": "Pull request",
		"description": "The pull request that adds the application (create-argocd-app's pullRequestNumber in gitops review mode); implies appear. While the application has not appeared, the pull request closed without merging ends the wait with a 409 naming it."}
	return Action{
		Name:        "wait-argocd-app",
		Title:       "Wait for an Argo CD application",
		Description: "Waits until an Argo CD Application is Synced and Healthy; fails with a clear timeout that includes the last operation's message.",
		Attributes:  Attributes{ReadOnly: true, Idempotent: true},
		Input:       object(props, "name"),
		Output:      appOutput(nil),
		Examples: []Example{{
			Description: "Wait up to five minutes.",
			Example:     "steps:\n  - id: wait\n    action: paved:wait-argocd-app\n    input:\n      name: payments\n      timeout: 5m",
			Input:       map[string]any{"name": "payments", "timeout": "5m"},
		}},
		Handler: func(ctx context.Context, in Input) (map[string]any, error) {
			var wi struct {
				appRefInput
				Timeout     string `json:"timeout"`
				Appear      bool   `json:"appear"`
				PullRequest int    `json:"pullRequest"`
			}
			if err := in.Decode(&wi); err != nil {
				return nil, err
			}
			ref, err := h.ref(wi.appRefInput)
			if err != nil {
				return nil, err
			}
			timeout, fields := h.waitTimeout(waitInput{WaitTimeout: wi.Timeout})
			if len(fields) > 0 {
				fields[0].Field = "timeout"
				return nil, paved.InvalidFields(fields...)
			}
			if wi.PullRequest > 0 && h.PullRequests == nil {
				return nil, paved.InvalidFields(paved.FieldError{Field: "pullRequest", Message: "paved opens no pull requests (gitops.pullRequests is not configured)"})
			}
			_, out, err := h.waitOutput(ctx, ref, timeout, appearing{yes: wi.Appear || wi.PullRequest > 0, pullRequest: wi.PullRequest, read: true})
			return out, err
		},
	}
}
