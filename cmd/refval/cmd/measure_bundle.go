package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() {
	register(newMeasureBundleCmd)
	// CMC's measure-bundle took -config and -rootfs (Go flag syntax).
	registerLegacyFlags("measure-bundle", "config", "rootfs")
}

// measureFlags are the output flags shared by measure-bundle and measure.
type measureFlags struct {
	fs         *pflag.FlagSet
	scheme     string
	id         string
	name       string
	driver     string
	pcr        int
	optional   bool
	output     string
	records    string
	normalized string
}

func (f *measureFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.fs = fl
	fl.StringVar(&f.scheme, "scheme", string(bundle.SchemeV1), "measurement scheme: refval-v1, refval-v2 or cmc (--engine kubernetes: default refval-v2)")
	fl.StringVar(&f.id, "id", "", "container ID to replace by <container-id> in the config")
	fl.StringVar(&f.name, "name", "", "name of the reference value (default: derived from the input)")
	fl.StringVar(&f.driver, "driver", manifest.DriverSW, "how the runtime records the measurement: tpm (PCR) or sw (list)")
	fl.IntVar(&f.pcr, "pcr", manifest.DefaultPCR, "PCR of the TPM reference value (with --driver tpm)")
	fl.BoolVar(&f.optional, "optional", false, "mark the reference value optional")
	fl.StringVarP(&f.output, "output", "o", "json", "output format: json or text")
	fl.StringVar(&f.records, "records", "", "write the rootfs records (JSON lines) to this file")
	fl.StringVar(&f.normalized, "normalized-config", "", "write the normalized config (the bytes hashed) to this file")
}

// validate checks the flag values and returns the bundle options they imply.
func (f *measureFlags) validate() ([]bundle.Option, error) {
	scheme, err := bundle.ParseScheme(f.scheme)
	if err != nil {
		return nil, UsageErrorf("--scheme: %v", err)
	}
	if f.driver != manifest.DriverSW && f.driver != manifest.DriverTPM {
		return nil, UsageErrorf("--driver: %q is not tpm or sw", f.driver)
	}
	if f.pcr < 0 || f.pcr > 23 {
		return nil, UsageErrorf("--pcr: %d is not in 0..23", f.pcr)
	}
	if f.fs.Changed("pcr") && f.driver != manifest.DriverTPM {
		return nil, UsageErrorf("--pcr: only a TPM reference value has a PCR (add --driver tpm)")
	}
	if f.output != "json" && f.output != "text" {
		return nil, UsageErrorf("--output: %q is not json or text", f.output)
	}
	if f.records != "" && scheme == bundle.SchemeCMC {
		return nil, UsageErrorf("--records: the cmc scheme has no per-entry records")
	}
	return []bundle.Option{bundle.WithScheme(scheme), bundle.WithContainerID(f.id)}, nil
}

// withRecords runs measure with a record function writing f.records
// atomically (nothing is left behind when measure fails).
func (f *measureFlags) withRecords(measure func(opts ...bundle.Option) error) error {
	if f.records == "" {
		return measure()
	}
	return atomicfile.Write(f.records, 0o644, func(w io.Writer) error {
		write, flush := bundle.RecordWriter(w)
		if err := measure(bundle.WithRecordFunc(write)); err != nil {
			return err
		}
		return flush()
	})
}

// print writes the reference value of r (and the normalized config when
// asked) the way every measuring command does. extra fields are added to
// the text output only.
func (f *measureFlags) print(w io.Writer, name string, r *bundle.Result, extra ...[2]string) error {
	if f.normalized != "" {
		if err := atomicfile.WriteFile(f.normalized, r.NormalizedConfig, 0o644); err != nil {
			return err
		}
	}
	rv, err := manifest.ContainerReferenceValue(name, f.driver, f.pcr, f.optional, r)
	if err != nil {
		return err
	}
	if f.output == "text" {
		fmt.Fprintf(w, "name:           %s\nscheme:         %s\ntemplateSha256: %s\nconfigSha256:   %s\nrootfsSha256:   %s\nentries:        %d\n",
			name, r.Scheme, r.TemplateSha256, r.ConfigSha256, r.RootfsSha256, r.Entries)
		for _, kv := range extra {
			fmt.Fprintf(w, "%-15s %s\n", kv[0]+":", kv[1])
		}
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode([]manifest.ReferenceValue{rv})
}

func newMeasureBundleCmd() *cobra.Command {
	var f measureFlags
	var configPath, rootfsPath string
	var runtimeOwners bool
	cmd := &cobra.Command{
		Use:   "measure-bundle [BUNDLE_DIR]",
		Short: "Measure an OCI runtime bundle (config.json + rootfs) into a reference value",
		Long: `Measure an OCI runtime bundle: the normalized config.json and the rootfs,
combined into the template hash that containerd-shim-cmc-v1 records at runtime
(docs/measurement.md). Prints a JSON array with one CMC reference value.

The bundle is BUNDLE_DIR (config.json, and the rootfs that root.path names), or
--config and --rootfs given explicitly. The original tool's form
"measure-bundle -config C -rootfs R" is accepted unchanged.

Exit codes: 0 measured, 1 measurement error, 2 usage error.`,
		Example: `  refval measure-bundle ./bundle
  refval measure-bundle --config bundle/config.json --rootfs bundle/rootfs --driver tpm --pcr 11
  refval measure-bundle ./bundle --records records.jsonl --normalized-config config.norm.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.validate()
			if err != nil {
				return err
			}
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			switch {
			case dir == "" && (configPath == "" || rootfsPath == ""):
				return UsageErrorf("give BUNDLE_DIR, or both --config and --rootfs")
			case configPath != "":
				opts = append(opts, bundle.WithConfigPath(configPath))
			}
			if rootfsPath != "" {
				opts = append(opts, bundle.WithRootfsPath(rootfsPath))
			}
			if runtimeOwners {
				opts = append(opts, bundle.WithoutRootlessXattr())
			}
			name := f.name
			if name == "" {
				name = defaultBundleName(dir, configPath, f.id)
			}
			var res *bundle.Result
			err = f.withRecords(func(more ...bundle.Option) (err error) {
				res, err = bundle.Measure(cmd.Context(), dir, append(opts, more...)...)
				return err
			})
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), name, res)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&configPath, "config", "", "path of the bundle's config.json")
	cmd.Flags().StringVar(&rootfsPath, "rootfs", "", "path of the rootfs directory")
	cmd.Flags().BoolVar(&runtimeOwners, "runtime-owners", false, "ignore user.rootlesscontainers and measure on-disk owners, as the runtime shim does (for bundles a privileged engine wrote)")
	return cmd
}

// defaultBundleName names a reference value after the container ID, or
// else the bundle directory (the directory of the config file).
func defaultBundleName(dir, configPath, id string) string {
	if id != "" {
		return id
	}
	if dir == "" {
		dir = filepath.Dir(configPath)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Base(dir)
}
