package cmd

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
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

// TestUnknownSubcommand checks that a misspelt subcommand is a usage error
// at every level, not a help text with exit 0.
func TestUnknownSubcommand(t *testing.T) {
	for _, args := range [][]string{{"nosuch"}, {"manifest", "nosuch"}, {"completion", "nosuch"}, {"manifest", "craete", "--name", "x"}} {
		out, errs, code := runCLI(t, args...)
		if code != ExitUsage || out != "" || !strings.Contains(errs, "unknown") {
			t.Errorf("%q: exit %d, stdout %d bytes, stderr %q; want exit 2, nothing on stdout", args, code, len(out), errs)
		}
	}
	for _, args := range [][]string{{"manifest"}, {"completion"}, {"manifest", "--help"}} {
		if out, errs, code := runCLI(t, args...); code != ExitOK || !strings.Contains(out, "Available Commands") {
			t.Errorf("%q: exit %d, stderr %q; want help on stdout, exit 0", args, code, errs)
		}
	}
}

// TestExitCodeByType checks that an operation failing with a message that
// happens to read like a cobra usage error still exits 1, and that the
// command-line errors exit 2.
func TestExitCodeByType(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  error
		want int
	}{
		{[]string{"fail"}, &os.PathError{Op: "read", Path: "f", Err: syscall.EINVAL}, ExitFailure}, // "invalid argument"
		{[]string{"fail"}, errors.New("registry accepts only https"), ExitFailure},
		{[]string{"fail"}, errors.New("unknown flag in config.json"), ExitFailure},
		{[]string{"fail", "extra"}, nil, ExitUsage},
		{[]string{"fail", "--nosuch"}, nil, ExitUsage},
		{[]string{"nosuch"}, nil, ExitUsage},
	} {
		var out, errb bytes.Buffer
		root := New(nil, &out, &errb)
		root.AddCommand(&cobra.Command{Use: "fail", Args: cobra.ExactArgs(0), RunE: func(*cobra.Command, []string) error { return c.err }})
		markArgsErrors(root)
		if got := execute(root, c.args, &errb); got != c.want {
			t.Errorf("%q returning %v: exit %d, want %d (%s)", c.args, c.err, got, c.want, errb.String())
		}
	}
}
