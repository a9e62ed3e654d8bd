package dockertest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/dockertest"
)

// runNerdctl runs one container with nerdctl under the shim (env, dir:
// nerdctl's environment and working directory) and returns its values.
func runNerdctl(t *testing.T, n *dockertest.Nerdctl, s *dockertest.Shim, env []string, dir string, args ...string) dockertest.Values {
	t.Helper()
	r := n.RunIn(env, dir, append([]string{"run", "-d", "--runtime", s.Bin}, args...)...)
	if r.ExitCode != 0 {
		t.Fatalf("%s", r)
	}
	id := strings.TrimSpace(r.Stdout)
	n.RunIn(env, dir, "wait", id)
	n.RunIn(env, dir, "rm", id)
	v, ok, err := s.Values(id)
	if err != nil || !ok {
		t.Fatalf("container %s not measured (%v)", id, err)
	}
	return v
}

// TestNerdctlStableWithFixedEnvironment: nerdctl 2.2.1 on containerd
// 2.4.2, the shim as --runtime, refval-v2. The same `nerdctl run` with the
// same fixed environment records one value (HOSTNAME=<short id> is
// normalised), from any working directory; with a shell's PWD, or one more
// variable, in nerdctl's environment it records another, because
// nerdctl's hooks run as root with that environment (docs/measurement.md).
func TestNerdctlStableWithFixedEnvironment(t *testing.T) {
	shim := dockertest.NewShim(t, dockertest.ShimBinary(t), "refval-v2")
	n := dockertest.NewNerdctl(t, ctrtest.V2_4, ctrtest.WithEnv(shim.Env()))
	n.Load(busyboxArchive(t, "refval-test/busybox:1"))
	if err := os.MkdirAll(n.CNIConf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, netw := range []string{"none", "host"} {
		cmd := []string{"--network", netw, "refval-test/busybox:1", "true"}
		a := runNerdctl(t, n, shim, n.Env, n.Dir, cmd...)
		b := runNerdctl(t, n, shim, n.Env, n.Dir, cmd...)
		if a.TemplateSha256 != b.TemplateSha256 {
			t.Errorf("--network %s: two starts differ:\n%s\n%s", netw, a.NormalizedConfig, b.NormalizedConfig)
		}
		// A fixed environment makes the working directory irrelevant...
		if c := runNerdctl(t, n, shim, n.Env, os.TempDir(), cmd...); c.TemplateSha256 != a.TemplateSha256 {
			t.Errorf("--network %s: with the same environment, another working directory measures differently:\n%s", netw, c.NormalizedConfig)
		}
		// ...but a shell's PWD in it is measured: two directories, two values.
		pwd1 := runNerdctl(t, n, shim, append([]string{"PWD=/"}, n.Env...), "/", cmd...)
		pwd2 := runNerdctl(t, n, shim, append([]string{"PWD=" + os.TempDir()}, n.Env...), os.TempDir(), cmd...)
		if pwd1.TemplateSha256 == pwd2.TemplateSha256 {
			t.Errorf("--network %s: PWD in nerdctl's environment is not measured", netw)
		}
		if c := runNerdctl(t, n, shim, append([]string{"LD_PRELOAD=/x.so"}, n.Env...), n.Dir, cmd...); c.TemplateSha256 == a.TemplateSha256 {
			t.Errorf("--network %s: LD_PRELOAD in nerdctl's environment measures alike", netw)
		}
	}
}
