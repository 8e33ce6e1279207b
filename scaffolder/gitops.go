package scaffolder

import (
	"context"

	"github.com/paved-dev/paved"
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
}

var _ AppCommitter = gitops.AppWriter{}

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
	project := req.Project
	return map[string]any{
		"instance":     req.Instance,
		"name":         req.Name,
		"namespace":    req.Namespace,
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
	}, nil
}
