package benchproc

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// Contender is one way of doing a benchmark's work. Run does it once.
type Contender struct {
	Name string
	Run  func() (Result, error)
}

// Stats summarises a contender's rounds.
type Stats struct {
	Name        string
	Min, Median time.Duration
	MedianCPU   time.Duration // median CPU time (0 unknown)
	PeakRSS     int64         // the largest of the rounds, bytes (-1 unknown)
	Rounds      int           // rounds that ran
	Err         error         // the first failure (the contender stops there)
	// PerRound holds each round's time, 0 where the contender did not run.
	PerRound []time.Duration
	all      []time.Duration
	cpu      []time.Duration
}

// Interleave runs every contender once per round, rounds times, rotating
// the order each round so that a slow phase of the shared machine hits
// every contender alike; it returns min and median per contender. A
// contender that fails is not run again.
func Interleave(tb testing.TB, rounds int, cs []Contender) []Stats {
	tb.Helper()
	st := make([]Stats, len(cs))
	for i, c := range cs {
		st[i] = Stats{Name: c.Name, PeakRSS: -1, PerRound: make([]time.Duration, rounds)}
	}
	for r := range rounds {
		for k := range cs {
			i := (k + r) % len(cs)
			if st[i].Err != nil {
				continue
			}
			res, err := cs[i].Run()
			if err != nil {
				st[i].Err = err
				continue
			}
			st[i].all = append(st[i].all, res.Time)
			st[i].cpu = append(st[i].cpu, res.CPU)
			st[i].PerRound[r] = res.Time
			st[i].PeakRSS = max(st[i].PeakRSS, res.PeakRSS)
		}
	}
	for i := range st {
		s := &st[i]
		if len(s.all) == 0 {
			continue
		}
		s.Rounds = len(s.all)
		s.Min = slices.Min(s.all)
		s.Median = median(s.all)
		s.MedianCPU = median(s.cpu)
	}
	return st
}

// Rounds returns the number of interleaved rounds: REFVAL_BENCH_ROUNDS, or def.
func Rounds(def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("REFVAL_BENCH_ROUNDS"), &n); err == nil && n > 0 {
		return n
	}
	return def
}

// TableHeader is the head of the table TableRow writes; every row has its
// seven cells.
const TableHeader = "| workload | refval: min / median time, best rate, peak RSS, rate per CPU-second | CMC's last measure-bundle (" + CMCBaseline + "), same | refval faster than CMC, per round: median (best) | plain read, no hash | hash limit here: cores × one-core SHA-256 (CPU time) | refval's share of the limit, per round: median (best); by CPU time |\n" +
	"|---|---|---|---|---|---|---|"

// TableRow appends one Markdown table row to the file REFVAL_BENCH_TABLE
// (make bench prints it at the end), after TableHeader when the file is
// new, and logs it in any case.
func TableRow(tb testing.TB, cells ...string) {
	tb.Helper()
	row := "| "
	for i, c := range cells {
		if i > 0 {
			row += " | "
		}
		row += c
	}
	row += " |"
	tb.Log(row)
	p := os.Getenv("REFVAL_BENCH_TABLE")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		tb.Logf("bench table: %v", err)
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		fmt.Fprintln(f, TableHeader)
	}
	fmt.Fprintln(f, row)
}

func median(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// PairedRatio returns the median and the best over the rounds where both
// ran of num's time divided by den's: each ratio compares two runs made
// next to each other, so a busy phase of the machine cancels out.
func PairedRatio(num, den Stats) (med, best float64, ok bool) {
	var rs []float64
	for r := range min(len(num.PerRound), len(den.PerRound)) {
		if num.PerRound[r] > 0 && den.PerRound[r] > 0 {
			rs = append(rs, num.PerRound[r].Seconds()/den.PerRound[r].Seconds())
		}
	}
	if len(rs) == 0 {
		return 0, 0, false
	}
	slices.Sort(rs)
	med = rs[len(rs)/2]
	if len(rs)%2 == 0 {
		med = (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
	}
	return med, rs[len(rs)-1], true
}
