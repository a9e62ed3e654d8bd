// Command seccompgen-2.2 writes containerd v2.2.1's default seccomp
// profile (see package seccompgen).
package main

import (
	"github.com/refval/refval/engine/internal/seccompgen"

	"github.com/containerd/containerd/v2/contrib/seccomp"
)

func main() {
	seccompgen.Main("2.2", "github.com/containerd/containerd/v2@v2.2.1", seccomp.DefaultProfile)
}
