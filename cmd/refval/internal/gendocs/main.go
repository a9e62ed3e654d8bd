// Command gendocs writes the Markdown reference of the refval CLI into the
// directory given as its argument (make docs writes docs/cli).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/refval/refval/cmd/refval/cmd"
	"github.com/spf13/cobra/doc"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DIR")
		os.Exit(2)
	}
	root := cmd.New(os.Stdin, io.Discard, io.Discard)
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
