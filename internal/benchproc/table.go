package benchproc

import (
	"errors"
	"fmt"
	"time"
)

// Times formats a contender's min and median time ("0.64 s / 0.70 s"), or
// why it has none.
func Times(s Stats) string {
	switch {
	case errors.Is(s.Err, ErrSkipped):
		return "n/a (" + s.Err.Error() + ")"
	case s.Err != nil:
		return "fails: " + s.Err.Error()
	case s.Rounds == 0:
		return "n/a"
	}
	return fmt.Sprintf("%s / %s", secs(s.Min), secs(s.Median))
}

func secs(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// Rate formats the best (min-time) throughput of s: MB/s for bytes, or
// k files/s when files > 0.
func Rate(s Stats, bytes int64, files int) string {
	if s.Rounds == 0 || (bytes == 0 && files == 0) {
		return ""
	}
	if files > 0 {
		return fmt.Sprintf("%.0f k files/s", float64(files)/s.Min.Seconds()/1e3)
	}
	return fmt.Sprintf("%.0f MB/s", float64(bytes)/s.Min.Seconds()/1e6)
}

// Ratio formats how many times faster a is than b, round by round
// (PairedRatio): the median, and the best in parentheses ("2.7× (3.1×)").
func Ratio(a, b Stats) string {
	med, best, ok := PairedRatio(b, a)
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.2f× (%.2f×)", med, best)
}

// CPURate formats the bytes (or files) per CPU-second of s's median CPU time.
func CPURate(s Stats, bytes int64, files int) string {
	if s.Rounds == 0 || s.MedianCPU <= 0 || (bytes == 0 && files == 0) {
		return ""
	}
	if files > 0 {
		return fmt.Sprintf("%.0f k files per CPU-s", float64(files)/s.MedianCPU.Seconds()/1e3)
	}
	return fmt.Sprintf("%.0f MB per CPU-s", float64(bytes)/s.MedianCPU.Seconds()/1e6)
}

// RSS formats a peak RSS in MiB.
func RSS(s Stats) string {
	if s.Rounds == 0 || s.PeakRSS < 0 {
		return ""
	}
	return fmt.Sprintf("%.0f MiB", float64(s.PeakRSS)/(1<<20))
}

// Join joins the non-empty cells of one table cell with ", ".
func Join(parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += p
	}
	return out
}
