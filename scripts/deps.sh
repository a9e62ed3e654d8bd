#!/usr/bin/env bash
# Installs what refval's tests and demo need and nothing else:
#   - Debian packages (real containerd 1.6, runc, umoci, skopeo, the
#     distribution registry, swtpm, tpm2-tools, busybox-static for test
#     images, htpasswd, openssl), with apt-get when running as root;
#   - containerd 2.x (containerd, ctr, containerd-shim-runc-v2) built with
#     `go install` from the Go module proxy into $REFVAL_CACHE.
# Not root: prints what is missing and exits 0; tests that need a missing
# part skip outside CI and fail in CI (CI=true).
set -euo pipefail

CONTAINERD2_VERSION=${CONTAINERD2_VERSION:-v2.4.2}
CACHE=${REFVAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refval}
PKGS=(containerd runc umoci skopeo docker-registry swtpm swtpm-tools tpm2-tools apache2-utils busybox-static openssl iproute2)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "deps: installing ${missing[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		# The Debian containerd package starts a system containerd; refval's
		# tests start their own on private sockets and never use it.
	else
		echo "deps: missing Debian packages (not root, not installing): ${missing[*]}" >&2
	fi
fi

bin="$CACHE/containerd-$CONTAINERD2_VERSION/bin"
if [ ! -x "$bin/containerd" ] || [ ! -x "$bin/ctr" ] || [ ! -x "$bin/containerd-shim-runc-v2" ]; then
	echo "deps: building containerd $CONTAINERD2_VERSION into $bin" >&2
	mkdir -p "$bin"
	GOBIN="$bin" CGO_ENABLED=0 GOFLAGS= go install -tags "no_btrfs no_devmapper no_zfs" \
		"github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD2_VERSION" \
		"github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD2_VERSION" \
		"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD2_VERSION"
fi
echo "$bin"
