package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/refval/refval"
	"github.com/refval/refval/oci"
)

func newUnpackCmd() *cobra.Command {
	var f imageFlags
	var output string
	var force, rootless bool
	var rf *runFlags   // engine profile and ctr run options (runopts.go)
	var lf *limitFlags // work bounds (limits.go)
	cmd := &cobra.Command{
		Use:   "unpack IMAGE BUNDLE_DIR [-- ARGS...]",
		Short: "Unpack an image into an OCI runtime bundle (config.json + rootfs)",
		Long: `Pull IMAGE (see "refval pull") and unpack it with umoci into the runtime bundle
BUNDLE_DIR: rootfs/ and the config.json of umoci's image-config conversion,
or with --engine the config that engine writes (arguments after "--": the
container's for containerd; docker run's options and command for docker,
whose init layer is written into rootfs/ too).

The bundle is built next to BUNDLE_DIR and renamed into place, so BUNDLE_DIR
is either untouched or complete. It must not exist or be empty, unless
--force. Not root: a rootless unpack (owners kept in user.rootlesscontainers,
the config maps you to root in a user namespace); what it cannot reproduce
(file capabilities, device nodes, owners of symlinks and fifos) is printed as
a warning and listed in the output ("exact": false).`,
		Example: `  refval unpack docker://registry.example.com/app:1.2 ./bundle
  refval unpack --pull never --force oci:build/layout:app ./bundle`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return cobra.ExactArgs(2)(cmd, args) // the message it always gave
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "json" && output != "text" {
				return UsageErrorf("--output: %q is not json or text", output)
			}
			if err := checkImageArg(args[0]); err != nil {
				return err
			}
			opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			opts = append(opts, oci.WithLimits(lf.limits()))
			if force {
				opts = append(opts, oci.WithForce())
			}
			if cmd.Flags().Changed("rootless") {
				opts = append(opts, oci.WithRootless(rootless))
			}
			// --engine containerd: write the config ctr run would (runopts.go).
			// Arguments after BUNDLE_DIR: the container's (ctr run), or
			// docker run's options and command (--engine docker).
			pred, _, err := rf.predictor("", args[2:])
			if err != nil {
				return err
			}
			opts = append(opts, refval.PredictionOptions(pred)...)
			res, err := oci.Unpack(cmd.Context(), args[0], args[1], opts...)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			printImageText(w, res.Image)
			fmt.Fprintf(w, "bundle:   %s\nrootless: %v\nexact:    %v\n", res.Bundle, res.Rootless, res.Exact)
			for _, e := range res.Inexact {
				fmt.Fprintf(w, "  inexact: %s\n", e)
			}
			return nil
		},
	}
	f.register(cmd, false, true)
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format: json or text")
	cmd.Flags().BoolVar(&force, "force", false, "replace a non-empty BUNDLE_DIR")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "force (or with =false forbid) a rootless unpack (default: rootless when not root)")
	rf = registerRunFlags(cmd.Flags())
	lf = registerLimitFlags(cmd.Flags())
	return cmd
}
