package argocd_test

import (
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/scaffolder"
)

// The scaffolder declares what it needs from an Argo CD client. The check
// lives in an external test package: scaffolder reaches argocd through
// gitops, so the adapter itself cannot import it.
var _ scaffolder.Apps = (*argocd.Client)(nil)
