//go:build tools

// Package helm pins the helm command that Argo CD's repo-server shells out to
// for Helm sources (the version Argo CD v2.14 ships with); Debian has no package.
package helm

import _ "helm.sh/helm/v3/cmd/helm"
