package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/refval/refval/manifest"
	"github.com/refval/refval/signing"
)

func init() { register(newGenerateCmd) }

// measureImage measures an image for generate and manifest create
// --from-image. It is the one place where package oci's stream measurement
// is wired in.
var measureImage manifest.MeasureFunc = func(_ context.Context, ref string, _ manifest.RunOptions) (manifest.ReferenceValue, manifest.ImageInfo, error) {
	return manifest.ReferenceValue{}, manifest.ImageInfo{}, fmt.Errorf("measure image %s: %w", ref, errNoImageMeasure)
}

var errNoImageMeasure = errors.New("image measurement is not built into this refval (package oci not wired)")

func newGenerateCmd() *cobra.Command {
	var (
		sf                       signerFlags
		v                        validityFlags
		template, batch, outDir  string
		deviceDesc               string
		format, scheme, platform string
		driver                   string
		pcr                      int
		env                      []string
	)
	cmd := &cobra.Command{
		Use:   "generate IMAGE... --template app.manifest.json --key K --cert CHAIN --out DIR",
		Short: "Measure images into signed App Manifests (for CI pipelines)",
		Long: `Measure each image (the stream path: no rootfs on disk), put its reference
value into a copy of the --template App Manifest (name set to the image's
name, referenceValues replaced), sign it and write DIR/<name>.manifest.json
(or .cbor with --format cbor). Images come from the arguments or from
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
			}
			var p *int
			if cmd.Flags().Changed("pcr") {
				p = &pcr
			}
			for _, a := range args {
				jobs = append(jobs, manifest.Job{Image: a, RunOptions: manifest.RunOptions{
					Scheme: scheme, Driver: driver, PCR: p, Platform: platform, Env: env,
				}})
			}
			cfg := manifest.GenerateConfig{
				Template: tb, Format: f, OutDir: outDir, Measure: measureImage, DeviceDescription: deviceDesc,
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
	fl.StringVar(&driver, "driver", "", "tpm or sw for images given as arguments")
	fl.IntVar(&pcr, "pcr", manifest.DefaultPCR, "PCR with --driver tpm")
	fl.StringVar(&platform, "platform", "", "os/arch[/variant] of multi-platform images")
	fl.StringArrayVar(&env, "env", nil, "KEY=VALUE run environment for images given as arguments (repeatable)")
	v.register(cmd, "365d")
	sf.register(cmd)
	return cmd
}
