package shim_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyTiers pins what the shim and the document package link:
// the shim imports manifest for its reference values and dialects only,
// and manifest, the wire format, must not reach the runtime-config
// predictor (package engine) or the parsers it brings (umoci, YAML), whose
// package init runs at every start of the shim (issue 14). The pipeline
// that needs them is the composition tier's (package refval).
func TestDependencyTiers(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("go tool not found: the dependency check needs it in CI")
		}
		t.Skip("go tool not found:", err)
	}
	forbidden := []string{"github.com/refval/refval/engine", "github.com/opencontainers/umoci", "yaml"}
	pkgs := []string{"github.com/refval/refval/cmd/containerd-shim-cmc-v1", "github.com/refval/refval/manifest"}
	// One line per package: its import path, then every package it
	// depends on, directly or not.
	args := append([]string{"list", "-tags", buildTags + " netgo osusergo", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}"}, pkgs...)
	out, err := exec.Command(goTool, args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(pkgs) {
		t.Fatalf("go list printed %d lines for %d packages:\n%s", len(lines), len(pkgs), out)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		for _, dep := range f[1:] {
			for _, bad := range forbidden {
				if strings.Contains(dep, bad) {
					t.Errorf("%s depends on %s", f[0], dep)
				}
			}
		}
	}
}
