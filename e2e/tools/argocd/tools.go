//go:build tools

// Package argocd pins the Argo CD command that the end-to-end stack runs: one
// binary that becomes argocd-server, argocd-repo-server or
// argocd-application-controller according to ARGOCD_BINARY_NAME.
package argocd

import _ "github.com/argoproj/argo-cd/v2/cmd"
