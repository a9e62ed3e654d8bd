package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/refval/refval"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

// imageMeasurer returns the function that measures one image for generate
// and manifest create --from-image: refval.MeasureImage with the
// registry/store options of the command line. Tests replace it.
var imageMeasurer = func(base []oci.Option) refval.MeasureFunc { return refval.Measurer(base...) }

// componentMeasurer is imageMeasurer for CMC 0.9 components.
var componentMeasurer = func(base []oci.Option) refval.MeasureComponentFunc {
	return refval.ComponentMeasurer(base...)
}

func newGenerateCmd() *cobra.Command {
	var (
		sf                      signerFlags
		v                       validityFlags
		img                     imageFlags
		template, batch, outDir string
		deviceDesc, imageDesc   string
		ociRules                string
		cmcVer                  manifest.CMCVersion
		format, driver          string
		scheme                  bundle.Scheme
		pcr                     int
		env                     []string
	)
	cmd := &cobra.Command{
		Use:   "generate IMAGE... --template manifest.json --key K --cert CHAIN --out DIR",
		Short: "Measure images into signed Manifests (for CI pipelines)",
		Long: `Measure each image (the stream path: no rootfs on disk), put its reference
value into a copy of the --template manifest (name set to the image's name),
sign it and write DIR/<name>.manifest.json (or .cbor with --format cbor).

The CMC dialect (--cmc-version, or "cmc_version" in the batch file; default
0.9, current CMC) decides the rest. CMC 0.9: the template is a Manifest
whose version is an RFC 3339 time (CMC ignores any other), its
sbom.components are replaced by the image's component (hash: the rootfs
hash, ctrData.ociSpec: the predicted config), --image-description gets a
Manifest Description per image, and a key whose algorithm CMC 0.9 rejects
fails up front (an RSA key signs JWS with RS256). CMC 0.7: the template is
an App Manifest, its referenceValues are replaced, --device-description gets
an App Description per image, and outputs are those of refval before
dialects existed (a rejected algorithm is a warning).

The validity window comes from --not-before, --not-after and --valid-for,
or else from the template, which must then hold one. Images come from the
arguments or from --batch FILE, a JSON file listing images with their names
and run options:

  {"cmc_version": "0.9",
   "images": [{"image": "oci:/layouts/store:web", "name": "web",
               "driver": "tpm", "pcr": 11, "env": ["MODE=prod"]}]}

--oci-rules FILE (from measure --oci-rules-out) puts the ociRules into the
Manifest Description of each image given as an argument; a batch file gives
each image its own ("ociRules": {...}).

Prints a JSON summary (image digest, reference value or component, output
path per image) and exits 1 if any image failed, after finishing the others.`,
		Example: `  refval manifest create --name web --version 2026-01-02T15:04:05Z --out manifest.json
  refval generate oci:build/layout:web --template manifest.json \
    --key ci.key --cert ci-chain.pem --out signed/ --not-before "$(date -u +%F)"
  refval generate --cmc-version 0.7 oci:build/layout:web --template app.manifest.json \
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
			var jobs []refval.Job
			var batchVersion manifest.CMCVersion
			if batch != "" {
				b, err := os.ReadFile(batch)
				if err != nil {
					return err
				}
				bt, err := refval.ParseBatchFile(b)
				if err != nil {
					return UsageErrorf("%s: %v", batch, err)
				}
				jobs, batchVersion = bt.Images, bt.CMCVersion
				if err := resolveRunCommandLines(batch, jobs); err != nil {
					return err
				}
			}
			dialect, err := generateDialect(cmcVer, batch, batchVersion)
			if err != nil {
				return err
			}
			var rules map[string]any
			if ociRules != "" {
				switch {
				case batch != "":
					return UsageErrorf(`--oci-rules is for images given as arguments: in a batch file, give each image its "ociRules"`)
				case dialect != manifest.CMC09:
					return UsageErrorf("--oci-rules needs --cmc-version 0.9 (ociRules are CMC v0.9's)")
				case imageDesc == "":
					return UsageErrorf("--oci-rules needs --image-description")
				}
				if rules, err = readOCIRules(ociRules); err != nil {
					return err
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
				j := refval.Job{Image: a, RunOptions: refval.RunOptions{Scheme: scheme, Driver: driver, PCR: p, Env: env, OciRules: rules}}
				if err := j.Validate(); err != nil {
					return UsageErrorf("%v", err)
				}
				jobs = append(jobs, j)
			}
			if !v.changed(cmd) {
				// The window then comes from the template: say which flags
				// give one when it has none (refval.Generate refuses it).
				if d, err := manifest.Parse(tb, ""); err == nil {
					if _, _, err := d.ValidityWindow(); err != nil {
						return fmt.Errorf("%s: %w: give --valid-for (with --not-before or SOURCE_DATE_EPOCH) or a validity in the template", template, err)
					}
				}
			}
			o := refval.GenerateOptions{
				CMCVersion: dialect, Template: tb, Format: f, OutDir: outDir,
				DeviceDescription: deviceDesc, ImageDescription: imageDesc,
				Measure: imageMeasurer(base), MeasureComponent: componentMeasurer(base),
				Signers: signers,
			}
			if v.changed(cmd) {
				val, err := v.validity()
				if err != nil {
					return err
				}
				o.Validity = &val
			}
			results, gerr := refval.Generate(cmd.Context(), jobs, o)
			if errors.Is(gerr, refval.ErrRunOptions) {
				return UsageErrorf("%v", gerr)
			}
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
	fl.StringVar(&template, "template", "", "manifest template (JSON or CBOR): a Manifest (CMC 0.9) or an App Manifest (CMC 0.7)")
	fl.StringVar(&batch, "batch", "", "JSON file listing images, names and run options")
	fl.StringVar(&outDir, "out", "", "directory for the signed manifests")
	fl.StringVar(&deviceDesc, "device-description", "", "CMC 0.7: add or update an App Description per image (with its env) in this Device Description")
	fl.StringVar(&imageDesc, "image-description", "", "CMC 0.9: add or update a Manifest Description per image in this Image Description")
	fl.StringVar(&ociRules, "oci-rules", "", ociRulesUsage+" for images given as arguments (needs --image-description)")
	addCMCVersionFlag(fl, &cmcVer)
	fl.StringVar(&format, "format", "json", "manifest encoding: json (JWS) or cbor (COSE)")
	fl.Var(&scheme, "scheme", "measurement scheme for images given as arguments")
	fl.StringVar(&driver, "driver", "", "tpm or sw for images given as arguments (default sw)")
	fl.IntVar(&pcr, "pcr", manifest.DefaultPCR, "PCR with --driver tpm")
	fl.StringArrayVar(&env, "env", nil, "KEY=VALUE run environment for images given as arguments (repeatable)")
	v.register(cmd, "365d")
	sf.register(cmd)
	img.register(cmd, false, true)
	return cmd
}

// generateDialect returns generate's CMC version: --cmc-version or the
// batch file's cmc_version (they must agree when both are given), else
// manifest.DefaultCMCVersion.
func generateDialect(flag manifest.CMCVersion, batch string, fromBatch manifest.CMCVersion) (manifest.CMCVersion, error) {
	v := flag.Resolved()
	switch {
	case fromBatch == "":
		return v, nil
	case flag != "" && v != fromBatch:
		return "", UsageErrorf("--cmc-version %s, but %s says cmc_version %s", v, batch, fromBatch)
	}
	return fromBatch, nil
}
