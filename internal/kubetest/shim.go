package kubetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/shim"
)

// Shim is containerd-shim-cmc-v1 configured for a kubelet test: the
// default CRI runtime handler "cmc" (runtime_type io.containerd.cmc.v1, as
// examples/kubernetes configures it), measuring with Scheme into its own
// list, log and generate directory (generate_all, so the normalised config
// of every container is kept for diffs).
type Shim struct {
	Bin         string
	Dir         string
	Scheme      string
	LogFile     string
	GenerateDir string
}

// shimBuildTags are the Makefile's TAGS.
const shimBuildTags = "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper containers_image_storage_stub"

// shimBinary returns $REFVAL_BIN/containerd-shim-cmc-v1, or builds it into
// dir (quick after the first time: go's build cache).
func shimBinary(dir string) (string, error) {
	if d := os.Getenv("REFVAL_BIN"); d != "" {
		p := filepath.Join(d, "containerd-shim-cmc-v1")
		_, err := os.Stat(p)
		return p, err
	}
	p := filepath.Join(dir, "bin", "containerd-shim-cmc-v1")
	// As the Makefile builds it: with cgo (the shim's C front), static.
	cmd := exec.Command("go", "build", "-tags", shimBuildTags+" netgo osusergo", "-ldflags", "-linkmode external -extldflags -static", "-o", p, "github.com/refval/refval/cmd/containerd-shim-cmc-v1")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build shim: %v\n%s", err, out)
	}
	return p, nil
}

// NewShim prepares the shim with scheme in a fresh directory.
func NewShim(t testing.TB, scheme string) *Shim {
	t.Helper()
	dir := t.TempDir()
	bin, err := shimBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &Shim{Bin: bin, Dir: dir, Scheme: scheme, LogFile: filepath.Join(dir, "shim.log"), GenerateDir: filepath.Join(dir, "generate")}
	link := filepath.Join(dir, "link")
	if err := os.Mkdir(link, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(link, "runc")); err != nil {
		t.Fatal(err)
	}
	// The tests read the CMC 0.7 generate output (template, config and
	// rootfs hashes in one reference value).
	cfg := fmt.Sprintf("cmc_version = \"0.7\"\nscheme = %q\nlist = %q\nlog_file = %q\nlog_level = \"info\"\nrunc_link_dir = %q\ngenerate_all = true\ngenerate_dir = %q\n",
		scheme, filepath.Join(dir, "list.json"), s.LogFile, link, s.GenerateDir)
	if err := os.WriteFile(filepath.Join(dir, "shim.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The shim's C front caches what it decided under /run; remove them.
	t.Cleanup(func() { shim.RemoveFastCaches(filepath.Join(dir, "shim.toml")) })
	return s
}

// Options returns the Start options that make the shim containerd's
// default runtime for version.
func (s *Shim) Options(version string) []Option {
	plugin := "io.containerd.cri.v1.runtime"
	if version == ctrtest.V1_6 {
		plugin = "io.containerd.grpc.v1.cri"
	}
	runtime := fmt.Sprintf("[plugins.%q.containerd.runtimes.cmc]\n  runtime_type = \"io.containerd.cmc.v1\"\n", plugin)
	return []Option{
		WithContainerd(ctrtest.WithPath(filepath.Dir(s.Bin)), ctrtest.WithEnv(shim.ConfigEnv+"="+filepath.Join(s.Dir, "shim.toml"))),
		WithDefaultRuntime("cmc", runtime),
	}
}

// Measured is one "measured container" line of the shim's log.
type Measured struct {
	ID             string `json:"id"`
	Scheme         string `json:"scheme"`
	ConfigSha256   string `json:"configSha256"`
	RootfsSha256   string `json:"rootfsSha256"`
	TemplateSha256 string `json:"templateSha256"`
}

// Measurements reads the shim's log: container ID -> its measurement.
func (s *Shim) Measurements(t testing.TB) map[string]Measured {
	t.Helper()
	f, err := os.Open(s.LogFile)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]Measured{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg string `json:"msg"`
			Measured
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "measured container" {
			m[rec.ID] = rec.Measured
		}
	}
	return m
}

// NormalizedConfig returns the normalised config the shim measured for
// container id (its generate directory's container-config.json).
func (s *Shim) NormalizedConfig(id string) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.GenerateDir, id, "container-config.json"))
}
