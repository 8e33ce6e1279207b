package main

import (
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/guardrail"
	"github.com/paved-dev/paved/scaffolder"
)

var _ scaffolder.AppSets = (*argocd.Client)(nil)

// appSetActions wires paved:create-argocd-appset: the Argo CD client for api
// mode and, for gitops mode, the writer create-argocd-app commits
// Applications with, and the guardrails create-argocd-app applies.
func appSetActions(argo *argocd.Client, w gitops.Writer, locks scaffolder.Locks, guards *guardrail.Set, rules scaffolder.AppRules) []scaffolder.Action {
	return scaffolder.AppSetActions(scaffolder.AppSetActionsOptions{AppSets: argo, GitOps: w, Locks: locks, Guardrails: guards, Approvals: rules})
}
