package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
	"github.com/refval/refval/signing"
)

func init() { register(newGenerateCmd) }

// imageMeasurer returns the function that measures one image for generate
// and manifest create --from-image: package oci's stream measurement with
// the registry/store options of the command line. Tests replace it.
var imageMeasurer = ociMeasureFunc

// ociMeasureFunc adapts oci.MeasureImage to manifest.MeasureFunc: one
// platform (the host's, or the run's --platform), its reference value
// named after the run and described by the exact image it came from.
func ociMeasureFunc(base []oci.Option) manifest.MeasureFunc {
	return func(ctx context.Context, ref string, o manifest.RunOptions) (manifest.ReferenceValue, manifest.ImageInfo, error) {
		var rv manifest.ReferenceValue
		var info manifest.ImageInfo
		scheme, err := bundle.ParseScheme(o.Scheme)
		if err != nil {
			return rv, info, err
		}
		opts := append(slices.Clone(base), oci.WithScheme(scheme))
		// --engine kubernetes (kube.go): refval-v2 unless the entry names a scheme.
		kp, err := parseKubeRunArgs(o.RunArgs())
		if err != nil {
			return rv, info, err
		}
		if kp != nil {
			if o.Scheme == "" {
				opts = append(opts, oci.WithScheme(bundle.SchemeV2))
			}
			opts = append(opts, oci.WithConfigFunc(kp.Config), oci.WithContainerID(kp.ContainerID()))
		} else {
			pred, err := parseRunArgs(o.RunArgs())
			if err != nil {
				return rv, info, err
			}
			if pred != nil {
				opts = append(opts, oci.WithConfigFunc(pred.Config), oci.WithContainerID(pred.ContainerID()))
			}
		}
		if o.Platform != "" {
			opts = append(opts, oci.WithPlatform(o.Platform))
		}
		res, err := oci.MeasureImage(ctx, ref, opts...)
		if err != nil {
			return rv, info, err
		}
		if len(res.Results) != 1 {
			return rv, info, fmt.Errorf("%s: %d platforms measured, want one (select one with platform)", ref, len(res.Results))
		}
		r := &res.Results[0]
		driver, pcr := o.Driver, manifest.DefaultPCR
		if driver == "" {
			driver = manifest.DriverSW
		}
		if o.PCR != nil {
			pcr = *o.PCR
		}
		name := o.Name
		if name == "" {
			name = manifest.NameFromImage(ref)
		}
		if rv, err = manifest.ContainerReferenceValue(name, driver, pcr, o.Optional, &r.Result); err != nil {
			return rv, info, err
		}
		rv.Description = imageDescription(res.Image, r.Manifest)
		// The digest users know is the manifest's at the source; the store
		// may hold a converted copy (r.Manifest.Digest, in the description).
		d := r.Manifest.Digest
		if r.Manifest.SourceDigest != "" {
			d = r.Manifest.SourceDigest
		}
		info = manifest.ImageInfo{Reference: ref, Digest: d.String(), Platform: platformString(*r.Manifest)}
		return rv, info, nil
	}
}

func newGenerateCmd() *cobra.Command {
	var (
		sf                      signerFlags
		v                       validityFlags
		img                     imageFlags
		template, batch, outDir string
		deviceDesc              string
		format, scheme, driver  string
		pcr                     int
		env                     []string
	)
	cmd := &cobra.Command{
		Use:   "generate IMAGE... --template app.manifest.json --key K --cert CHAIN --out DIR",
		Short: "Measure images into signed App Manifests (for CI pipelines)",
		Long: `Measure each image (the stream path: no rootfs on disk), put its reference
value into a copy of the --template App Manifest (name set to the image's
name, referenceValues replaced), sign it and write DIR/<name>.manifest.json
(or .cbor with --format cbor). The validity window comes from --not-before,
--not-after and --valid-for, or else from the template, which must then hold
one. Images come from the arguments or from
--batch FILE, a JSON file listing images with their names and run options:

  {"images": [{"image": "oci:/layouts/store:web", "name": "web",
               "driver": "tpm", "pcr": 11, "env": ["MODE=prod"]}]}

Prints a JSON summary (image digest, reference value, output path per image)
and exits 1 if any image failed, after finishing the others.`,
		Example: `  refval generate oci:build/layout:web --template app.manifest.json \
    --key ci.key --cert ci-chain.pem --out signed/ --not-before "$(date -u +%F)"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if template == "" || outDir == "" {
				return UsageErrorf("--template and --out are required")
			}
			if (batch == "") == (len(args) == 0) {
				return UsageErrorf("give images as arguments or --batch FILE, not both")
			}
			f, err := manifest.ParseFormat(format)
			if err != nil {
				return UsageErrorf("--format: %v", err)
			}
			base, err := img.options(cmd)
			if err != nil {
				return err
			}
			signers, err := sf.load()
			if err != nil {
				return err
			}
			tb, err := os.ReadFile(template)
			if err != nil {
				return err
			}
			var jobs []manifest.Job
			if batch != "" {
				b, err := os.ReadFile(batch)
				if err != nil {
					return err
				}
				if jobs, err = manifest.ParseBatch(b); err != nil {
					return UsageErrorf("%s: %v", batch, err)
				}
				// Run options fail before anything is measured.
				for i, j := range jobs {
					kp, err := parseKubeRunArgs(j.RunArgs())
					if err == nil && kp == nil {
						_, err = parseRunArgs(j.RunArgs())
					}
					if err != nil {
						return UsageErrorf("%s: images[%d].run: %v", batch, i, err)
					}
				}
			}
			var p *int
			if cmd.Flags().Changed("pcr") {
				p = &pcr
			}
			for _, a := range args {
				if err := checkImageArg(a); err != nil {
					return err
				}
				j := manifest.Job{Image: a, RunOptions: manifest.RunOptions{Scheme: scheme, Driver: driver, PCR: p, Env: env}}
				if err := j.Validate(); err != nil {
					return UsageErrorf("%v", err)
				}
				jobs = append(jobs, j)
			}
			if !v.changed(cmd) {
				// The window then comes from the template: say which flags
				// give one when it has none (manifest.Generate refuses it).
				if d, err := manifest.Parse(tb, ""); err == nil {
					if _, _, err := d.ValidityWindow(); err != nil {
						return fmt.Errorf("%s: %w: give --valid-for (with --not-before or SOURCE_DATE_EPOCH) or a validity in the template", template, err)
					}
				}
			}
			cfg := manifest.GenerateConfig{
				Template: tb, Format: f, OutDir: outDir, DeviceDescription: deviceDesc,
				Measure: imageMeasurer(base),
				Sign: func(payload []byte, f manifest.Format) ([]byte, error) {
					return signing.Sign(payload, f, signers...)
				},
			}
			if v.changed(cmd) {
				val, err := v.validity()
				if err != nil {
					return err
				}
				cfg.Validity = &val
			}
			results, gerr := manifest.Generate(cmd.Context(), jobs, cfg)
			if results != nil {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			}
			return gerr
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&template, "template", "", "App Manifest template (JSON or CBOR)")
	fl.StringVar(&batch, "batch", "", "JSON file listing images, names and run options")
	fl.StringVar(&outDir, "out", "", "directory for the signed manifests")
	fl.StringVar(&deviceDesc, "device-description", "", "add or update an App Description per image (with its env) in this Device Description")
	fl.StringVar(&format, "format", "json", "manifest encoding: json (JWS) or cbor (COSE)")
	fl.StringVar(&scheme, "scheme", "", "measurement scheme for images given as arguments")
	fl.StringVar(&driver, "driver", "", "tpm or sw for images given as arguments (default sw)")
	fl.IntVar(&pcr, "pcr", manifest.DefaultPCR, "PCR with --driver tpm")
	fl.StringArrayVar(&env, "env", nil, "KEY=VALUE run environment for images given as arguments (repeatable)")
	v.register(cmd, "365d")
	sf.register(cmd)
	img.register(cmd, false, true)
	return cmd
}
