// Command refval produces reference values for containers and the signed
// manifests that carry them. See "refval --help" and docs/cli.
package main

import (
	"os"

	"github.com/refval/refval/cmd/refval/cmd"
)

func main() {
	// SIGINT and SIGTERM cancel the running command, which cleans up
	// before refval exits (cmd.Run).
	os.Exit(cmd.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
