//go:build tools

// Package gitea pins the Gitea server that the end-to-end stack runs as the
// forge of GitOps review mode: a real Gitea on loopback (SQLite), whose pull
// requests paved opens and whose git repositories Argo CD syncs from.
package gitea

import _ "code.gitea.io/gitea"
