package benchproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// timeTool reports a child's peak RSS without the parent's pages: GNU time
// forks a copy of itself (a few MiB), never of the benchmark process.
const timeTool = "/usr/bin/time"

// Exec runs an external command and returns its wall time (process start-up
// included, as a user sees it) and its peak RSS. The RSS comes from GNU
// time when installed; otherwise from rusage, which may include the
// benchmark process's own pages at the fork (an upper bound). A failing
// command is an error with its output's last line, not a fatal one, so
// that a table can show that a competitor failed.
func Exec(tb testing.TB, argv ...string) (Result, error) {
	tb.Helper()
	var rssFile string
	cmdArgv := argv
	if _, err := os.Stat(timeTool); err == nil {
		rssFile = filepath.Join(tb.TempDir(), "rss")
		cmdArgv = append([]string{timeTool, "-f", "%M", "-o", rssFile, "--"}, argv...)
	}
	cmd := exec.Command(cmdArgv[0], cmdArgv[1:]...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = nil, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		last := strings.TrimSpace(out.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		if _, msg, ok := strings.Cut(last, `msg="`); ok { // logrus
			last, _, _ = strings.Cut(msg, `" `)
		}
		if r := []rune(last); len(r) > 80 { // the end says why
			last = "…" + string(r[len(r)-80:])
		}
		return Result{}, fmt.Errorf("%s: %v: %s", filepath.Base(argv[0]), err, last)
	}
	// wait4's times include the descendants GNU time reaped.
	r := Result{Time: d, PeakRSS: -1, CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if rssFile != "" {
		b, _ := os.ReadFile(rssFile)
		if kb, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			r.PeakRSS = kb << 10
		}
	} else if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSS = ru.Maxrss << 10
	}
	return r, nil
}

// ErrSkipped marks a contender that could not run here (a missing tool).
var ErrSkipped = errors.New("skipped")
