#!/usr/bin/env bash
# Installs the Debian packages the end-to-end stack runs (e2e/stack): etcd and
# redis as the stores of the Kubernetes API server and Argo CD, git for the
# fixture repositories and the git daemon, openssl for the API server's
# certificates. Quiet and quick when everything is already there.
# chromium (with a font, for readable failure screenshots) is the browser the
# adoption page's browser test drives (e2e/browser_test.go): playwright-core
# cannot download its own.
# gcc and libc6-dev build Gitea (e2e/tools/gitea) with cgo, for its SQLite driver.
set -euo pipefail

packages=(etcd-server redis-server git openssl ca-certificates chromium fonts-liberation gcc libc6-dev)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
# The packages' own services are not used (the stack starts its own on free
# ports); policy-rc.d keeps their post-install scripts from starting them.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod +x "$policy"
	made_policy=1
fi
trap '[ "$made_policy" = 1 ] && "${sudo[@]}" rm -f "$policy"' EXIT
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
