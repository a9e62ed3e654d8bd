package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/refval/refval/engine"
)

// TestHostProfile: the captured file is what --host-profile reads, and a
// prediction from it equals one from --host-profile local on the same host.
func TestHostProfile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "host.json")
	if _, errs, code := runCLI(t, "host-profile", "--out", file); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var h engine.Host
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want, err := engine.LocalHost()
	if err != nil {
		t.Fatal(err)
	}
	if h.Hostname != want.Hostname || len(h.Capabilities) != len(want.Capabilities) || len(h.Devices) != len(want.Devices) {
		t.Errorf("profile %+v does not describe this host (%+v)", h, want)
	}
	fromFile, err := parseRunArgs([]string{"--engine", "containerd", "--privileged", "--host-profile", file})
	if err != nil {
		t.Fatal(err)
	}
	local, err := parseRunArgs([]string{"--engine", "containerd", "--privileged", "--host-profile", "local"})
	if err != nil {
		t.Fatal(err)
	}
	if fromFile.Host.Hostname != local.Host.Hostname || len(fromFile.Host.Devices) != len(local.Host.Devices) {
		t.Error("the captured profile and --host-profile local differ")
	}
	if _, errs, code := runCLI(t, "host-profile", "extra"); code != 2 {
		t.Errorf("extra argument: exit %d (%s), want 2", code, errs)
	}
}
