//go:build tools

// Package kustomize pins the kustomize command that Argo CD's repo-server
// shells out to for Kustomize sources (the version Argo CD v2.14 ships with);
// Debian has no package.
package kustomize

import _ "sigs.k8s.io/kustomize/kustomize/v5"
