// Command containerd-shim-cmc-v1 is refval's containerd runtime shim and
// runc wrapper: it measures every container at start. See package shim and
// docs/shim.md.
package main

import (
	"os"

	"github.com/refval/refval/shim"
)

func main() { os.Exit(shim.Main(os.Args)) }
