package cmd

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine/diff"
)

// differentError makes refval exit 1 without an error message: the
// differences were printed, they are the answer, not a failure.
type differentError struct{}

func (differentError) Error() string { return "" }
func (differentError) ExitCode() int { return ExitFailure }

func newDiffCmd() *cobra.Command {
	var output, id string
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Explain why two measurements differ: config fields and rootfs entries",
		Long: `Compare two measurements with their detail and print what differs: the
config fields, as JSON paths, and the rootfs entries that were added,
removed or changed (type, content, mode, owner, capability, symlink target,
device numbers). Run it when an attestation fails, with the offline
reference on one side and what the device measured on the other.

A and B are each one of:
  - a directory holding a config and/or records file: the shim's generate
    output (container-config.json, container-records.jsonl), or the files of
    "refval measure --normalized-config normalized-config.json --records
    records.jsonl", or a bundle's config.json;
  - a records file (*.jsonl);
  - a config file (normalized, or a raw config.json: it is normalized first,
    with --id naming the container ID it holds).
What both sides have is compared.

Exit status: 0 equal, 1 different, 2 trouble (usage, or an input that cannot
be read or parsed), as diff(1): scripts can tell "different" from "not compared".`,
		Example: `  refval measure oci:layout:app --engine containerd \
      --normalized-config ref/normalized-config.json --records ref/records.jsonl
  refval diff ref/ /tmp/measure      # the shim's generate mode (CMC_GENERATE_APP_MANIFEST)
  refval diff --output json predicted.json /run/containerd/io.containerd.runtime.v2.task/default/app/config.json --id app`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return UsageErrorf("--output: %q is not text or json", output)
			}
			for _, a := range args {
				if _, err := os.Stat(a); err != nil {
					return UsageErrorf("%v", err)
				}
			}
			var opts []bundle.Option
			if id != "" {
				opts = append(opts, bundle.WithContainerID(id))
			}
			r, err := diff.CompareFiles(args[0], args[1], opts...)
			if err != nil {
				// Exit 2, not 1: 1 means "compared, and different".
				return usageError{err}
			}
			if output == "json" {
				err = writeJSON(cmd.OutOrStdout(), r)
			} else {
				err = r.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if !r.Equal {
				return differentError{}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&id, "id", "", "container ID a raw config.json holds (replaced by <container-id>)")
	return cmd
}
