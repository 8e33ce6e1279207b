package main

import (
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/scaffolder"
)

// appSetActions wires paved:create-argocd-appset: the Argo CD client for api
// mode and, for gitops mode, the repository and settings gitops mode of
// create-argocd-app writes Applications with.
func appSetActions(argo *argocd.Client, apps scaffolder.AppCommitter, locks scaffolder.Locks) []scaffolder.Action {
	o := scaffolder.AppSetActionsOptions{AppSets: argo, Locks: locks}
	if w, ok := apps.(gitops.AppWriter); ok {
		o.GitOps = scaffolder.AppSetWriter{Repo: w.Repo, DefaultProject: w.DefaultProject, Namespace: w.Namespace, Review: w.Review, BranchPrefix: w.BranchPrefix}
	}
	return scaffolder.AppSetActions(o)
}
