package cmd

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/refval/refval"
	"github.com/refval/refval/oci"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printImageText(w io.Writer, img *oci.Image) {
	fmt.Fprintf(w, "image:    %s\nstored:   %s (in %s)\n", img.Reference, img.Name, img.Layout)
	if img.IndexDigest != "" {
		fmt.Fprintf(w, "index:    %s\n", img.IndexDigest)
	}
	for _, m := range img.Manifests {
		fmt.Fprintf(w, "manifest: %s %s\n", m.Digest, refval.Platform(&m))
		if m.SourceDigest != "" {
			fmt.Fprintf(w, "  source manifest: %s\n", m.SourceDigest)
		}
		fmt.Fprintf(w, "  config: %s\n", m.ConfigDigest)
		for _, l := range m.Layers {
			fmt.Fprintf(w, "  layer:  %s\n", l.Digest)
		}
	}
}

func newPullCmd() *cobra.Command {
	var f imageFlags
	var output string
	cmd := &cobra.Command{
		Use:   "pull IMAGE",
		Short: "Copy an image into the local OCI layout store",
		Long: `Copy an image into refval's OCI layout store (blobs shared between images) and
print its digests: manifest, index, platform, config and layers. A reference
value is only meaningful next to the exact image it came from.

IMAGE uses skopeo's transport syntax: docker://REGISTRY/REPO[:TAG|@DIGEST],
oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], dir:DIR.
Registry credentials, TLS and the signature policy work as in skopeo. The
image is verified against its digests and the policy before it is stored;
the store's index changes only when the whole image is there.`,
		Example: `  refval pull docker://registry.example.com/app:1.2
  refval pull --platform linux/arm64/v8 oci:build/layout:app
  refval pull --all-platforms --creds user:secret --tls-verify=false docker://127.0.0.1:5000/app:1`,
		Args: cobra.ExactArgs(1),
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
			img, err := oci.Pull(cmd.Context(), args[0], opts...)
			if err != nil {
				return err
			}
			if output == "text" {
				printImageText(cmd.OutOrStdout(), img)
				return nil
			}
			return writeJSON(cmd.OutOrStdout(), img)
		},
	}
	f.register(cmd, true, false)
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format: json or text")
	return cmd
}
