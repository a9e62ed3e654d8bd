// Package cmd holds the cobra commands of the refval CLI. Each command is one
// constructor whose RunE parses flags, calls one library function and prints
// to cmd.OutOrStdout(); library packages never see a CLI type.
package cmd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../cmd.Version=...".
var Version = "dev"

// Exit codes shared by every command.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the operation failed (measurement, verification, I/O)
	ExitUsage   = 2 // the command line was wrong
)

// usageError marks an error in the command line (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// UsageErrorf returns an error that makes refval exit with ExitUsage.
func UsageErrorf(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

// exitCoder lets a command choose its exit code (for example "diff" exits 1
// when two measurements differ without that being an error message).
type exitCoder interface{ ExitCode() int }

// New returns the refval root command with every subcommand attached.
func New(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var logLevel string
	root := &cobra.Command{
		Use:   "refval",
		Short: "Reference values for containers, measured offline and at runtime",
		Long: `refval measures OCI runtime bundles and container images into reference
values for remote attestation (the CMC stack), builds and signs the manifests
that carry them, and verifies them. The runtime shim containerd-shim-cmc-v1
measures containers with the same code, so offline and runtime values match.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return UsageErrorf("--log-level: %q is not one of debug, info, warn, error", logLevel)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lvl})))
			return nil
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, c := range subcommands() {
		root.AddCommand(c)
	}
	root.InitDefaultCompletionCmd() // now, so that docs/cli lists it too
	// A group command (manifest, completion) would print its help and exit
	// 0 for a misspelt subcommand; make that a usage error, as for refval.
	for _, c := range root.Commands() {
		if !c.Runnable() && c.HasSubCommands() {
			c.Args = cobra.NoArgs
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		}
	}
	markArgsErrors(root)
	return root
}

// subcommands constructs every refval command, in one place (as ctr and
// crane do): adding a command is one line here. Help lists them sorted.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		newPullCmd(),
		newUnpackCmd(),
		newMeasureCmd(),
		newMeasureBundleCmd(),
		newDiffCmd(),
		newManifestCmd(),
		newSignCmd(),
		newVerifyCmd(),
		newConvertCmd(),
		newGenerateCmd(),
		newHostProfileCmd(),
		newVersionCmd(),
	}
}

// markArgsErrors makes the argument-count errors of every command usage
// errors, by type rather than by matching cobra's messages (an operation
// failing with EINVAL says "invalid argument" too, and must exit 1).
func markArgsErrors(c *cobra.Command) {
	if validate := c.Args; validate != nil {
		c.Args = func(c *cobra.Command, args []string) error {
			if err := validate(c, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markArgsErrors(sub)
	}
}

// Main runs refval with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return execute(New(stdin, stdout, stderr), args, stderr)
}

// execute runs root with args, prints its error and returns the exit code.
func execute(root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(normalizeLegacyFlags(args))
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ec exitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "refval:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "refval:", err)
	var ue usageError
	if errors.As(err, &ue) || isUnknownCommand(err) {
		return ExitUsage
	}
	return ExitFailure
}

// isUnknownCommand recognises the error cobra returns for an unknown
// subcommand of refval itself, the one command-line error that passes
// neither through the flag error func nor through an Args validator.
func isUnknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}
