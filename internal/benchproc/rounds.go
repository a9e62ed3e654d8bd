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
	PeakRSS     int64 // the largest of the rounds, bytes (-1 unknown)
	Rounds      int   // rounds that ran
	Err         error // the first failure (the contender stops there)
	all         []time.Duration
}

// Interleave runs every contender once per round, rounds times, rotating
// the order each round so that a slow phase of the shared machine hits
// every contender alike; it returns min and median per contender. A
// contender that fails is not run again.
func Interleave(tb testing.TB, rounds int, cs []Contender) []Stats {
	tb.Helper()
	st := make([]Stats, len(cs))
	for i, c := range cs {
		st[i] = Stats{Name: c.Name, PeakRSS: -1}
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
			st[i].PeakRSS = max(st[i].PeakRSS, res.PeakRSS)
		}
	}
	for i := range st {
		s := &st[i]
		if len(s.all) == 0 {
			continue
		}
		sorted := slices.Clone(s.all)
		slices.Sort(sorted)
		s.Rounds = len(sorted)
		s.Min = sorted[0]
		s.Median = sorted[len(sorted)/2]
		if len(sorted)%2 == 0 {
			s.Median = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
		}
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
const TableHeader = "| workload | refval: min / median time, best rate, peak RSS | CMC's last measure-bundle (" + CMCBaseline + ") | refval faster than CMC: median (min) | plain read, no hash | hash limit here: cores × one-core SHA-256 | refval's share of the limit: median (min) |\n" +
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
