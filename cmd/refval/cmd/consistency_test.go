package cmd

import (
	"io"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagShorthandsConsistent checks that a shorthand means the same flag
// in every command: "-o json" must never write a file named "json" in one
// command while choosing the output format in another.
func TestFlagShorthandsConsistent(t *testing.T) {
	want := map[string]string{"o": "output", "q": "quiet", "h": "help"}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.InitDefaultHelpFlag()
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Shorthand != "" && want[f.Shorthand] != f.Name {
				t.Errorf("%s: -%s is --%s; a shorthand must mean the same flag in every command (%v)", c.CommandPath(), f.Shorthand, f.Name, want)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(New(nil, io.Discard, io.Discard))
}
