// Command containerd-shim-cmc-v1 is refval's containerd runtime shim and
// runc wrapper: it measures every container at start. See package shim and
// docs/shim.md.
package main

import (
	"os"

	"github.com/refval/refval/shim"
	// The C front: pass-through runc calls exec the real runc before the
	// Go runtime starts (built with cgo; without, the Go wrapper alone).
	_ "github.com/refval/refval/shim/front"
)

func main() { os.Exit(shim.Main(os.Args)) }
