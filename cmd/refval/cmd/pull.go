package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/refval/refval/oci"
)

func init() { register(newPullCmd) }

// imageFlags are the image-source flags shared by pull, unpack and measure
// (skopeo's names and meanings).
type imageFlags struct {
	layout, platform, authFile, creds, certDir, policy string
	allPlatforms, tlsVerify, insecurePolicy, quiet     bool
	pull                                               string
}

func (f *imageFlags) register(cmd *cobra.Command, withAll, withPull bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.layout, "layout", "", "OCI layout directory used as image store (default: refval/oci under the user cache directory)")
	fl.StringVar(&f.platform, "platform", "", "platform to select from a multi-platform image: os/arch[/variant] (default: the host's)")
	if withAll {
		fl.BoolVar(&f.allPlatforms, "all-platforms", false, "every platform of a multi-platform image")
	}
	fl.StringVar(&f.authFile, "authfile", "", "registry auth file (default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)")
	fl.StringVar(&f.creds, "creds", "", "registry credentials USER[:PASSWORD]")
	fl.BoolVar(&f.tlsVerify, "tls-verify", true, "require HTTPS and verify certificates for the registry (default: as registries.conf says)")
	fl.StringVar(&f.certDir, "cert-dir", "", "directory with certificates (*.crt, *.cert, *.key) for the registry")
	fl.StringVar(&f.policy, "policy", "", "signature policy file (default: the system policy.json)")
	fl.BoolVar(&f.insecurePolicy, "insecure-policy", false, "accept any image, ignoring the signature policy")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	if withPull {
		fl.StringVar(&f.pull, "pull", string(oci.PullAlways), "when to contact the image source: always (reuses stored blobs) or never (the store only, offline)")
	}
}

// options turns the flags into oci options; progress bars go to stderr
// only when it is a terminal.
func (f *imageFlags) options(cmd *cobra.Command) ([]oci.Option, error) {
	var opts []oci.Option
	if f.layout != "" {
		opts = append(opts, oci.WithLayout(f.layout))
	}
	if f.platform != "" {
		if f.allPlatforms {
			return nil, UsageErrorf("--platform and --all-platforms exclude each other")
		}
		if _, err := oci.ParsePlatform(f.platform); err != nil {
			return nil, UsageErrorf("--platform: %v", err)
		}
		opts = append(opts, oci.WithPlatform(f.platform))
	}
	if f.allPlatforms {
		opts = append(opts, oci.WithAllPlatforms())
	}
	if f.authFile != "" {
		opts = append(opts, oci.WithAuthFile(f.authFile))
	}
	if f.creds != "" {
		opts = append(opts, oci.WithCredentials(f.creds))
	}
	if cmd.Flags().Changed("tls-verify") {
		opts = append(opts, oci.WithTLSVerify(f.tlsVerify))
	}
	if f.certDir != "" {
		opts = append(opts, oci.WithCertDir(f.certDir))
	}
	switch {
	case f.policy != "" && f.insecurePolicy:
		return nil, UsageErrorf("--policy and --insecure-policy exclude each other")
	case f.policy != "":
		opts = append(opts, oci.WithPolicy(f.policy))
	case f.insecurePolicy:
		opts = append(opts, oci.WithInsecurePolicy())
	}
	if f.pull != "" {
		if f.pull != string(oci.PullAlways) && f.pull != string(oci.PullNever) {
			return nil, UsageErrorf("--pull: %q is not always or never", f.pull)
		}
		opts = append(opts, oci.WithPullPolicy(oci.PullPolicy(f.pull)))
	}
	if w := cmd.ErrOrStderr(); !f.quiet && isTerminal(w) {
		opts = append(opts, oci.WithProgress(w))
	}
	return opts, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func checkImageArg(ref string) error {
	if _, err := oci.ParseReference(ref); err != nil {
		return UsageErrorf("%v", err)
	}
	return nil
}

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
		fmt.Fprintf(w, "manifest: %s %s\n", m.Digest, platformString(m))
		if m.SourceDigest != "" {
			fmt.Fprintf(w, "  source manifest: %s\n", m.SourceDigest)
		}
		fmt.Fprintf(w, "  config: %s\n", m.ConfigDigest)
		for _, l := range m.Layers {
			fmt.Fprintf(w, "  layer:  %s\n", l.Digest)
		}
	}
}

func platformString(m oci.Manifest) string {
	s := m.Platform.OS + "/" + m.Platform.Architecture
	if m.Platform.Variant != "" {
		s += "/" + m.Platform.Variant
	}
	return s
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
