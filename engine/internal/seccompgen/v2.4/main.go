// Command seccompgen-2.4 writes containerd v2.4.2's default seccomp
// profile (see package seccompgen).
package main

import (
	"github.com/refval/refval/engine/internal/seccompgen"

	"github.com/containerd/containerd/v2/contrib/seccomp"
)

func main() {
	seccompgen.Main("2.4", "github.com/containerd/containerd/v2@v2.4.2", seccomp.DefaultProfile)
}
