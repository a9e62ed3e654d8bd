package front_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/refval/refval/shim"
	"github.com/refval/refval/shim/front"
)

// corpus: what containerd's runc shims pass (go-runc), and the shapes
// around them that a classifier could get wrong. fast is what the front
// must do, written down from runc's flag syntax, not from either parser.
var corpus = []struct {
	fast bool
	args []string
}{
	{true, []string{"--root", "/run/containerd/runc/k8s.io", "--log", "/s/log.json", "--log-format", "json", "start", "c"}},
	{true, []string{"--root", "/r", "--log", "/l", "--log-format", "json", "state", "c"}},
	{true, []string{"--root", "/r", "--log", "/l", "--log-format", "json", "delete", "--force", "c"}},
	{true, []string{"--root", "/r", "--log", "/l", "--log-format", "json", "--systemd-cgroup", "kill", "c", "9"}},
	{true, []string{"--debug", "--root", "/r", "--log", "/l", "--log-format", "json", "events", "--stats", "c"}},
	{true, []string{"--root=/r", "--log=/l", "--log-format=json", "ps", "--format", "json", "c"}},
	{true, []string{"-root", "/r", "-log", "/l", "update", "--resources", "-", "c"}},
	{true, []string{"--root", "/r", "exec", "--process", "/p.json", "--detach", "c"}},
	{true, []string{"--root", "/r", "pause", "c"}}, {true, []string{"--root", "/r", "resume", "c"}},
	{true, []string{"--root", "/r", "checkpoint", "--image-path", "/i", "c"}},
	{true, []string{"features"}}, {true, []string{"list"}}, {true, []string{"--root", "/r", "list", "-q"}},
	{true, []string{"--criu", "/c", "--rootless", "auto", "state", "c"}},
	{true, []string{"-root=/r", "kill", "c"}}, {true, []string{"--root=", "state", "c"}},
	// A value flag takes the next argument, whatever it is.
	{true, []string{"--log-format", "create", "state", "c"}},
	{true, []string{"--root", "create", "state", "c"}},
	{true, []string{"--log", "--root", "state", "c"}},
	// Measured, in every shape.
	{false, []string{"--root", "/r", "--log", "/l", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "/p", "c"}},
	{false, []string{"--root", "/r", "run", "-b", "/b", "c"}},
	{false, []string{"--root", "/r", "--log", "/l", "restore", "--image-path", "/i", "--bundle", "/b", "c"}},
	{false, []string{"create", "c"}}, {false, []string{"run", "c"}}, {false, []string{"restore", "c"}},
	{false, []string{"--systemd-cgroup", "create", "state"}},
	{false, []string{"--debug", "run", "state"}},
	// Not certain: left to Go.
	{false, []string{"--unknown", "create", "state"}},
	{false, []string{"--unknown", "state", "c"}},
	{false, []string{"--debug=true", "state", "c"}},
	{false, []string{"--debug=false", "create", "c"}},
	{false, []string{"---root", "/r", "state", "c"}},
	{false, []string{"--", "state", "c"}}, {false, []string{"--", "create", "c"}},
	{false, []string{"-", "state"}}, {false, []string{"--=x", "state"}},
	{false, []string{"--root"}}, {false, []string{"--root", "/r"}}, {false, []string{}},
	{false, []string{""}}, {false, []string{"", "state"}},
	{false, []string{"--version"}}, {false, []string{"-v"}}, {false, []string{"--help"}},
	{false, []string{"help", "state"}}, {false, []string{"spec"}}, {false, []string{"init"}},
	{false, []string{"State", "c"}}, {false, []string{"statex", "c"}},
}

// check fails when the C front would pass argv through while the Go
// wrapper would not, or would see another subcommand. A measured call
// classified as a pass-through would start a container unmeasured.
func check(t *testing.T, args []string) (fast bool) {
	t.Helper()
	argv := append([]string{"runc"}, args...)
	i := front.Classify(argv)
	if i < 0 {
		return false
	}
	call, _ := shim.ParseRuncArgs(args)
	if shim.Measured(argv[i]) || shim.Measured(call.Command) {
		t.Fatalf("UNMEASURED CONTAINER: the C front passes %q through; the Go wrapper measures it (subcommand %q)", args, call.Command)
	}
	if i >= len(argv) || argv[i] != call.Command {
		t.Fatalf("%q: the C front sees subcommand %d, the Go wrapper %q", args, i, call.Command)
	}
	return true
}

func TestClassifyAgreesWithParseRuncArgs(t *testing.T) {
	if !front.Enabled {
		t.Skip("built without cgo: no C front")
	}
	for _, c := range corpus {
		if got := check(t, c.args); got != c.fast {
			t.Errorf("%q: fast path %v, want %v", c.args, got, c.fast)
		}
	}
}

// TestClassifyNeverPassesMeasured: create, run and restore, in any
// position after any global flags the front accepts, go to Go.
func TestClassifyNeverPassesMeasured(t *testing.T) {
	if !front.Enabled {
		t.Skip("built without cgo: no C front")
	}
	globals := [][]string{nil, {"--root", "/r"}, {"--root=/r"}, {"--debug"}, {"--systemd-cgroup"}, {"-log", "/l", "--log-format", "text"}}
	for _, g := range globals {
		for _, cmd := range []string{"create", "run", "restore"} {
			args := append(append([]string{"runc"}, g...), cmd, "--bundle", "/b", "c")
			if i := front.Classify(args); i >= 0 {
				t.Errorf("UNMEASURED CONTAINER: %q classified as pass-through (index %d)", args, i)
			}
		}
	}
}

// FuzzClassify: for any argv, the C front passes through only what the
// Go wrapper passes through, with the same subcommand.
func FuzzClassify(f *testing.F) {
	if !front.Enabled {
		f.Skip("built without cgo: no C front")
	}
	for _, c := range corpus {
		f.Add(strings.Join(c.args, "\n"))
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			return // no NUL in an argv string
		}
		check(t, strings.Split(s, "\n"))
	})
}

// checkShim fails when the C front takes argv as a shim-mode call while
// the Go Main would take it as runc (which may measure).
func checkShim(t *testing.T, argv []string) bool {
	t.Helper()
	if !front.ShimClassify(argv) {
		return false
	}
	if len(argv) == 0 || filepath.Base(argv[0]) == shim.RuncName || shim.LooksLikeRunc(argv[1:]) {
		t.Fatalf("UNMEASURED CONTAINER: the C front takes %q as a shim call; the Go Main as runc", argv)
	}
	return true
}

func TestShimClassifyAgreesWithMain(t *testing.T) {
	if !front.Enabled {
		t.Skip("built without cgo: no C front")
	}
	shimCalls := [][]string{
		{"containerd-shim-cmc-v1", "-namespace", "n", "-address", "/a", "-publish-binary", "/c", "-id", "x", "start"},
		{"/usr/local/bin/containerd-shim-cmc-v1", "-namespace", "n", "-id", "x", "-bundle", "/b", "delete"},
		{"containerd-shim-cmc-v1", "-info"}, {"containerd-shim-cmc-v1", "--namespace", "n", "start"},
	}
	for _, a := range shimCalls {
		if !checkShim(t, a) {
			t.Errorf("%q: not taken as a shim call", a)
		}
	}
	others := [][]string{
		{"runc", "-namespace", "n", "start"}, {"/x/runc", "-info"},
		{"/x/runc/", "-namespace", "create", "c"}, {"runc//", "-info"}, {"", "-namespace", "n", "start"},
		{"containerd-shim-cmc-v1", "--root", "/r", "-namespace", "n", "create", "c"},
		{"containerd-shim-cmc-v1", "create", "c"}, {"containerd-shim-cmc-v1", "-v"}, {"containerd-shim-cmc-v1"},
		{"containerd-shim-cmc-v1", "-namespace=n", "start"}, {"containerd-shim-cmc-v1", "-address", "/a", "-namespace", "n", "start"},
	}
	for _, c := range corpus {
		others = append(others, append([]string{"containerd-shim-cmc-v1"}, c.args...))
	}
	for _, a := range others {
		if checkShim(t, a) {
			t.Errorf("%q: taken as a shim call", a)
		}
	}
}

// FuzzShimClassify: the C front takes as a shim call only what the Go
// Main takes as one.
func FuzzShimClassify(f *testing.F) {
	if !front.Enabled {
		f.Skip("built without cgo: no C front")
	}
	f.Add("containerd-shim-cmc-v1\n-namespace\nn\nstart")
	f.Add("runc\n-info")
	f.Add("/x/runc/\n-namespace\ncreate")
	f.Add("\n--namespace")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			return
		}
		checkShim(t, strings.Split(s, "\n"))
	})
}

// FuzzPrepare: any token, configuration path and PATH in the
// environment leave the front's decision well-defined: no crash, and a
// fast path only with a real runc that is not this binary.
func FuzzPrepare(f *testing.F) {
	if !front.Enabled {
		f.Skip("built without cgo: no C front")
	}
	f.Add("1:-:d:2f6e6f:", "/nonexistent", "/usr/bin:/bin")
	f.Add("1:1.2.3.4.5.6.7:e:2f:2f62696e2f74727565", "/", "")
	f.Add("", "", "a::b")
	f.Fuzz(func(t *testing.T, tok, cfg, path string) {
		for _, s := range []string{tok, cfg, path} {
			if strings.IndexByte(s, 0) >= 0 {
				return
			}
		}
		env := []string{shim.FastEnv + "=" + tok, shim.ConfigEnv + "=" + cfg, "PATH=" + path}
		p, runcEnv, ok := front.Prepare([]string{"runc", "--root", "/r", "state", "c"}, env)
		if !ok {
			return
		}
		if !filepath.IsAbs(p) || slices.ContainsFunc(runcEnv, func(kv string) bool { return strings.HasPrefix(kv, shim.FastEnv+"=") }) {
			t.Fatalf("fast path to %q with environment %q", p, runcEnv)
		}
	})
}
