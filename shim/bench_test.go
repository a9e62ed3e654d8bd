package shim_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/measurelist"
	"github.com/refval/refval/shim"
)

// BenchmarkWrapperBreakdown splits the cost of one runc call through the
// wrapper, interleaved in the same run (medians, in ms):
//
//   - exec-true: starting /bin/true, the floor of any exec here;
//   - pass-through: the wrapper as runc for `runc state` (argv check,
//     configuration, exec of the real runc, here /bin/true);
//   - create: the wrapper for `runc create` of a small bundle (plus
//     measuring and recording a new list entry each time);
//
// and, in this process, the parts: config-load (LoadConfig), measure
// (bundle.Measure of the same bundle) and record (measurelist.Append of
// a new entry). exec = pass-through - exec-true is what starting the
// wrapper costs per runc call.
func BenchmarkWrapperBreakdown(b *testing.B) {
	bin := shimBinary(b)
	d := b.TempDir()
	link := filepath.Join(d, "bin", "runc")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(bin, link); err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(d, "shim.toml")
	list := filepath.Join(d, "list.json")
	os.WriteFile(cfg, fmt.Appendf(nil, "cmc_version = \"0.7\"\nrunc = \"/bin/true\"\nlist = %q\nlog_file = %q\n", list, filepath.Join(d, "shim.log")), 0o644)
	bdir := benchBundle(b, d)
	env := append(os.Environ(), shim.ConfigEnv+"="+cfg)
	run := func(args ...string) time.Duration {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	times := map[string][]time.Duration{}
	n := 0
	for range b.N {
		for range 50 {
			n++
			// A new env value per round: every create records a new entry.
			writeBenchConfig(b, bdir, n)
			times["exec-true"] = append(times["exec-true"], run("/bin/true"))
			times["pass-through"] = append(times["pass-through"], run(link, "--root", d, "state", "c"))
			times["create"] = append(times["create"], run(link, "--root", d, "create", "--bundle", bdir, "c"))

			start := time.Now()
			if _, err := shim.LoadConfig(cfg, true); err != nil {
				b.Fatal(err)
			}
			times["config-load"] = append(times["config-load"], time.Since(start))
			start = time.Now()
			res, err := bundle.Measure(context.Background(), bdir, bundle.WithContainerID("c"), bundle.WithoutRootlessXattr())
			if err != nil {
				b.Fatal(err)
			}
			times["measure"] = append(times["measure"], time.Since(start))
			e := measurelist.NewEntry("c", nil, res)
			e.TemplateSha256[0] ^= 0xff // not the entry the create recorded
			start = time.Now()
			if _, err := measurelist.Append(filepath.Join(d, "inproc.json"), measurelist.JSON, e, nil); err != nil {
				b.Fatal(err)
			}
			times["record"] = append(times["record"], time.Since(start))
		}
	}
	for _, k := range []string{"exec-true", "pass-through", "create", "config-load", "measure", "record"} {
		b.ReportMetric(median(times[k]), "ms-"+k)
	}
	b.ReportMetric(median(times["pass-through"])-median(times["exec-true"]), "ms-exec")
}

// benchBundle writes a bundle with a small rootfs (64 files) under dir.
func benchBundle(b *testing.B, dir string) string {
	bd := filepath.Join(dir, "bundle")
	for i := range 64 {
		p := filepath.Join(bd, "rootfs", fmt.Sprintf("d%d", i%8), fmt.Sprintf("f%d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, make([]byte, 4096), 0o644)
	}
	writeBenchConfig(b, bd, 0)
	return bd
}

func writeBenchConfig(b *testing.B, bd string, n int) {
	cfg := fmt.Sprintf(`{"ociVersion":"1.0.2","process":{"args":["sh"],"env":["N=%d"],"cwd":"/"},"root":{"path":"rootfs"}}`, n)
	if err := os.WriteFile(filepath.Join(bd, "config.json"), []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
}
