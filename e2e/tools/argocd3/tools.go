//go:build tools

// Package argocd3 pins the Argo CD 3 command the end-to-end stack runs when
// asked for Argo CD 3 (PAVED_E2E_ARGOCD=v3): one binary that becomes
// argocd-server, argocd-repo-server, argocd-application-controller or
// argocd-applicationset-controller according to ARGOCD_BINARY_NAME.
//
// v3.2.11 is the newest Argo CD 3 that builds from the Go module proxy: from
// v3.3 on, argo-cd replaces gitops-engine with an in-repository copy that the
// published module leaves out (and v3.2.12's module does not compile).
package argocd3

import _ "github.com/argoproj/argo-cd/v3/cmd"
