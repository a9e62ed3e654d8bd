#!/usr/bin/env bash
# Installs what refval's tests and demo need and nothing else:
#   - Debian packages (real containerd 1.6, runc, umoci, skopeo, the
#     distribution registry, swtpm, tpm2-tools, busybox-static for test
#     images, htpasswd, openssl), with apt-get when running as root;
#   - containerd 2.x (containerd, ctr, containerd-shim-runc-v2) built with
#     `go install` from the Go module proxy into $REFVAL_CACHE;
#   - Debian's docker.io (dockerd 20.10.24) and nerdctl v2.2.1 built from the
#     Go module proxy into $REFVAL_CACHE, for the Docker and nerdctl tests
#     (internal/dockertest);
#   - the kubelet (for the Kubernetes fidelity test, internal/kubetest) built
#     from the k8s.io/kubernetes module of the Go module proxy into
#     $REFVAL_CACHE (about 8 minutes on 2 cores; cached).
# Not root: prints what is missing and exits 0; tests that need a missing
# part skip outside CI and fail in CI (CI=true).
set -euo pipefail

CONTAINERD2_VERSION=${CONTAINERD2_VERSION:-v2.4.2}
CACHE=${REFVAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refval}
PKGS=(containerd runc umoci skopeo docker-registry swtpm swtpm-tools tpm2-tools apache2-utils busybox-static openssl iproute2 containernetworking-plugins)
# docker: Debian's Docker 20.10.24 (dockerd, docker) for the Docker fidelity test (internal/dockertest).
PKGS+=(docker.io)
# gcc, libc6-dev: the shim's C front (shim/front) is built with cgo, statically.
PKGS+=(gcc libc6-dev)

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

# The kubelet. k8s.io/kubernetes is not meant to be `go install`ed: its go.mod
# replaces the 31 k8s.io/* staging modules with ./staging/src/k8s.io/X, which
# the module zip does not carry. So: download the module, copy it out of the
# read-only module cache, point every staging replace at the published
# k8s.io/X v0.<minor>.<patch> of the same release, and build cmd/kubelet.
KUBELET_VERSION=${KUBELET_VERSION:-v1.34.2}
kbin="$CACHE/kubelet-$KUBELET_VERSION"
if [ ! -x "$kbin/kubelet" ]; then
	echo "deps: building kubelet $KUBELET_VERSION into $kbin (takes several minutes)" >&2
	staging="v0.${KUBELET_VERSION#v1.}"
	dir=$(GOFLAGS= GOWORK=off go mod download -json "k8s.io/kubernetes@$KUBELET_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir" ] || { echo "deps: go mod download k8s.io/kubernetes@$KUBELET_VERSION failed" >&2; exit 1; }
	src=$(mktemp -d "${TMPDIR:-/tmp}/refval-kubelet.XXXXXX")
	trap 'chmod -R u+w "$src" 2>/dev/null; rm -rf "$src"' EXIT
	cp -r "$dir/." "$src/"
	chmod -R u+w "$src"
	sed -i -E "s#^(\s*)(k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+\$#\1\2 => \2 $staging#" "$src/go.mod"
	n=$(grep -cE "^\s*k8s\.io/[a-z0-9-]+ => k8s\.io/[a-z0-9-]+ $staging\$" "$src/go.mod" || true)
	[ "$n" -ge 31 ] || { echo "deps: expected 31 staging replaces in k8s.io/kubernetes go.mod, rewrote $n" >&2; exit 1; }
	mkdir -p "$kbin"
	(cd "$src" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 10 go build -o "$kbin/kubelet.tmp" ./cmd/kubelet)
	mv "$kbin/kubelet.tmp" "$kbin/kubelet"
fi
# nerdctl (for the nerdctl fidelity test, internal/dockertest). Built from the
# Go module proxy; its go.mod replaces the nested module mod/tigron by
# ./mod/tigron, which the module zip leaves out: it comes from the shared
# folder beside the checkout (shared/nerdctl/, `git archive v2.2.1 mod/tigron`
# of the public repository, Apache-2.0; REFVAL_SHARED names another place),
# checked by its SHA-256. Without it nerdctl is not built, and the nerdctl
# test skips outside CI and fails in CI, saying so.
NERDCTL_VERSION=${NERDCTL_VERSION:-v2.2.1}
nbin="$CACHE/nerdctl-$NERDCTL_VERSION"
SHARED=${REFVAL_SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared}
tigron="$SHARED/nerdctl/nerdctl-$NERDCTL_VERSION-mod-tigron.tar.gz"
if [ ! -x "$nbin/nerdctl" ] && [ ! -f "$tigron" ]; then
	echo "deps: $tigron is missing: nerdctl not built (its test skips outside CI, fails in CI)" >&2
elif [ ! -x "$nbin/nerdctl" ]; then
	echo "deps: building nerdctl $NERDCTL_VERSION into $nbin" >&2
	echo "f55fb82357466c61f50890a3dc88a915b8af5179c58f27b40197442090297bd2  $tigron" | sha256sum -c --quiet - ||
		{ echo "deps: $tigron: wrong SHA-256" >&2; exit 1; }
	ndir=$(GOFLAGS= GOWORK=off go mod download -json "github.com/containerd/nerdctl/v2@$NERDCTL_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$ndir" ] || { echo "deps: go mod download github.com/containerd/nerdctl/v2@$NERDCTL_VERSION failed" >&2; exit 1; }
	(
		nsrc=$(mktemp -d "${TMPDIR:-/tmp}/refval-nerdctl.XXXXXX")
		trap 'chmod -R u+w "$nsrc" 2>/dev/null; rm -rf "$nsrc"' EXIT
		cp -r "$ndir/." "$nsrc/"
		chmod -R u+w "$nsrc"
		tar -xzf "$tigron" -C "$nsrc"
		mkdir -p "$nbin"
		cd "$nsrc" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 10 go build -o "$nbin/nerdctl.tmp" ./cmd/nerdctl
		mv "$nbin/nerdctl.tmp" "$nbin/nerdctl"
	)
fi
echo "$bin"
echo "$kbin"
echo "$nbin"
