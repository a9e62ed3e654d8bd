package shim_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/shim"
)

// The documented example configuration is the defaults, spelled out.
func TestExampleShimConfig(t *testing.T) {
	raw, err := os.ReadFile("../examples/shim.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := shim.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(shim.DefaultConfig(), c, cmpopts.IgnoreUnexported(shim.Config{})); d != "" {
		t.Errorf("examples/shim.toml differs from the defaults (-defaults +example):\n%s", d)
	}
}

// The containerd examples load in the containerd they are written for
// and keep the runtime settings the docs describe.
func TestExampleContainerdConfigs(t *testing.T) {
	tests := []struct{ file, version, want string }{
		{"config-1.x.toml", ctrtest.V1_6, `runtime_type = "io.containerd.cmc.v1"`},
		{"config-1.6-runtime-v1.toml", ctrtest.V1_6, `runtime = "/usr/local/bin/containerd-shim-cmc-v1"`},
		{"config-2.x.toml", ctrtest.V2_4, `runtime_type = 'io.containerd.cmc.v1'`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			bin, err := ctrtest.BinDir(tt.version)
			if err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatal(err)
				}
				t.Skip(err)
			}
			abs, _ := filepath.Abs(filepath.Join("../examples/containerd", tt.file))
			out, err := exec.Command(filepath.Join(bin, "containerd"), "--config", abs, "config", "dump").Output()
			if err != nil {
				t.Fatalf("containerd %s config dump: %v", tt.version, err)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("dumped config lacks %s", tt.want)
			}
		})
	}
}
