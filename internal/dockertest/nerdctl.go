package dockertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/refval/refval/internal/ctrtest"
)

// NerdctlVersion is the nerdctl release scripts/deps.sh builds.
const NerdctlVersion = "v2.2.1"

// NerdctlPath returns nerdctl's path: $REFVAL_NERDCTL, else
// $REFVAL_CACHE (or the user cache)/refval/nerdctl-v2.2.1/nerdctl.
func NerdctlPath() (string, error) {
	if p := os.Getenv("REFVAL_NERDCTL"); p != "" {
		return p, nil
	}
	cache := os.Getenv("REFVAL_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(base, "refval")
	}
	p := filepath.Join(cache, "nerdctl-"+NerdctlVersion, "nerdctl")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("nerdctl %s: %w (run scripts/deps.sh)", NerdctlVersion, err)
	}
	return p, nil
}

// Nerdctl runs nerdctl against a private containerd (ctrtest) with its
// own data root, namespace and CNI directories, always with the same
// fixed environment and working directory: nerdctl copies its whole
// environment into the hooks it adds to every container, so this is what
// a deterministic caller must do too (docs/measurement.md).
type Nerdctl struct {
	t          testing.TB
	Bin        string
	C          *ctrtest.Containerd
	DataRoot   string
	Namespace  string
	CNIPath    string
	CNIConf    string
	Env        []string // nerdctl's complete environment
	Dir        string   // nerdctl's working directory
	GlobalArgs []string
}

// FixedEnv is the environment Nerdctl runs nerdctl with.
var FixedEnv = []string{"PATH=" + SystemPATH, "HOME=/root"}

// NewNerdctl starts a containerd of version (ctrtest) with the extra
// options and returns a nerdctl bound to it.
func NewNerdctl(t testing.TB, version string, opts ...ctrtest.Option) *Nerdctl {
	t.Helper()
	bin, err := NerdctlPath()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	c := ctrtest.New(t, version, opts...)
	// The namespace of the harness's containerd, unique per test: runc
	// keeps per-namespace state under /run/containerd/runc.
	n := &Nerdctl{t: t, Bin: bin, C: c, DataRoot: filepath.Join(c.Dir, "nerdctl"), Namespace: c.Namespace,
		CNIPath: "/usr/lib/cni", CNIConf: filepath.Join(c.Dir, "cni-conf"), Env: FixedEnv, Dir: "/"}
	n.GlobalArgs = []string{"--address", c.Address, "--namespace", n.Namespace, "--data-root", n.DataRoot,
		"--cni-path", n.CNIPath, "--cni-netconfpath", n.CNIConf}
	t.Cleanup(func() {
		// Containers first, so that their poststop hooks run while
		// containerd is still there.
		if r := n.Run("ps", "-aq"); r.ExitCode == 0 {
			for _, id := range bytes.Fields([]byte(r.Stdout)) {
				n.Run("rm", "-f", string(id))
			}
		}
	})
	return n
}

// Run runs nerdctl with the global flags and args, in n.Env and n.Dir.
func (n *Nerdctl) Run(args ...string) Result {
	return n.RunIn(n.Env, n.Dir, args...)
}

// RunIn is Run with another environment and working directory (to show
// what a caller's environment does to the measurement).
func (n *Nerdctl) RunIn(env []string, dir string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.Bin, append(append([]string{}, n.GlobalArgs...), args...)...)
	cmd.Env, cmd.Dir = env, dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Args: args, Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.ExitCode = ee.ExitCode()
	case err != nil:
		r.Err, r.ExitCode = err, -1
	}
	return r
}

// Load runs `nerdctl load -i archive`, failing the test when it fails.
func (n *Nerdctl) Load(archive string) {
	n.t.Helper()
	if r := n.Run("load", "-i", archive); r.ExitCode != 0 || r.Err != nil {
		n.t.Fatalf("dockertest: nerdctl %s", r)
	}
}
