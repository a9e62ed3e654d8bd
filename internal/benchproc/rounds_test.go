package benchproc

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestInterleave: every round runs each contender once, the starting
// contender rotating; min and median come from the rounds; a failing
// contender keeps its error and is not run again.
func TestInterleave(t *testing.T) {
	var calls []string
	times := map[string][]time.Duration{"a": {3, 1, 2}, "b": {5, 4, 6}}
	mk := func(name string) Contender {
		i := 0
		return Contender{Name: name, Run: func() (Result, error) {
			calls = append(calls, name)
			if name == "c" {
				return Result{}, errors.New("boom")
			}
			d := times[name][i]
			i++
			return Result{Time: d, PeakRSS: int64(d)}, nil
		}}
	}
	st := Interleave(t, 3, []Contender{mk("a"), mk("b"), mk("c")})
	if got, want := strings.Join(calls, ""), "abc"+"ba"+"ab"; got != want {
		t.Errorf("call order %q; want %q", got, want)
	}
	if a := st[0]; a.Min != 1 || a.Median != 2 || a.Rounds != 3 || a.PeakRSS != 3 {
		t.Errorf("a: %+v", a)
	}
	if b := st[1]; b.Min != 4 || b.Median != 5 {
		t.Errorf("b: %+v", b)
	}
	if c := st[2]; c.Err == nil || c.Rounds != 0 || Times(c) != "fails: boom" {
		t.Errorf("c: %+v, %q", c, Times(c))
	}
	if r := Ratio(st[0], st[1]); r != "3.00× (4.00×)" { // per round: 5/3, 4/1, 6/2
		t.Errorf("Ratio = %q", r)
	}
}

// TestExec: an external command's time and peak RSS; a failing one is an
// error carrying its last line of output.
func TestExec(t *testing.T) {
	r, err := Exec(t, "/bin/sh", "-c", "exit 0")
	if err != nil || r.Time <= 0 || r.PeakRSS == 0 {
		t.Errorf("Exec(sh) = %+v, %v", r, err)
	}
	_, err = Exec(t, "/bin/sh", "-c", "echo first >&2; echo 'the reason' >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "the reason") || strings.Contains(err.Error(), "first") {
		t.Errorf("failing command: %v", err)
	}
}
