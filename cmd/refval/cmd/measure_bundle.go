package cmd

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"github.com/spf13/cobra"
)

// print writes the reference value of r (and the normalized config when
// asked) the way every measuring command does. extra fields are added to
// the text output only.
func (f *measureFlags) print(w io.Writer, name string, r *bundle.Result, extra ...[2]string) error {
	if f.normalized != "" {
		if err := atomicfile.WriteFile(f.normalized, r.NormalizedConfig, 0o644); err != nil {
			return err
		}
	}
	var comps []manifest.Component
	var rvs []manifest.ReferenceValue
	if f.cmc == manifest.CMC09 {
		c, err := manifest.ContainerComponent(name, f.driver, f.pcr, f.optional, r)
		if err != nil {
			return err
		}
		comps = []manifest.Component{c}
	} else {
		rv, err := manifest.ContainerReferenceValue(name, f.driver, f.pcr, f.optional, r)
		if err != nil {
			return err
		}
		rvs = []manifest.ReferenceValue{rv}
	}
	if f.output == "text" {
		fmt.Fprintf(w, "name:           %s\nscheme:         %s\ntemplateSha256: %s\nconfigSha256:   %s\nrootfsSha256:   %s\nentries:        %d\n",
			name, r.Scheme, r.TemplateSha256, r.ConfigSha256, r.RootfsSha256, r.Entries)
		for _, kv := range extra {
			fmt.Fprintf(w, "%-15s %s\n", kv[0]+":", kv[1])
		}
		return nil
	}
	if comps != nil {
		return manifest.WriteComponents(w, comps)
	}
	return manifest.WriteReferenceValues(w, rvs)
}

func newMeasureBundleCmd() *cobra.Command {
	var f measureFlags
	var configPath, rootfsPath string
	var runtimeOwners, cmcTool bool
	var lf *limitFlags // work bounds of the walk (limits.go)
	cmd := &cobra.Command{
		Use:   "measure-bundle [BUNDLE_DIR]",
		Short: "Measure an OCI runtime bundle (config.json + rootfs) into a reference value",
		Long: `Measure an OCI runtime bundle: the normalized config.json and the rootfs,
combined into the template hash that containerd-shim-cmc-v1 records at runtime
(docs/measurement.md). Prints a JSON array with one CMC v0.9 component (hash:
the rootfs hash, ctrData.ociSpec: the normalised config), the input of
"metatool create manifest --components" and of "refval manifest create
--refvals"; with --cmc-version 0.7 one CMC v0.7 reference value (sha256: the
template hash).

The bundle is BUNDLE_DIR (config.json, and the rootfs that root.path names), or
--config and --rootfs given explicitly. The original tool's form
"measure-bundle -config C -rootfs R" (exactly that) prints exactly what CMC
v0.7's tool printed: two optional TPM reference values "OCI Runtime Config"
and "OCI Runtime Rootfs" (scheme cmc, container ID "mycontainer"). CMC cannot
match a container against those; use the default output (add --id and
--driver as needed).

The walk of the rootfs is bounded by --max-entries and --max-depth (the
limits of "refval measure" that apply on disk: names and paths there have
passed the kernel already, and file sizes are what is on disk).

Exit codes: 0 measured, 1 measurement error, 2 usage error.`,
		Example: `  refval measure-bundle ./bundle
  refval measure-bundle --config bundle/config.json --rootfs bundle/rootfs --driver tpm --pcr 11
  refval measure-bundle ./bundle --records records.jsonl --normalized-config config.norm.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmcTool {
				return cmcToolOutput(cmd.Context(), cmd.OutOrStdout(), configPath, rootfsPath)
			}
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
			opts = append(opts, bundle.WithLimits(lf.limits()))
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
	cmd.Flags().BoolVar(&cmcTool, cmcToolFlag, false, "print what CMC v0.7's measure-bundle printed (set for its exact command line)")
	_ = cmd.Flags().MarkHidden(cmcToolFlag)
	cmd.Flags().BoolVar(&runtimeOwners, "runtime-owners", false, "ignore user.rootlesscontainers and measure on-disk owners, as the runtime shim does (for bundles a privileged engine wrote)")
	lf = registerDiskLimitFlags(cmd.Flags())
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
