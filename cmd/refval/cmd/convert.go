package cmd

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/refval/refval/manifest"
)

func newConvertCmd() *cobra.Command {
	var to, out string
	cmd := &cobra.Command{
		Use:   "convert --to cbor|json [FILE] [--out FILE]",
		Short: "Convert a manifest or description between JSON and CBOR",
		Long: `Convert an unsigned App Manifest, App Description or Device Description
between JSON and CBOR with integer keys (docs/manifests.md lists the key maps).
The conversion is lossless both ways; members refval does not know are carried
over (integer CBOR keys become decimal JSON member names and back), and a value
without an exact form in the target encoding is an error. Reads FILE or stdin.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return UsageErrorf("--to is required (cbor or json)")
			}
			f, err := manifest.ParseFormat(to)
			if err != nil {
				return UsageErrorf("--to: %v", err)
			}
			var b []byte
			name := "stdin"
			if len(args) == 1 && args[0] != "-" {
				name = args[0]
				b, err = os.ReadFile(name)
			} else {
				b, err = io.ReadAll(cmd.InOrStdin())
			}
			if err != nil {
				return err
			}
			d, err := manifest.Parse(b, "")
			if err == nil {
				d, err = d.Convert(f)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			res, err := d.Bytes()
			if err != nil {
				return err
			}
			return writeDocOutput(cmd, out, res)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "target encoding: cbor or json (required)")
	cmd.Flags().StringVar(&out, "out", "", "write here (default stdout)")
	return cmd
}
