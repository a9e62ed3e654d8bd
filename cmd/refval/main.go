// Command refval produces reference values for containers and the signed
// manifests that carry them. See "refval --help" and docs/cli.
package main

import (
	"os"

	"github.com/refval/refval/cmd/refval/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
