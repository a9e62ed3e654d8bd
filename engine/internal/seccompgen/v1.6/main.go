// Command seccompgen-1.6 writes containerd v1.6.20's default seccomp
// profile (see package seccompgen).
package main

import (
	"github.com/refval/refval/engine/internal/seccompgen"

	"github.com/containerd/containerd/contrib/seccomp"
)

func main() {
	seccompgen.Main("1.6", "github.com/containerd/containerd@v1.6.20", seccomp.DefaultProfile)
}
