package cmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

func init() { register(newMeasureCmd) }

// imageDescription says which exact image a reference value belongs to
// (the CMC format's description field, so that the JSON stays CMC's).
func imageDescription(img *oci.Image, m *oci.Manifest) string {
	d := fmt.Sprintf("image %s manifest %s platform %s", img.Reference, m.Digest, platformString(*m))
	if img.IndexDigest != "" {
		d += " index " + img.IndexDigest.String()
	}
	return d
}

// defaultImageName names a reference value after the image: the
// reference without its transport, and the platform when there are several.
func defaultImageName(ref string, m *oci.Manifest, several bool) string {
	_, name, _ := strings.Cut(ref, ":")
	name = strings.TrimPrefix(name, "//")
	if several {
		name += " (" + platformString(*m) + ")"
	}
	return name
}

func newMeasureCmd() *cobra.Command {
	var f measureFlags
	var img imageFlags
	var rf *runFlags  // engine profile and ctr run options (runopts.go)
	var kf *kubeFlags // --engine kubernetes (kube.go)
	cmd := &cobra.Command{
		Use:   "measure IMAGE [-- ARGS...]",
		Short: "Measure an image into a reference value, without unpacking it",
		Long: `Pull IMAGE (see "refval pull") and measure it: the same reference value as
"refval unpack" (as root) followed by "refval measure-bundle", computed from
the layer blobs in memory. No rootfs is written and no privilege is needed;
owners, file capabilities and device nodes come exactly from the layers.
The config measured is the config.json unpack writes.

Output as measure-bundle: a JSON array of CMC reference values (one per
platform with --all-platforms), each naming its image, manifest digest,
platform and index digest in "description"; --output text adds them as lines.
--scheme cmc needs an on-disk tree, so it unpacks to a temporary bundle.`,
		Example: `  refval measure docker://registry.example.com/app:1.2 --driver tpm --pcr 11
  refval measure --pull never oci:build/layout:app --records records.jsonl
  refval measure --all-platforms oci-archive:app.tar:1.2`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := f.validate(); err != nil {
				return err
			}
			// One records file and one config describe one platform: with
			// several, records would follow each other in one file.
			if img.allPlatforms && (f.records != "" || f.normalized != "") {
				return UsageErrorf("--records and --normalized-config describe one platform: select it with --platform instead of --all-platforms")
			}
			if err := checkImageArg(args[0]); err != nil {
				return err
			}
			opts, err := img.options(cmd)
			if err != nil {
				return err
			}
			scheme, _ := bundle.ParseScheme(f.scheme)
			opts = append(opts, oci.WithScheme(scheme), oci.WithContainerID(f.id))
			// --engine kubernetes: predict what kubelet + containerd CRI
			// write, measured with refval-v2 unless --scheme says otherwise.
			kp, err := kf.predictor(rf, args[1:])
			if err != nil {
				return err
			}
			if kp != nil {
				if !cmd.Flags().Changed("scheme") {
					opts = append(opts, oci.WithScheme(bundle.SchemeV2))
				}
				opts = append(opts, oci.WithConfigFunc(kp.Config), oci.WithContainerID(kp.ContainerID()))
			} else {
				// --engine containerd: predict the config ctr run writes (runopts.go).
				pred, err := rf.predictor(f.id, args[1:])
				if err != nil {
					return err
				}
				if pred != nil {
					opts = append(opts, oci.WithConfigFunc(pred.Config), oci.WithContainerID(pred.ContainerID()))
				}
			}
			var res *oci.ImageMeasurement
			measure := func(more ...oci.Option) (err error) {
				res, err = oci.MeasureImage(cmd.Context(), args[0], append(opts, more...)...)
				return err
			}
			if f.records == "" {
				err = measure()
			} else {
				err = atomicfile.Write(f.records, 0o644, func(w io.Writer) error {
					write, flush := bundle.RecordWriter(w)
					if err := measure(oci.WithRecordFunc(write)); err != nil {
						return err
					}
					return flush()
				})
			}
			if err != nil {
				return err
			}
			return printImageMeasurement(cmd.OutOrStdout(), &f, args[0], res)
		},
	}
	f.register(cmd)
	img.register(cmd, true, true)
	rf = registerRunFlags(cmd.Flags())
	kf = registerKubeFlags(cmd.Flags())
	return cmd
}

func printImageMeasurement(w io.Writer, f *measureFlags, ref string, res *oci.ImageMeasurement) error {
	several := len(res.Results) > 1
	if f.normalized != "" {
		if several {
			return UsageErrorf("--normalized-config: %d platforms measured; select one with --platform", len(res.Results))
		}
		if err := atomicfile.WriteFile(f.normalized, res.Results[0].Result.NormalizedConfig, 0o644); err != nil {
			return err
		}
	}
	var rvs []manifest.ReferenceValue
	for i := range res.Results {
		r := &res.Results[i]
		name := f.name
		if name == "" {
			name = defaultImageName(ref, r.Manifest, several)
		} else if several {
			name += " (" + platformString(*r.Manifest) + ")"
		}
		if f.output == "text" {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "name:           %s\nscheme:         %s\ntemplateSha256: %s\nconfigSha256:   %s\nrootfsSha256:   %s\nentries:        %d\n",
				name, r.Result.Scheme, r.Result.TemplateSha256, r.Result.ConfigSha256, r.Result.RootfsSha256, r.Result.Entries)
			fmt.Fprintf(w, "image:          %s\nmanifest:       %s\nplatform:       %s\nconfig:         %s\n", ref, r.Manifest.Digest, platformString(*r.Manifest), r.Manifest.ConfigDigest)
			if res.Image.IndexDigest != "" {
				fmt.Fprintf(w, "index:          %s\n", res.Image.IndexDigest)
			}
			continue
		}
		rv, err := manifest.ContainerReferenceValue(name, f.driver, f.pcr, f.optional, &r.Result)
		if err != nil {
			return err
		}
		rv.Description = imageDescription(res.Image, r.Manifest)
		rvs = append(rvs, rv)
	}
	if f.output == "text" {
		return nil
	}
	return writeJSON(w, rvs)
}
