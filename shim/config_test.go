package shim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/refval/refval/driver"
)

func TestParseConfig(t *testing.T) {
	full := `
cmc_version = "0.7"
scheme = "cmc"
driver = "tpm"
pcr = 12
list = "/var/lib/refval/list.cbor"
list_format = "cbor"
tpm = "tcp://127.0.0.1:2321"
cmcd_socket = "/run/cmcd.sock"
runc = "/usr/sbin/runc"
runc_shim = "/usr/bin/containerd-shim-runc-v2"
runc_link_dir = "/usr/local/libexec/refval"
log_file = "/var/log/shim.log"
log_level = "debug"
enforce = true
generate_all = true
generate_dir = "/var/lib/refval/generated"
`
	want := &Config{CMCVersion: "0.7", Scheme: "cmc", Driver: "tpm", PCR: 12, List: "/var/lib/refval/list.cbor", ListFormat: "cbor",
		TPM: "tcp://127.0.0.1:2321", CMCDSocket: "/run/cmcd.sock", Runc: "/usr/sbin/runc",
		RuncShim: "/usr/bin/containerd-shim-runc-v2", RuncLinkDir: "/usr/local/libexec/refval",
		LogFile: "/var/log/shim.log", LogLevel: "debug", Enforce: true, GenerateAll: true,
		GenerateDir: "/var/lib/refval/generated"}
	got, err := ParseConfig([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Config{})); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	empty, err := ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(DefaultConfig(), empty, cmpopts.IgnoreUnexported(Config{})); d != "" {
		t.Errorf("empty file is not the defaults:\n%s", d)
	}
	if empty.Enforce || empty.Driver != "sw" || empty.PCR != 11 || empty.LogFile != "/tmp/containerd-shim-cmc.log" || empty.GenerateDir != "/tmp/measure" {
		t.Errorf("defaults changed: %+v", empty)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct{ in, mention string }{
		{"enforse = true", "enforse"},
		{"scheme = \"v2\"", "scheme"},
		{"driver = \"hsm\"", "driver"},
		{"pcr = 24", "pcr"},
		{"pcr = -1", "pcr"},
		{"list_format = \"yaml\"", "list_format"},
		{"list = \"relative/list.json\"", "list"},
		{"list = \"\"", "list"},
		{"log_level = \"loud\"", "log_level"},
		{"enforce = \"yes\"", "enforce"},
		{"pcr = ", "line 1"},
	}
	for _, tt := range tests {
		_, err := ParseConfig([]byte(tt.in))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("ParseConfig(%q) = %v; want ErrConfig naming %q", tt.in, err, tt.mention)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.toml")
	if c, err := LoadConfig(missing, false); err != nil || c.Driver != driver.SW {
		t.Errorf("missing default file: %v %+v", err, c)
	}
	if _, err := LoadConfig(missing, true); !errors.Is(err, ErrConfig) {
		t.Errorf("missing explicit file: %v, want ErrConfig", err)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("driver = 1"), 0o644)
	if _, err := LoadConfig(bad, false); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad file: %v; want an error naming %s", err, bad)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("driver = \"tpm\"\npcr = 11\n"))
	f.Add([]byte("[x]\ny=1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("ParseConfig accepted an invalid config: %v", err)
			}
		}
	})
}
