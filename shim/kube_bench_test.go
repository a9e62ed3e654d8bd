package shim_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/refval/refval/internal/benchproc"
	"github.com/refval/refval/internal/ctrtest"
	"github.com/refval/refval/internal/kubetest"
	"github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/shim"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// BenchmarkPodStart compares pod start under the real kubelet (v1.34.2,
// internal/kubetest) through the shim with the plain runc shim,
// interleaved on one kubelet and containerd: the runtime handler's shim
// binary is a link that the benchmark points at containerd-shim-cmc-v1 or
// at containerd-shim-runc-v2 before each pod (a standalone kubelet has no
// RuntimeClass, so the handler cannot change per pod). Pod start is from
// writing the static pod's manifest to the app container's StartedAt
// (CRI), over a sandbox and one app container, medians of
// REFVAL_BENCH_PODS (default 12) pods each way, alternating which goes
// first.
func BenchmarkPodStart(b *testing.B) {
	pods := 12
	if n, err := strconv.Atoi(os.Getenv("REFVAL_BENCH_PODS")); err == nil && n > 0 {
		pods = n
	}
	for _, v := range []string{ctrtest.V2_4, ctrtest.V1_6} {
		b.Run(v, func(b *testing.B) {
			kubetest.Require(b)
			ctrBin, err := ctrtest.BinDir(v)
			if err != nil {
				b.Fatal(err)
			}
			d := b.TempDir()
			app := testimage.Busybox()
			pause := testimage.Busybox()
			pause.Config.Entrypoint, pause.Config.Cmd = []string{"/bin/sleep"}, []string{"100000"}
			var archives []string
			for name, im := range map[string]testimage.Image{"pause": pause, "kubeapp": app} {
				p := filepath.Join(d, name+".tar")
				if _, err := testimage.WriteOCIArchive(p, name, im); err != nil {
					b.Fatal(err)
				}
				archives = append(archives, p)
			}
			s := kubetest.NewShim(b, "refval-v2")
			// The production shape (examples/kubernetes/shim.toml without
			// the TPM): no generate output, the list on a tmpfs.
			cfg := fmt.Sprintf("scheme = \"refval-v2\"\nlist = %q\nlog_file = %q\nlog_level = \"info\"\nrunc_link_dir = %q\n",
				filepath.Join(tmpfsDir(b), "list.json"), s.LogFile, filepath.Join(s.Dir, "link"))
			cfgPath := filepath.Join(s.Dir, "shim.toml")
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { removeFastCaches(cfgPath) })
			sw := filepath.Join(d, "switch")
			os.Mkdir(sw, 0o755)
			handler := filepath.Join(sw, shim.ShimName)
			point := func(target string) {
				tmp := handler + ".tmp"
				os.Remove(tmp)
				if err := os.Symlink(target, tmp); err != nil {
					b.Fatal(err)
				}
				if err := os.Rename(tmp, handler); err != nil {
					b.Fatal(err)
				}
			}
			point(s.Bin)
			opts := append([]kubetest.Option{kubetest.WithContainerd(ctrtest.WithPath(sw))}, s.Options(v)...)
			k := kubetest.Start(b, v, append(opts, kubetest.WithImages(archives...))...)
			manifest := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: NAME\n  namespace: default\nspec:\n  terminationGracePeriodSeconds: 1\n" +
				"  containers:\n  - name: app\n    image: ctrtest.local/import:kubeapp\n    imagePullPolicy: Never\n    command: [\"/bin/sleep\", \"100000\"]\n"
			startPod := func(name string) time.Duration {
				t0 := time.Now()
				p := k.RunStaticPod(name, []byte(strings.Replace(manifest, "NAME", name, 1)), "app")
				st, err := k.CRI.ContainerStatus(context.Background(), &runtimeapi.ContainerStatusRequest{ContainerId: p.Containers["app"]})
				if err != nil {
					b.Fatal(err)
				}
				k.RemoveStaticPod(name)
				return time.Unix(0, st.Status.StartedAt).Sub(t0)
			}
			// One pod each way first: images, caches, the shim's fast-path
			// cache are warm for the timed ones.
			startPod("warm-shim")
			point(filepath.Join(ctrBin, shim.RuncShimName))
			startPod("warm-runc")
			// With tracefs: trace the shim pods' processes (sched
			// tracepoints, no ptrace) and count the calls through the
			// wrapper and those that started the Go runtime (not the C
			// front) per pod, start and removal.
			tr, terr := newTrace(b, filepath.Join("/sys/kernel/tracing/instances", fmt.Sprintf("refval-pod-%d-%s", os.Getpid(), strings.ReplaceAll(v, ".", ""))))
			root := 0
			if terr != nil {
				b.Logf("no trace of the calls: %v", terr)
			} else {
				root = containerdPid(b, k.C.Address)
			}
			var wrappedN, goN []time.Duration // counts, as durations for median
			var base, with []time.Duration
			for range b.N {
				for i := range pods {
					order := []bool{false, true}
					if i%2 == 1 {
						order = []bool{true, false}
					}
					for _, cmc := range order {
						if cmc {
							point(s.Bin)
							if tr != nil {
								tr.reset()
							}
							with = append(with, startPod(fmt.Sprintf("b%d-cmc", i)))
							if tr != nil {
								calls, gos := wrappedCalls(tr.read(root))
								wrappedN, goN = append(wrappedN, time.Duration(len(calls))*time.Millisecond), append(goN, time.Duration(gos)*time.Millisecond)
								if i == 0 {
									var l []string
									for _, c := range calls {
										l = append(l, fmt.Sprintf("%s (wrapper %.2f ms, Go %v)", c.name, c.real-c.entry, c.goStart))
									}
									b.Logf("containerd %s, pod %d: %d calls through the wrapper: %s", v, i, len(calls), strings.Join(l, ", "))
								}
							}
						} else {
							point(filepath.Join(ctrBin, shim.RuncShimName))
							base = append(base, startPod(fmt.Sprintf("b%d-runc", i)))
						}
					}
				}
			}
			if fastTokenOf(cfgPath) == "" {
				b.Fatal("the shim mode left no fast-path cache: the C front was not used")
			}
			measured := 0
			for range s.Measurements(b) {
				measured++
			}
			if want := 2 * (pods*b.N + 1); measured < want {
				b.Fatalf("the shim measured %d containers, want at least %d (sandbox and app of every shim pod)", measured, want)
			}
			if tr != nil {
				b.ReportMetric(median(wrappedN), "wrapped-calls/pod")
				b.ReportMetric(median(goN), "go-starts/pod")
			}
			baseMs, withMs := median(base), median(with)
			b.ReportMetric(baseMs, "ms/pod-runc")
			b.ReportMetric(withMs, "ms/pod-shim")
			b.ReportMetric(withMs/baseMs, "ratio")
			b.ReportMetric(withMs-baseMs, "ms-overhead")
			b.ReportMetric(pairedMedian(with, base), "ms-overhead-paired")
			// Two measured containers per pod (sandbox and app).
			measure, total := logTimes(b, s.LogFile)
			b.ReportMetric(measure, "ms-measure")
			b.ReportMetric(total, "ms-measure+record")
			b.ReportMetric(withMs-baseMs-2*total, "ms-overhead-beyond-measurement")
			benchproc.TableRow(b, fmt.Sprintf("pod start under the kubelet (v1.34.2), shim vs runc-v2, containerd %s, %d pods each", v, pods*b.N),
				fmt.Sprintf("runc-v2 %.1f ms, shim %.1f ms: %+.1f ms, of which measure + record 2 × %.1f ms", baseMs, withMs, withMs-baseMs, total),
				"—", fmt.Sprintf("%.3f× runc-v2", withMs/baseMs), "—", "—", goal(withMs/baseMs <= 1.05, "+5 %"))
		})
	}
}
