package cmd

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/refval/refval"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

func newManifestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "manifest",
		Short: "Create Manifests and update their reference values",
		Long: `Create CMC v0.9 Manifests and the Manifest Descriptions of an Image
Description (the default), or, with --cmc-version 0.7, create and edit CMC
v0.7 App Manifests and the App Descriptions of a Device Description (JSON, or
CBOR with integer keys). Output is deterministic: the validity
dates come from flags or SOURCE_DATE_EPOCH, never silently from the clock.
See docs/manifests.md.`,
	}
	cmd.AddCommand(newManifestCreateCmd(), newManifestSetRefvalsCmd())
	return cmd
}

// appDescFlags add or update the App Description of the manifest in a
// Device Description.
type appDescFlags struct {
	file, appName, appVersion string
	env, connections          []string
}

func (a *appDescFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&a.file, "device-description", "", "add or update the manifest's App Description in this Device Description (JSON or CBOR, rewritten in place)")
	fl.StringVar(&a.appName, "app-name", "", "name of the App Description (default: the manifest name)")
	fl.StringVar(&a.appVersion, "app-version", "", "version of the App Description")
	fl.StringArrayVar(&a.env, "env", nil, "KEY=VALUE environment of the run, recorded in the App Description (repeatable)")
	fl.StringArrayVar(&a.connections, "external-connection", nil, "external connection of the App Description as CMC's External Interface object: interface=IF,port=N[,endpoint=APP_ENDPOINT] (repeatable)")
}

// check reports a usage error in the App Description flags; call it
// before anything is written.
func (a *appDescFlags) check() error {
	if a.file == "" && (len(a.env) > 0 || len(a.connections) > 0 || a.appName != "" || a.appVersion != "") {
		return UsageErrorf("--env, --external-connection, --app-name and --app-version need --device-description")
	}
	if _, err := manifest.ParseEnv(a.env); err != nil {
		return UsageErrorf("--env: %v", err)
	}
	if _, err := manifest.ParseExternalConnections(a.connections); err != nil {
		return UsageErrorf("--external-connection: %v", err)
	}
	return nil
}

// prepare computes the Device Description with the App Description of
// manifest name, and returns the function that writes it (nil without
// --device-description). Every error comes before anything is written, so
// that a bad Device Description leaves the manifest output untouched too.
func (a *appDescFlags) prepare(w io.Writer, manifestName string) (write func() error, err error) {
	if err := a.check(); err != nil || a.file == "" {
		return nil, err
	}
	env, _ := manifest.ParseEnv(a.env)
	conns, _ := manifest.ParseExternalConnections(a.connections)
	name := a.appName
	if name == "" {
		name = manifestName
	}
	in, err := os.ReadFile(a.file)
	if err != nil {
		return nil, err
	}
	out, replaced, err := manifest.UpdateDeviceDescription(in, manifest.AppDescription{
		Name: name, Version: a.appVersion, AppManifest: manifestName,
		ExternalConnections: conns, Environment: env,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.file, err)
	}
	verb := "added"
	if replaced {
		verb = "updated"
	}
	return func() error {
		if err := atomicfile.WriteFile(a.file, out, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %s app description %q\n", a.file, verb, name)
		return nil
	}, nil
}

// writeWithDescription writes the manifest b (to file, or stdout) and then
// the Device Description, once both are known to be good.
func (a *appDescFlags) writeWithDescription(cmd *cobra.Command, file string, b []byte, manifestName string) error {
	writeDD, err := a.prepare(cmd.ErrOrStderr(), manifestName)
	if err != nil {
		return err
	}
	if err := writeDocOutput(cmd, file, b); err != nil {
		return err
	}
	if writeDD != nil {
		return writeDD()
	}
	return nil
}

// readRefvals reads reference values from a file, "-" meaning stdin.
func readRefvalFile(cmd *cobra.Command, file string) ([]manifest.ReferenceValue, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(cmd.InOrStdin())
		file = "stdin"
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	rvs, err := manifest.ReadReferenceValues(b)
	if err != nil && manifest.IsComponentList(b) {
		return nil, UsageErrorf("%s: CMC 0.9 components, not CMC 0.7 reference values (measure with --cmc-version 0.7)", file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return rvs, nil
}

// writeDocOutput writes b to file atomically, or to stdout when file is "" or "-".
func writeDocOutput(cmd *cobra.Command, file string, b []byte) error {
	if file == "" || file == "-" {
		_, err := cmd.OutOrStdout().Write(b)
		return err
	}
	return atomicfile.WriteFile(file, b, 0o644)
}

func newManifestCreateCmd() *cobra.Command {
	var (
		o              manifest.CreateOptions
		v              validityFlags
		ad             appDescFlags
		refvals, out   string
		fromImage      string
		format, driver string
		scheme         bundle.Scheme
		pcr            int
		img            imageFlags
		c09            create09
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME --version V [--refvals FILE|-] [flags]",
		Short: "Create an unsigned Manifest (or App Manifest)",
		Long: `Create an unsigned CMC v0.9 Manifest holding the given components (the
output of measure-bundle or measure: a JSON array, or one object; "-" reads
stdin); its --version must be an RFC 3339 time, as CMC ignores any other.
--from-image measures the image instead (as "refval measure" would). With
--cmc-version 0.7: a CMC v0.7 App Manifest holding v0.7 reference values
(measured with --cmc-version 0.7); the App Description flags are 0.7's.
Reference values of the other dialect are refused. The validity window starts at --not-before or $SOURCE_DATE_EPOCH and
lasts --valid-for (default 365d) unless --not-after is given.`,
		Example: `  refval measure-bundle ./bundle --driver tpm > components.json
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) \
    refval manifest create --name web --version 2026-01-02T15:04:05Z --developer "ACME CI" \
      --refvals components.json --out web.manifest.json --image-description image.json
  refval measure-bundle ./bundle --driver tpm --cmc-version 0.7 > refvals.json
  refval manifest create --cmc-version 0.7 --name web --version 1.2.0 \
      --refvals refvals.json --out web.app-manifest.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Name == "" || o.Version == "" {
				return UsageErrorf("--name and --version are required")
			}
			dialect, raw, err := c09.dialect(cmd, refvals)
			if err != nil {
				return err
			}
			if dialect == manifest.CMC09 && (ad.file != "" || len(ad.env) > 0 || len(ad.connections) > 0) {
				return UsageErrorf("CMC 0.9 (the default): the App Description flags are CMC 0.7's (give --cmc-version 0.7, or use --image-description)")
			}
			if fromImage != "" && refvals != "" {
				return UsageErrorf("--refvals and --from-image exclude each other")
			}
			if dialect == manifest.CMC07 && (c09.imageDesc != "" || c09.ociRules != "") {
				return UsageErrorf("--image-description and --oci-rules need --cmc-version 0.9")
			}
			if err := ad.check(); err != nil {
				return err
			}
			f, err := manifest.ParseFormat(format)
			if err != nil {
				return UsageErrorf("--format: %v", err)
			}
			if o.Validity, err = v.validity(); err != nil {
				return err
			}
			// --from-image: the run options of the one image measured.
			var run refval.RunOptions
			var base []oci.Option
			if fromImage != "" {
				if err := checkImageArg(fromImage); err != nil {
					return err
				}
				run = refval.RunOptions{Name: o.Name, Scheme: schemeFor(scheme, dialect), Driver: driver}
				if cmd.Flags().Changed("pcr") {
					run.PCR = &pcr
				}
				if err := run.Validate(); err != nil {
					return UsageErrorf("%v", err)
				}
				if base, err = img.options(cmd); err != nil {
					return err
				}
			}
			if dialect == manifest.CMC09 {
				if err := manifest.CheckVersion(o.Version); err != nil {
					return UsageErrorf("%v", err) // before measuring anything
				}
				if fromImage != "" {
					c, _, err := componentMeasurer(base)(cmd.Context(), fromImage, run)
					if err != nil {
						return err
					}
					c09.comps = []manifest.Component{c}
				}
				return c09.run(cmd, o, raw, refvals, out, f)
			}
			if err := manifest.CheckVersion(o.Version); err != nil {
				// CMC 0.7 ignores such a manifest too; kept as a warning so
				// that existing 0.7 outputs stay as they were.
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", err)
			}
			switch {
			case fromImage != "":
				rv, _, err := imageMeasurer(base)(cmd.Context(), fromImage, run)
				if err != nil {
					return err
				}
				o.ReferenceValues = []manifest.ReferenceValue{rv}
			case refvals != "":
				if o.ReferenceValues, err = readRefvalFile(cmd, refvals); err != nil {
					return err
				}
			}
			d, err := manifest.Create(o, f)
			if err != nil {
				return UsageErrorf("%v", err)
			}
			b, err := d.Bytes()
			if err != nil {
				return err
			}
			return ad.writeWithDescription(cmd, out, b, o.Name)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Name, "name", "", "manifest name (required)")
	fl.StringVar(&o.Version, "version", "", "manifest version (required)")
	fl.StringVar(&o.DeveloperCommonName, "developer", "", "developerCommonName: common name of the developer's signing certificate")
	fl.StringArrayVar(&o.Oss, "os", nil, "name of an OS manifest the app runs on (repeatable)")
	fl.StringVar(&o.Description, "description", "", "free-text description")
	fl.IntVar(&o.CertificationLevel, "certification-level", 0, "certificationLevel (0: not given)")
	fl.StringVar(&refvals, "refvals", "", `reference values file (JSON or CBOR; "-" for stdin)`)
	fl.StringVar(&fromImage, "from-image", "", "measure this image for the reference value")
	fl.Var(&scheme, "scheme", "measurement scheme with --from-image")
	fl.StringVar(&driver, "driver", "", "tpm or sw with --from-image (default sw)")
	fl.IntVar(&pcr, "pcr", manifest.DefaultPCR, "PCR with --from-image --driver tpm")
	fl.StringVar(&format, "format", "json", "output encoding: json or cbor")
	fl.StringVar(&out, "out", "", "write the manifest here (default stdout)")
	v.register(cmd, "365d")
	ad.register(cmd)
	img.register(cmd, false, true)
	c09.register(fl)
	return cmd
}

func newManifestSetRefvalsCmd() *cobra.Command {
	var (
		v            validityFlags
		ad           appDescFlags
		refvals, out string
	)
	cmd := &cobra.Command{
		Use:   "set-refvals TEMPLATE [--refvals FILE|-] [--out FILE]",
		Short: "Replace the reference values of an existing App Manifest (CMC 0.7)",
		Long: `Replace the referenceValues of the CMC v0.7 App Manifest TEMPLATE (JSON or
CBOR) with the CMC v0.7 reference values of --refvals (default stdin; measure
them with --cmc-version 0.7), keeping every other member,
including ones refval does not know. --not-before/--not-after/--valid-for
also replace the validity window. The result goes to --out (default stdout)
in TEMPLATE's encoding, deterministically.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ad.check(); err != nil {
				return err
			}
			tb, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			d, err := manifest.Parse(tb, "")
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			rvs, err := readRefvalFile(cmd, refvals)
			if err != nil {
				return err
			}
			if err := d.SetReferenceValues(rvs); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if v.changed(cmd) {
				val, err := v.validity()
				if err != nil {
					return err
				}
				if err := d.SetValidity(val); err != nil {
					return err
				}
			}
			var m manifest.AppManifest
			if err := d.Decode(&m); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			b, err := d.Bytes()
			if err != nil {
				return err
			}
			return ad.writeWithDescription(cmd, out, b, m.Name)
		},
	}
	cmd.Flags().StringVar(&refvals, "refvals", "-", `reference values file (JSON or CBOR; "-" for stdin)`)
	cmd.Flags().StringVar(&out, "out", "", "write the manifest here (default stdout)")
	v.register(cmd, "365d")
	ad.register(cmd)
	return cmd
}
