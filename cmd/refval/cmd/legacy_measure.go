package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/manifest"
)

// cmcToolFlag marks the command line of CMC v0.7's own measure-bundle tool
// ("measure-bundle -config C -rootfs R", nothing else), which refval then
// answers exactly as that tool did (cmcToolOutput).
const cmcToolFlag = "cmc-tool-output"

// cmcToolContainerID is the container ID CMC's measure-bundle hard-coded.
const cmcToolContainerID = "mycontainer"

// markCMCToolForm appends --cmc-tool-output when args are exactly CMC's
// tool form: measure-bundle with -config and -rootfs, each once, in Go
// flag syntax (-name value or -name=value), and nothing else.
func markCMCToolForm(args []string) []string {
	if len(args) == 0 || args[0] != "measure-bundle" {
		return args
	}
	seen := map[string]bool{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "--") || !strings.HasPrefix(a, "-") {
			return args
		}
		name, _, hasValue := strings.Cut(a[1:], "=")
		if (name != "config" && name != "rootfs") || seen[name] {
			return args
		}
		seen[name] = true
		if !hasValue {
			i++ // the value
			if i >= len(args) {
				return args
			}
		}
	}
	if !seen["config"] || !seen["rootfs"] {
		return args
	}
	return append(append([]string{}, args...), "--"+cmcToolFlag)
}

// cmcToolOutput prints what CMC v0.7's measure-bundle printed for a config
// and a rootfs: two optional TPM reference values for PCR 11, "OCI Runtime
// Config" (the cmc scheme's config hash, container ID "mycontainer") and
// "OCI Runtime Rootfs" (its rootfs hash), a JSON array indented by four
// spaces. It is kept for scripts written for that tool; a reference value
// CMC can match is the template hash refval measure-bundle prints by
// default (docs/measurement.md).
func cmcToolOutput(ctx context.Context, w io.Writer, config, rootfs string) error {
	raw, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	cfg, _, err := bundle.HashConfig(raw, bundle.WithScheme(bundle.SchemeCMC), bundle.WithContainerID(cmcToolContainerID))
	if err != nil {
		return fmt.Errorf("%s: %w", config, err)
	}
	rfs, _, err := bundle.HashRootfs(ctx, rootfs, bundle.WithScheme(bundle.SchemeCMC))
	if err != nil {
		return err
	}
	pcr := manifest.DefaultPCR
	refs := []manifest.ReferenceValue{
		{Type: manifest.TypeTPM, Name: "OCI Runtime Config", Sha256: cfg[:], Pcr: &pcr, Optional: true},
		{Type: manifest.TypeTPM, Name: "OCI Runtime Rootfs", Sha256: rfs[:], Pcr: &pcr, Optional: true},
	}
	b, err := json.MarshalIndent(refs, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
