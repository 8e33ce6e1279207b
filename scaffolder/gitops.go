package scaffolder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/forge"
	"github.com/paved-dev/paved/gitops"
)

// Modes of paved:create-argocd-app.
const (
	ModeAPI    = "api"    // create the Application through the Argo CD API
	ModeGitOps = "gitops" // commit it to the GitOps repository for an app-of-apps to pick up
)

// AppCommitter writes an Application to the GitOps repository (gitops mode).
type AppCommitter interface {
	CommitApp(ctx context.Context, req paved.AppRequest) (gitops.Result, error)
	AppPath(name string) string
	Project(requested string) string
}

var _ AppCommitter = gitops.Writer{}

// PullRequests opens (or finds and updates) the pull request of a review
// branch on the forge that hosts the GitOps repository.
type PullRequests interface {
	EnsurePullRequest(ctx context.Context, s forge.Spec) (pr paved.PullRequest, created bool, err error)
	// PullRequest reads one by number (wait-argocd-app's pullRequest).
	PullRequest(ctx context.Context, number int) (paved.PullRequest, error)
}

var _ PullRequests = (*forge.Client)(nil)

// SourceChecker asks Argo CD whether each source of an application resolves
// (its path exists at its revision): the check Argo CD makes when an
// application is created through its API, which a commit to the GitOps
// repository skips. A source that does not is an EInvalid naming
// sources.<i>.<field>; an unreachable Argo CD is EUnavailable.
type SourceChecker interface {
	CheckSources(ctx context.Context, req paved.AppRequest) error
}

// checkSources is gitops mode's check of the sources before the commit, on
// the instance the request names or the only one configured: Argo CD reads
// the repository, so a path missing there is better refused now, with Argo
// CD's reason in the task log, than committed and reported only later on
// the app card. With no instance (or several and none named) there is
// nothing to ask. An Argo CD that does not answer fails the call (503): the
// commit waits for the check rather than go out unchecked. single names the
// fields as the input did (source rather than sources.0).
func (h *appActions) checkSources(ctx context.Context, req paved.AppRequest, single bool) error {
	if h.Sources == nil || h.Apps == nil {
		return nil
	}
	all := h.Apps.Instances()
	if req.Instance != "" && !slices.Contains(all, req.Instance) {
		return nil
	}
	if req.Instance == "" {
		if len(all) != 1 {
			return nil
		}
		req.Instance = all[0]
	}
	req.Project = h.GitOps.Project(req.Project) // the project of the committed Application
	err := h.Sources.CheckSources(ctx, req)
	var pe *paved.Error
	if !single || !errors.As(err, &pe) || len(pe.Fields) == 0 {
		return err
	}
	fields := make([]paved.FieldError, len(pe.Fields))
	for i, f := range pe.Fields {
		if rest, ok := strings.CutPrefix(f.Field, "sources.0."); ok {
			f.Field = "source." + rest
		}
		fields[i] = f
	}
	return paved.InvalidFields(fields...)
}

// gitOpsOff is the refusal of mode: gitops when paved has no GitOps repository.
var gitOpsOff = paved.FieldError{Field: "mode", Message: "gitops mode is not configured in paved (gitops.url)"}

// gitOpsOutputs are the output fields of an action that commits to the GitOps
// repository: file names the object's file, commit what the commit did.
// They are added to props, which is returned.
func gitOpsOutputs(props Schema, file, commit string) Schema {
	props["commit"] = Schema{"type": "string", "description": "gitops mode: the commit that " + commit + "."}
	props["branch"] = Schema{"type": "string", "description": "gitops mode: the branch of that commit."}
	props["compareUrl"] = Schema{"type": "string", "description": "gitops mode with review: the link to review the branch."}
	props["path"] = Schema{"type": "string", "description": "gitops mode: " + file + " in the repository."}
	props["pullRequestUrl"] = Schema{"type": "string", "description": "gitops mode with review and a forge configured: the pull (merge) request of the branch."}
	props["pullRequestNumber"] = Schema{"type": "integer", "description": "Its number (GitLab: the merge request's iid)."}
	props["pullRequestState"] = Schema{"type": "string", "description": "open, or merged when the same request was already merged."}
	return props
}

// checkGitOps returns the problems of a gitops-mode request: no Argo CD
// instance is needed, but nothing can be waited for either.
func (h *appActions) checkGitOps(ci createInput) []paved.FieldError {
	var fields []paved.FieldError
	if h.GitOps == nil {
		fields = append(fields, gitOpsOff)
	}
	if ci.CreateProject {
		fields = append(fields, paved.FieldError{Field: "createProject", Message: "cannot create a project in gitops mode: commit the AppProject to the GitOps repository or create it in Argo CD first"})
	}
	if ci.Wait {
		fields = append(fields, paved.FieldError{Field: "wait", Message: "cannot wait in gitops mode: Argo CD creates the application when it syncs the root application; use paved:wait-argocd-app in a later step"})
	}
	return fields
}

// commitApp is create-argocd-app in gitops mode. As in api mode, the same
// request again makes no commit and reports created=false, and a different
// spec is a conflict unless upsert is set.
func (h *appActions) commitApp(ctx context.Context, req paved.AppRequest) (map[string]any, error) {
	res, err := h.GitOps.CommitApp(ctx, req)
	if err != nil {
		return nil, err
	}
	project := h.GitOps.Project(req.Project)
	if req.Instance == "" && h.Apps != nil {
		// The instance whose root application picks the file up, when paved knows it.
		req.Instance, _ = pickInstance(h.Apps.Instances(), "")
	}
	var pr paved.PullRequest
	if h.PullRequests != nil && res.Base != "" {
		// A closed pull request is reported, not reopened: the caller decides.
		if pr, _, err = h.PullRequests.EnsurePullRequest(ctx, forge.Spec{Branch: res.Branch, Base: res.Base,
			Title: "paved: Argo CD application " + req.Name, Body: pullRequestBody(req, h.GitOps.AppPath(req.Name))}); err != nil {
			return nil, err
		}
		res.CompareURL = pr.URL
	}
	out := map[string]any{
		"name":         req.Name,
		"project":      project,
		"url":          res.CompareURL,
		"syncStatus":   "Unknown",
		"healthStatus": "Unknown",
		"revision":     res.Commit,
		"created":      res.Changed,
		"mode":         ModeGitOps,
		"commit":       res.Commit,
		"branch":       res.Branch,
		"compareUrl":   res.CompareURL,
		"path":         h.GitOps.AppPath(req.Name),
	}
	setIfKnown(out, "instance", req.Instance)
	setIfKnown(out, "namespace", req.Namespace)
	setIfKnown(out, "destinationNamespace", req.Destination.Namespace)
	if pr.Number != 0 {
		out["url"] = pr.URL
		out["pullRequestUrl"] = pr.URL
		out["pullRequestNumber"] = pr.Number
		out["pullRequestState"] = pr.State
	}
	return out, nil
}

// pullRequestBody tells the reviewer what they approve and who asked; the
// values are data (the forge renders Markdown, so they go in code spans).
func pullRequestBody(req paved.AppRequest, path string) string {
	who := req.Annotations[paved.AnnotationUserRef]
	if who == "" {
		who = "an unknown user"
	}
	return fmt.Sprintf("Adds the Argo CD application `%s` (`%s`), requested by `%s` through paved.\n\n"+
		"Once merged, the root application creates it and Argo CD syncs it; `paved:wait-argocd-app` with `appear: true` follows it to Synced and Healthy.\n",
		codeSpan(req.Name), codeSpan(path), codeSpan(who))
}

// codeSpan keeps a value from closing its Markdown code span.
func codeSpan(s string) string {
	return strings.ReplaceAll(s, "`", "'")
}
