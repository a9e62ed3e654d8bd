package shim_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/refval/refval/internal/ctrtest"
)

// BenchmarkTraceRun shows where the time of a `ctr run --rm` goes, call
// by call, under the plain runc-v2 shim, io.containerd.cmc.v1 and runc-v2
// with the runc link as BinaryName, on each containerd: it records every
// exec, fork and exit below containerd with the kernel's scheduler
// tracepoints (sched_process_exec/fork/exit in a private ftrace instance;
// no ptrace, so nothing is slowed down), cuts each start into its 7 calls
// (traceCallNames) and the gaps between them (traceSegmentNames), and
// logs per segment the median under each runtime and, against runc-v2,
// the median and the trimmed mean of the per-round differences (the
// means nearly add up to the total's; medians do not). It also counts,
// per call, the rounds in which the wrapper forked a thread before it
// exec'ed the real binary -- the Go runtime started, so the C front did
// not take the call. Run with -v (the first round's full trace is
// logged too). REFVAL_TRACE_STRACE=DIR adds, for the first round, an
// strace of the execve calls with argv and environment (slow: that
// round's timing is off). Rounds rotate the order of the runtimes; a
// round whose trace does not show the 7 calls for every runtime is left
// out and logged.
func BenchmarkTraceRun(b *testing.B) {
	inst := "/sys/kernel/tracing/instances"
	if _, err := os.Stat(inst); err != nil {
		b.Skipf("no tracefs at %s (mount -t tracefs nodev /sys/kernel/tracing)", inst)
	}
	for _, v := range ctrtest.Versions {
		b.Run(v, func(b *testing.B) {
			r := newRig(b, v)
			r.setup(b, fmt.Sprintf("log_level = \"info\"\nlist = %q", filepath.Join(tmpfsDir(b), "list.json")))
			time.Sleep(150 * time.Millisecond)
			tr, err := newTrace(b, filepath.Join(inst, fmt.Sprintf("refval-%d-%s", os.Getpid(), strings.ReplaceAll(v, ".", ""))))
			if err != nil {
				b.Skip(err)
			}
			root := containerdPid(b, r.c.Address)
			modes := map[string][]string{"runc": nil, "cmc": {"--runtime", runtimeCMC}, "binary": {"--runc-binary", filepath.Join(r.linkDir, "runc")}}
			order := []string{"runc", "cmc", "binary"}
			n := 0
			// Warm up: the first start of each runtime fills caches.
			for _, m := range order {
				n++
				r.run(append(append([]string{"--rm"}, modes[m]...), r.image, fmt.Sprintf("warm-%d", n), "true")...)
			}
			seg := map[string]map[string][]time.Duration{}
			goStarts := map[string][]int{} // per call: the rounds its wrapper started Go
			for _, m := range order {
				seg[m] = map[string][]time.Duration{}
				goStarts[m] = make([]int, len(traceCallNames))
			}
			for range b.N {
				for i := range traceRounds {
					round := map[string][]float64{}
					for _, m := range append(order[i%3:], order[:i%3]...) {
						n++
						tr.reset()
						stop := straceArgv(b, root, m, v, i)
						var t0 unix.Timespec
						unix.ClockGettime(unix.CLOCK_MONOTONIC, &t0)
						x := r.run(append(append([]string{"--rm"}, modes[m]...), "--env", fmt.Sprintf("I=%d", n), r.image, fmt.Sprintf("trace-%d", n), "true")...)
						if x.ExitCode != 0 {
							b.Fatalf("run: %s", x)
						}
						stop()
						evs := tr.read(root)
						base := float64(t0.Nano()) / 1e6
						if i == 0 {
							var lines []string
							for _, e := range evs {
								lines = append(lines, fmt.Sprintf("%8.2f %7d %-5s %s", e.ms-base, e.pid, e.kind, e.what))
							}
							b.Logf("containerd %s, %s, ctr run %.1f ms:\n%s", v, m, float64(x.Duration.Microseconds())/1000, strings.Join(lines, "\n"))
						}
						calls := traceCalls(evs)
						if len(calls) != len(traceCallNames) {
							b.Logf("containerd %s, %s: %d calls, not %d: round left out", v, m, len(calls), len(traceCallNames))
							break
						}
						for k, c := range calls {
							if c.goStart {
								goStarts[m][k]++
							}
						}
						round[m] = traceSegments(calls, base, float64(x.Duration)/1e6)
					}
					if len(round) < len(order) {
						continue // keep the rounds paired
					}
					for m, segs := range round {
						for k, d := range segs {
							seg[m][traceSegmentNames[k]] = append(seg[m][traceSegmentNames[k]], ms(d))
						}
					}
				}
			}
			// Per segment: the median under each runtime and the median of
			// the per-round differences against runc-v2.
			var tab []string
			for _, k := range traceSegmentNames {
				row := fmt.Sprintf("%-34s", k)
				for _, m := range order {
					row += fmt.Sprintf(" %s %6.2f", m, median(seg[m][k]))
					if m != "runc" {
						row += fmt.Sprintf(" (%+6.2f / %+6.2f)", pairedMedian(seg[m][k], seg["runc"][k]), pairedTrimmedMean(seg[m][k], seg["runc"][k]))
					}
				}
				tab = append(tab, row)
			}
			for _, m := range order[1:] {
				var g []string
				for k, name := range traceCallNames {
					g = append(g, fmt.Sprintf("%s %d", name, goStarts[m][k]))
				}
				tab = append(tab, fmt.Sprintf("Go runtime started (rounds) under %s: %s", m, strings.Join(g, ", ")))
			}
			b.Logf("containerd %s, medians in ms (per round, against runc-v2: median / trimmed mean of the differences; the means nearly add up to the total's), %d rounds:\n%s", v, len(seg["runc"]["total"]), strings.Join(tab, "\n"))
			for _, m := range order {
				b.ReportMetric(median(seg[m]["total"]), "ms-"+m)
				if m != "runc" {
					b.ReportMetric(pairedMedian(seg[m]["total"], seg["runc"]["total"]), "ms-overhead-paired-"+m)
				}
			}
		})
	}
}

// pairedTrimmedMean is the mean of a[i]-b[i] without the lowest and the
// highest fifth, in ms: unlike medians, these nearly add up over the
// segments of a start.
func pairedTrimmedMean(a, b []time.Duration) float64 {
	d := make([]time.Duration, min(len(a), len(b)))
	for i := range d {
		d[i] = a[i] - b[i]
	}
	slices.Sort(d)
	d = d[len(d)/5 : len(d)-len(d)/5]
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return float64(sum.Microseconds()) / 1000 / float64(max(len(d), 1))
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// traceCall is one process containerd (or a shim) started: its first
// exec, the exec of the real binary (the second exec of a wrapped call,
// else the first) and its name (the real binary's).
type traceCall struct {
	name              string
	entry, real, exit float64
	// goStart: the wrapper forked threads before it exec'ed the real
	// binary -- the Go runtime started (the C front execs at once).
	goStart bool
}

// traceCalls returns the shim and runc calls of a trace in start order
// (runc's own re-execs and the container's process left out).
func traceCalls(evs []traceEvent) []traceCall {
	var calls []traceCall
	idx := map[int]int{}
	for _, e := range evs {
		if i, ok := idx[e.pid]; ok && e.kind == "exit" {
			calls[i].exit = e.ms
		}
		if i, ok := idx[e.pid]; ok && e.kind == "fork" && calls[i].real == calls[i].entry {
			calls[i].goStart = true // a thread before the second exec (or none)
		}
		if e.kind != "exec" || e.what == "/proc/self/exe" || strings.HasPrefix(e.what, "/dev/fd/") || e.what == "/bin/true" {
			continue
		}
		i, ok := idx[e.pid]
		if !ok {
			idx[e.pid] = len(calls)
			calls = append(calls, traceCall{name: filepath.Base(e.what), entry: e.ms, real: e.ms})
			continue
		}
		calls[i].name, calls[i].real = filepath.Base(e.what), e.ms
	}
	for i := range calls {
		if calls[i].real == calls[i].entry {
			calls[i].goStart = false // not wrapped: runc's or the shim's own threads
		}
	}
	return calls
}

const traceRounds = 30

// The calls of one `ctr run --rm`, in start order (traceCalls).
var traceCallNames = []string{"shim start", "shim daemon", "runc create", "runc start", "runc delete", "shim delete", "runc delete --force"}

var traceSegmentNames = []string{
	"ctr to shim start", "shim start to daemon", "daemon to runc create", "runc create", "create exit to runc start",
	"runc start", "start exit to runc delete (container runs)", "runc delete", "delete exit to shim delete",
	"shim delete (incl. delete --force)", "shim delete exit to ctr exit", "total",
}

// traceSegments cuts one start into traceSegmentNames (ms).
func traceSegments(c []traceCall, base, total float64) []float64 {
	return []float64{
		c[0].entry - base, c[1].entry - c[0].entry, c[2].entry - c[1].entry, c[2].exit - c[2].entry, c[3].entry - c[2].exit,
		c[3].exit - c[3].entry, c[4].entry - c[3].exit, c[4].exit - c[4].entry, c[5].entry - c[4].exit,
		c[5].exit - c[5].entry, base + total - c[5].exit, total,
	}
}

type traceEvent struct {
	ms   float64 // CLOCK_MONOTONIC
	pid  int
	kind string // exec, exit
	what string
}

type ftrace struct {
	b   testing.TB
	dir string
}

// newTrace makes a private ftrace instance with the process tracepoints on.
func newTrace(b testing.TB, dir string) (*ftrace, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ftrace instance: %w", err)
	}
	b.Cleanup(func() {
		os.WriteFile(filepath.Join(dir, "tracing_on"), []byte("0"), 0o644)
		os.WriteFile(filepath.Join(dir, "events/enable"), []byte("0"), 0o644)
		os.Remove(dir)
	})
	t := &ftrace{b: b, dir: dir}
	t.write("trace_clock", "mono")
	t.write("buffer_size_kb", "4096")
	for _, e := range []string{"sched_process_fork", "sched_process_exec", "sched_process_exit"} {
		t.write("events/sched/"+e+"/enable", "1")
	}
	t.write("tracing_on", "1")
	return t, nil
}

// wrappedCalls returns the calls of a trace that went through the
// wrapper (two execs) and how many of them started the Go runtime.
func wrappedCalls(evs []traceEvent) (wrapped []traceCall, goStarts int) {
	for _, c := range traceCalls(evs) {
		if c.real != c.entry {
			wrapped = append(wrapped, c)
			if c.goStart {
				goStarts++
			}
		}
	}
	return wrapped, goStarts
}

func (t *ftrace) write(f, v string) {
	if err := os.WriteFile(filepath.Join(t.dir, f), []byte(v), 0o644); err != nil {
		t.b.Fatalf("ftrace %s: %v", f, err)
	}
}

func (t *ftrace) reset() { t.write("trace", "") }

// read returns the exec and exit events of root's descendants (threads
// and processes forked since the last reset).
func (t *ftrace) read(root int) []traceEvent {
	f, err := os.Open(filepath.Join(t.dir, "trace"))
	if err != nil {
		t.b.Fatal(err)
	}
	defer f.Close()
	// The forks come from containerd's threads: start from all of them.
	in := map[int]bool{root: true}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", root))
	for _, e := range tasks {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			in[tid] = true
		}
	}
	execed := map[int]bool{}
	var evs []traceEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "  comm-pid  [cpu] flags  123.456789: sched_process_exec: filename=/x pid=1 old_pid=1"
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		head, ev, ok := strings.Cut(line, ": sched_process_")
		if !ok {
			continue
		}
		fs := strings.Fields(head)
		ts, err := strconv.ParseFloat(strings.TrimSuffix(fs[len(fs)-1], ":"), 64)
		if err != nil {
			continue
		}
		kind, args, _ := strings.Cut(ev, ": ")
		kv := map[string]string{}
		for _, a := range strings.Fields(args) {
			k, v, _ := strings.Cut(a, "=")
			kv[k] = v
		}
		switch kind {
		case "fork":
			p, _ := strconv.Atoi(kv["parent_pid"])
			if p == 0 {
				p, _ = strconv.Atoi(kv["pid"])
			}
			c, _ := strconv.Atoi(kv["child_pid"])
			if in[p] {
				in[c] = true
			}
			if execed[p] {
				evs = append(evs, traceEvent{ts * 1000, p, "fork", kv["child_pid"]})
			}
		case "exec":
			p, _ := strconv.Atoi(kv["pid"])
			if in[p] {
				execed[p] = true
				evs = append(evs, traceEvent{ts * 1000, p, "exec", kv["filename"]})
			}
		case "exit":
			p, _ := strconv.Atoi(kv["pid"])
			if execed[p] {
				evs = append(evs, traceEvent{ts * 1000, p, "exit", kv["comm"]})
			}
		}
	}
	return evs
}

// containerdPid finds the containerd serving address (its command line
// names the harness's directory, where its config and socket are).
func containerdPid(b testing.TB, address string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.HasPrefix(filepath.Base(strings.Split(string(cmd), "\x00")[0]), "containerd") &&
			strings.Contains(string(cmd), filepath.Dir(address)) {
			return p
		}
	}
	b.Fatalf("no containerd for %s", address)
	return 0
}

// straceArgv, with REFVAL_TRACE_STRACE=DIR, records the execve calls
// (argv and environment) of the first traced start of each runtime with
// strace (ptrace: slow, so the figures of that start are not timing).
func straceArgv(b testing.TB, root int, mode, version string, i int) func() {
	dir := os.Getenv("REFVAL_TRACE_STRACE")
	if dir == "" || i != 0 {
		return func() {}
	}
	out := filepath.Join(dir, fmt.Sprintf("strace-%s-%s.txt", version, mode))
	cmd := exec.Command("strace", "-f", "-tt", "-v", "-s", "4096", "-e", "trace=execve,chdir", "-o", out, "-p", strconv.Itoa(root))
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // attached
	return func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
}
