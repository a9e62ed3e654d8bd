package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/refval/refval"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

func newMeasureCmd() *cobra.Command {
	var f measureFlags
	var img imageFlags
	var rf *runFlags   // engine profile and run options (flags.go)
	var lf *limitFlags // work bounds (limits.go)
	var rulesOut string
	cmd := &cobra.Command{
		Use:   "measure IMAGE [-- ARGS...]",
		Short: "Measure an image into a reference value, without unpacking it",
		Long: `Pull IMAGE (see "refval pull") and measure it: the same reference value as
"refval unpack" (as root) followed by "refval measure-bundle", computed from
the layer blobs in memory. No rootfs is written and no privilege is needed;
owners, file capabilities and device nodes come exactly from the layers.
The config measured is the config.json unpack writes.

Output as measure-bundle: a JSON array of CMC v0.9 components (CMC v0.7
reference values with --cmc-version 0.7), one per platform with
--all-platforms, each naming its image, manifest digest,
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
			// --engine containerd|docker|kubernetes: predict the config the
			// engine writes, measured with the prediction's scheme (refval-v2
			// for docker and kubernetes) unless --scheme says otherwise.
			pred, scheme, err := rf.predictor(f.id, args[1:])
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("scheme") {
				scheme = f.scheme
			}
			var ruler engine.OCIRuler
			if rulesOut != "" {
				if ruler, err = ociRulesFor(&f, img.allPlatforms, pred, scheme); err != nil {
					return err
				}
			}
			opts = append(opts, oci.WithScheme(scheme), oci.WithContainerID(f.id), oci.WithLimits(lf.limits()))
			opts = append(opts, refval.PredictionOptions(pred)...)
			var res *oci.ImageMeasurement
			measure := func(more ...oci.Option) (err error) {
				res, err = oci.MeasureImage(cmd.Context(), args[0], append(opts, more...)...)
				return err
			}
			if f.records == "" {
				err = measure()
			} else {
				err = bundle.WriteRecordsFile(f.records, func(record func(*bundle.Record) error) error {
					return measure(oci.WithRecordFunc(record))
				})
			}
			if err != nil {
				return err
			}
			if ruler != nil {
				if err := writeOCIRules(rulesOut, ruler, &res.Results[0].Result); err != nil {
					return err
				}
			}
			return printImageMeasurement(cmd.OutOrStdout(), &f, args[0], res)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&rulesOut, "oci-rules-out", "", "CMC 0.9, --engine kubernetes|docker, --scheme cmc: write the ociRules that accept every start of the container (for manifest create --oci-rules)")
	img.register(cmd, true, true)
	rf = registerRunFlags(cmd.Flags())
	lf = registerLimitFlags(cmd.Flags())
	return cmd
}

// printImageMeasurement prints the reference values of res (one per
// platform, refval.ImageReferenceValues), or their text form.
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
	if f.output != "text" {
		vo := refval.ValueOptions{Name: f.name, Driver: f.driver, PCR: &f.pcr, Optional: f.optional}
		if f.cmc == manifest.CMC09 {
			cs, err := refval.ImageComponents(ref, res, vo)
			if err != nil {
				return err
			}
			return manifest.WriteComponents(w, cs)
		}
		rvs, err := refval.ImageReferenceValues(ref, res, vo)
		if err != nil {
			return err
		}
		return writeJSON(w, rvs)
	}
	for i := range res.Results {
		r := &res.Results[i]
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "name:           %s\nscheme:         %s\ntemplateSha256: %s\nconfigSha256:   %s\nrootfsSha256:   %s\nentries:        %d\n",
			refval.ImageValueName(ref, f.name, r.Manifest, several), r.Result.Scheme, r.Result.TemplateSha256, r.Result.ConfigSha256, r.Result.RootfsSha256, r.Result.Entries)
		fmt.Fprintf(w, "image:          %s\nmanifest:       %s\nplatform:       %s\nconfig:         %s\n", ref, r.Manifest.Digest, refval.Platform(r.Manifest), r.Manifest.ConfigDigest)
		if res.Image.IndexDigest != "" {
			fmt.Fprintf(w, "index:          %s\n", res.Image.IndexDigest)
		}
	}
	return nil
}

// ociRulesFor checks the flags --oci-rules-out needs and returns what
// states the prediction's ociRules.
func ociRulesFor(f *measureFlags, all bool, pred engine.ConfigPredictor, scheme bundle.Scheme) (engine.OCIRuler, error) {
	if f.cmc != manifest.CMC09 {
		return nil, UsageErrorf("--oci-rules-out needs --cmc-version 0.9 (ociRules are CMC v0.9's)")
	}
	if all {
		return nil, UsageErrorf("--oci-rules-out describes one platform: select it with --platform instead of --all-platforms")
	}
	ruler, err := refval.OCIRules(pred, scheme)
	if errors.Is(err, refval.ErrNoOCIRules) {
		return nil, UsageErrorf("--oci-rules-out needs --engine kubernetes or docker: %v (CMC matches this config by its hash)", err)
	}
	if errors.Is(err, engine.ErrUnsupported) {
		return nil, UsageErrorf("--oci-rules-out: %v", err)
	}
	if err != nil {
		return nil, UsageErrorf("--oci-rules-out needs --scheme cmc: %v", err)
	}
	return ruler, nil
}

// writeOCIRules writes the ociRules of the measured config r to file.
func writeOCIRules(file string, ruler engine.OCIRuler, r *bundle.Result) error {
	rules, err := ruler.OCIRules(r.NormalizedConfig)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(rules, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(file, append(b, '\n'), 0o644)
}
