//go:build tools

// Package kube pins the Kubernetes control-plane commands that the end-to-end
// stack runs; the blank imports make them part of this module's build list.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
