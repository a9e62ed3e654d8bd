package dockertest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// ShimBinary returns $REFVAL_BIN/containerd-shim-cmc-v1 (make test) or
// builds the shim into a temporary directory.
func ShimBinary(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("REFVAL_BIN"); d != "" {
		p := filepath.Join(d, "containerd-shim-cmc-v1")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("REFVAL_BIN: %v", err)
		}
		return p
	}
	_, here, _, _ := runtime.Caller(0)
	out := filepath.Join(t.TempDir(), "containerd-shim-cmc-v1")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/containerd-shim-cmc-v1")
	cmd.Dir = filepath.Join(filepath.Dir(here), "..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build shim: %v\n%s", err, b)
	}
	return out
}

// Shim is a containerd-shim-cmc-v1 configuration for one test: every
// container is measured in generate mode (generate_all) with scheme, so
// the test reads each container's values and normalized config from
// GenDir/<container-id>/.
type Shim struct {
	Bin    string
	Config string // the shim.toml, named by REFVAL_SHIM_CONFIG
	GenDir string
	List   string
	Log    string
}

// NewShim writes a shim configuration into a new temporary directory.
func NewShim(t testing.TB, bin, scheme string) *Shim {
	t.Helper()
	dir := t.TempDir()
	s := &Shim{
		Bin:    bin,
		Config: filepath.Join(dir, "shim.toml"),
		GenDir: filepath.Join(dir, "gen"),
		List:   filepath.Join(dir, "list.json"),
		Log:    filepath.Join(dir, "shim.log"),
	}
	// cmc_version 0.7: Values reads generate mode's CMC 0.7 reference
	// value, whose sha256 is the template hash the tests compare.
	cfg := fmt.Sprintf("scheme = %q\ncmc_version = \"0.7\"\nlist = %q\nlog_file = %q\ngenerate_all = true\ngenerate_dir = %q\nenforce = true\n",
		scheme, s.List, s.Log, s.GenDir)
	if err := os.WriteFile(s.Config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// Env is the environment entry that points the shim at Config.
func (s *Shim) Env() string { return "REFVAL_SHIM_CONFIG=" + s.Config }

// Values are what the shim measured for one container.
type Values struct {
	ConfigSha256, RootfsSha256, TemplateSha256 string
	// NormalizedConfig is the exact bytes whose SHA-256 is ConfigSha256.
	NormalizedConfig []byte
}

// Values reads the generate-mode output of container id; ok is false
// when the shim wrote none (the container was not measured).
func (s *Shim) Values(id string) (v Values, ok bool, err error) {
	dir := filepath.Join(s.GenDir, id)
	raw, err := os.ReadFile(filepath.Join(dir, "container-refs"))
	if os.IsNotExist(err) {
		return v, false, nil
	}
	if err != nil {
		return v, false, err
	}
	var refs []struct {
		Sha256  string `json:"sha256"`
		CtrData struct {
			ConfigSha256 string `json:"configSha256"`
			RootfsSha256 string `json:"rootfsSha256"`
		} `json:"ctrData"`
	}
	if err := json.Unmarshal(raw, &refs); err != nil || len(refs) != 1 || refs[0].Sha256 == "" {
		return v, false, fmt.Errorf("%s: want one CMC 0.7 reference value with a template hash: %v", dir, err)
	}
	v.TemplateSha256 = refs[0].Sha256
	v.ConfigSha256, v.RootfsSha256 = refs[0].CtrData.ConfigSha256, refs[0].CtrData.RootfsSha256
	if v.NormalizedConfig, err = os.ReadFile(filepath.Join(dir, "container-config.json")); err != nil {
		return v, false, err
	}
	return v, true, nil
}
