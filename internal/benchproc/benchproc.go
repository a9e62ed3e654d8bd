// Package benchproc runs one path of a benchmark in a child process — the
// test binary itself — so that the path's time and peak memory are its
// own: not the parent's generated test data, nor another path's garbage.
// Peak memory is the child's VmHWM (/proc/self/status); rusage's maxrss
// would include the parent's pages at fork time, which survive execve.
//
// A package's TestMain calls Child first; benchmarks call Run. Exec runs
// an external competitor (CMC's measure-bundle, skopeo, umoci) the same
// way, timed from outside. Interleave runs the contenders of a benchmark
// round after round in rotating order and summarises min and median, so
// that noise from a shared machine hits every contender alike; HashLimit
// measures the machine's SHA-256 ceiling in the same run; CMCMeasureBundle
// builds the baseline from the shared CMC sources; TableRow collects the
// rows make bench prints. Only for benchmarks on Linux: interleaving makes
// ratios fair, it does not make absolute times quiet.
package benchproc

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	envMode = "REFVAL_BENCH_CHILD"
	envArgs = "REFVAL_BENCH_ARGS" // a JSON array of strings
)

// Result is what one child run measured.
type Result struct {
	Time    time.Duration // the time fn took, process start-up excluded
	PeakRSS int64         // bytes
	// CPU is the user and system time the process used (start-up
	// included), 0 when unknown. Unlike Time it hardly depends on how
	// busy the shared machine is.
	CPU time.Duration
}

// Child runs fn and exits when this test binary was started by Run;
// otherwise it returns at once. Call it first in TestMain.
func Child(fn func(mode string, args []string) error) {
	mode, ok := os.LookupEnv(envMode)
	if !ok {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(envArgs)), &args); err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: arguments: %v\n", mode, err)
		os.Exit(2)
	}
	start := time.Now()
	if err := fn(mode, args); err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", mode, err)
		os.Exit(1)
	}
	fmt.Println(time.Since(start).Nanoseconds(), peakRSS())
	os.Exit(0)
}

// Run starts this test binary as a child running mode with args (see
// Child) and returns what it measured.
func Run(tb testing.TB, mode string, args ...string) Result {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	a, _ := json.Marshal(args)
	cmd.Env = append(os.Environ(), envMode+"="+mode, envArgs+"="+string(a))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("bench child %s: %v", mode, err)
	}
	var ns, rss int64
	if _, err := fmt.Sscan(string(out), &ns, &rss); err != nil {
		tb.Fatalf("bench child %s: output %q: %v", mode, out, err)
	}
	return Result{Time: time.Duration(ns), PeakRSS: rss, CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}

// peakRSS returns this process's VmHWM in bytes (-1 when unknown).
func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}
