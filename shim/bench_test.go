package shim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/measurelist"
	"github.com/refval/refval/shim"
)

// tmpfsDir returns a new directory on a tmpfs, where the shipped default
// list (/run/refval/...) lives on a real host: /run if it is one, else
// /dev/shm (this VM's /run is on ext4).
func tmpfsDir(b testing.TB) string {
	b.Helper()
	for _, root := range []string{"/run", "/dev/shm"} {
		var st syscall.Statfs_t
		if syscall.Statfs(root, &st) == nil && st.Type == 0x01021994 { // TMPFS_MAGIC
			d, err := os.MkdirTemp(root, "refval-bench-")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	b.Skip("no tmpfs at /run or /dev/shm for the list")
	return ""
}

// fastTokenOf returns the FastEnv token in the shim mode's cache for the
// configuration file cfg ("" if there is none).
func fastTokenOf(cfg string) string {
	files, _ := filepath.Glob(filepath.Join(shim.RunLinkRoot, "fast-*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(b, []byte(":"+hex.EncodeToString([]byte(cfg))+":")) {
			continue
		}
		if lines := strings.Split(string(b), "\n"); len(lines) > 2 {
			return lines[2]
		}
	}
	return ""
}

// BenchmarkWrapperBreakdown splits the cost of one call of the binary,
// interleaved in the same run (medians, in ms):
//
//   - exec-true: starting /bin/true, the floor of any exec here;
//   - exec-env-true: /usr/bin/env exec'ing /bin/true, the floor of a
//     pass-through (two execs);
//   - pass-through-go: the binary as runc for `runc state` on the Go
//     path (Go start, argv check, configuration, exec of the real runc,
//     here /bin/true) -- every pass-through before the front;
//   - pass-through: the same call with the token the shim mode sets (the
//     C front execs runc before the Go runtime starts);
//   - shim-go and shim: the shim mode (`-id c start`) without and with
//     the C front (its cache), exec'ing the runc shim (here /bin/true);
//   - create: the wrapper for `runc create` of a small bundle (plus
//     measuring and recording a new list entry each time; the list on a
//     tmpfs, as the shipped default /run/refval/... is);
//
// and, in this process, the parts: config-load (LoadConfig), measure
// (bundle.Measure of the same bundle), record (measurelist.Append of a
// new entry to a list on tmpfs) and record-disk (the same on the
// worktree's disk, for a list configured there: fsync of the list and
// its directory). exec-go = pass-through-go - exec-true is what a Go
// start of the wrapper costs per call, front = pass-through -
// exec-env-true what the C front costs beyond two execs.
func BenchmarkWrapperBreakdown(b *testing.B) {
	bin := shimBinary(b)
	d := b.TempDir()
	link := filepath.Join(d, "bin", "runc")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(bin, link); err != nil {
		b.Fatal(err)
	}
	// runc-go: the same binary under a name the C front leaves to Go
	// (Main takes it as runc by its --root), for the Go path's figures.
	goLink := filepath.Join(d, "go", "runc-go")
	os.MkdirAll(filepath.Dir(goLink), 0o755)
	if err := os.Symlink(bin, goLink); err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(d, "shim.toml")
	list := filepath.Join(tmpfsDir(b), "list.json")
	os.WriteFile(cfg, fmt.Appendf(nil, "cmc_version = \"0.7\"\nrunc = \"/bin/true\"\nrunc_shim = \"/bin/true\"\nrunc_link_dir = %q\nlist = %q\nlog_file = %q\n",
		filepath.Dir(link), list, filepath.Join(d, "shim.log")), 0o644)
	b.Cleanup(func() { removeFastCaches(cfg) })
	time.Sleep(150 * time.Millisecond) // FastToken wants a settled file
	bdir := benchBundle(b, d)
	env := append(os.Environ(), shim.ConfigEnv+"="+cfg)
	run := func(env []string, args ...string) time.Duration {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	shimArgs := []string{bin, "-namespace", "n", "-id", "c", "start"}
	// The same call, flags in an order the C front leaves to Go.
	shimGoArgs := []string{bin, "-id", "c", "-namespace", "n", "start"}
	run(env, shimArgs...) // the Go shim mode leaves the cache
	tok := fastTokenOf(cfg)
	if tok == "" {
		b.Fatal("the shim mode left no fast-path cache (not root?)")
	}
	fastEnv := append(env[:len(env):len(env)], shim.FastEnv+"="+tok)
	inproc := filepath.Join(tmpfsDir(b), "inproc.json")
	disk := filepath.Join(d, "disk.json")
	times := map[string][]time.Duration{}
	n := 0
	for range b.N {
		for range 50 {
			n++
			// A new env value per round: every create records a new entry.
			writeBenchConfig(b, bdir, n)
			times["exec-true"] = append(times["exec-true"], run(env, "/bin/true"))
			times["exec-env-true"] = append(times["exec-env-true"], run(env, "/usr/bin/env", "/bin/true"))
			times["pass-through-go"] = append(times["pass-through-go"], run(env, goLink, "--root", d, "state", "c"))
			times["pass-through"] = append(times["pass-through"], run(fastEnv, link, "--root", d, "state", "c"))
			times["shim-go"] = append(times["shim-go"], run(env, shimGoArgs...))
			times["shim"] = append(times["shim"], run(env, shimArgs...))
			times["create"] = append(times["create"], run(fastEnv, link, "--root", d, "create", "--bundle", bdir, "c"))

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
			for k, p := range map[string]string{"record": inproc, "record-disk": disk} {
				start = time.Now()
				if _, err := measurelist.Append(p, measurelist.JSON, e, nil); err != nil {
					b.Fatal(err)
				}
				times[k] = append(times[k], time.Since(start))
			}
		}
	}
	for _, k := range []string{"exec-true", "exec-env-true", "pass-through-go", "pass-through", "shim-go", "shim", "create", "config-load", "measure", "record", "record-disk"} {
		b.ReportMetric(median(times[k]), "ms-"+k)
	}
	b.ReportMetric(median(times["pass-through-go"])-median(times["exec-true"]), "ms-exec-go")
	b.ReportMetric(median(times["pass-through"])-median(times["exec-env-true"]), "ms-front")
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

// BenchmarkCreateBreakdown splits the measured `runc create` of the
// busybox test image's rootfs (the image BenchmarkStartLatency runs:
// busybox, a 2 MB static binary, and its applet links) into its parts,
// interleaved, medians in ms:
//
//   - create: the binary as runc for `runc create` (runc is /bin/true):
//     exec, Go start, configuration with file checks, measure, record;
//   - exec-go: the same binary's Go path for `runc state` (exec, Go
//     start, configuration, exec of /bin/true), the cost before measuring;
//
// and in this process: config-load (LoadConfig with the file checks a
// create runs), measure (bundle.Measure with the options Recorder.Measure
// passes), of which hash-busybox (SHA-256 of the busybox binary, read in
// 256 KiB pieces as bundle reads files: the floor of an exact measurement
// of this rootfs), record
// (measurelist.AppendCodec of a new entry to a list on tmpfs) and
// recorder (NewRecorder + Recorder.Measure: measure and record as create
// runs them). Run with -cpuprofile to see where measure goes.
func BenchmarkCreateBreakdown(b *testing.B) {
	bin := shimBinary(b)
	d := b.TempDir()
	link := filepath.Join(d, "bin", "runc")
	goLink := filepath.Join(d, "go", "runc-go")
	for _, l := range []string{link, goLink} {
		os.MkdirAll(filepath.Dir(l), 0o755)
		if err := os.Symlink(bin, l); err != nil {
			b.Fatal(err)
		}
	}
	cfgPath := filepath.Join(d, "shim.toml")
	list := filepath.Join(tmpfsDir(b), "list.json")
	os.WriteFile(cfgPath, fmt.Appendf(nil, "cmc_version = \"0.7\"\nrunc = \"/bin/true\"\nrunc_link_dir = %q\nlist = %q\nlog_file = %q\nlog_level = \"info\"\n",
		filepath.Dir(link), list, filepath.Join(d, "shim.log")), 0o644)
	b.Cleanup(func() { removeFastCaches(cfgPath) })
	bdir := busyboxBundle(b, d)
	env := append(os.Environ(), shim.ConfigEnv+"="+cfgPath)
	b.Setenv(shim.ConfigEnv, cfgPath)
	run := func(args ...string) time.Duration {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	inproc := filepath.Join(tmpfsDir(b), "inproc.json")
	cfg, err := shim.LoadConfig(cfgPath, true)
	if err != nil {
		b.Fatal(err)
	}
	cfgIn := *cfg
	cfgIn.List = filepath.Join(tmpfsDir(b), "recorder.json")
	hashBuf := make([]byte, 256<<10) // as bundle's file hasher reads
	times := map[string][]time.Duration{}
	n := 0
	for range b.N {
		for range 30 {
			n++
			writeBenchConfig(b, bdir, n)
			times["create"] = append(times["create"], run(link, "--root", d, "create", "--bundle", bdir, fmt.Sprintf("c%d", n)))
			times["exec-go"] = append(times["exec-go"], run(goLink, "--root", d, "state", "c"))

			start := time.Now()
			if _, err := shim.LoadConfig(cfgPath, true); err != nil {
				b.Fatal(err)
			}
			times["config-load"] = append(times["config-load"], time.Since(start))
			start = time.Now()
			res, err := bundle.Measure(context.Background(), bdir, bundle.WithContainerID("c"), bundle.WithScheme(cfg.Scheme), bundle.WithoutRootlessXattr())
			if err != nil {
				b.Fatal(err)
			}
			times["measure"] = append(times["measure"], time.Since(start))
			start = time.Now()
			f, err := os.Open(filepath.Join(bdir, "rootfs/bin/busybox"))
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.CopyBuffer(sha256.New(), f, hashBuf)
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			times["hash-busybox"] = append(times["hash-busybox"], time.Since(start))
			e := measurelist.NewEntry(fmt.Sprintf("c%d", n), nil, res)
			start = time.Now()
			if _, err := measurelist.AppendCodec(inproc, measurelist.JSON, e, nil); err != nil {
				b.Fatal(err)
			}
			times["record"] = append(times["record"], time.Since(start))
			writeBenchConfig(b, bdir, -n)
			start = time.Now()
			rec, err := shim.NewRecorder(&cfgIn, nil)
			if err == nil {
				_, err = rec.Measure(context.Background(), bdir, fmt.Sprintf("r%d", n))
			}
			if err != nil {
				b.Fatal(err)
			}
			times["recorder"] = append(times["recorder"], time.Since(start))
		}
	}
	for _, k := range []string{"create", "exec-go", "config-load", "measure", "hash-busybox", "record", "recorder"} {
		b.ReportMetric(median(times[k]), "ms-"+k)
	}
}

// busyboxBundle writes a bundle whose rootfs is the busybox test image's
// (testimage.BusyboxImage: bin/, the busybox binary, its applet links).
func busyboxBundle(b *testing.B, dir string) string {
	raw, err := os.ReadFile(testimage.BusyboxPath)
	if err != nil {
		b.Skip(err)
	}
	bd := filepath.Join(dir, "busybox-bundle")
	bin := filepath.Join(bd, "rootfs", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), raw, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, a := range testimage.BusyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
			b.Fatal(err)
		}
	}
	writeBenchConfig(b, bd, 0)
	return bd
}

// BenchmarkMeasureBusybox is bundle.Measure of the busybox bundle as the
// wrapper runs it, alone in a loop: a CPU profile of it (-cpuprofile)
// shows where the measurement of a create goes.
func BenchmarkMeasureBusybox(b *testing.B) {
	bdir := busyboxBundle(b, b.TempDir())
	for b.Loop() {
		if _, err := bundle.Measure(context.Background(), bdir, bundle.WithContainerID("c"), bundle.WithoutRootlessXattr()); err != nil {
			b.Fatal(err)
		}
	}
}
