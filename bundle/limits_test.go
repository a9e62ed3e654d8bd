package bundle

import (
	"errors"
	"strings"
	"testing"
)

func TestLimitsResolved(t *testing.T) {
	d := DefaultLimits()
	if got := (Limits{}).Resolved(); got != d {
		t.Errorf("zero limits resolve to %+v, want %+v", got, d)
	}
	l := Limits{Depth: 5, Entries: -1}.Resolved()
	if l.Depth != 5 || l.Entries != -1 || l.LayerBytes != d.LayerBytes {
		t.Errorf("partial limits: %+v", l)
	}
	// The defaults must let every path unpack can create under a rootfs
	// directory of up to 1023 bytes, and no name Linux refuses.
	if d.NameBytes > MaxNameBytes || d.PathBytes+1023 > MaxPathBytes {
		t.Errorf("defaults beyond what Linux can create: %+v", d)
	}
}

func TestLimitError(t *testing.T) {
	err := CheckLimit(LimitDepth, 50000, 1024, "/a/a")
	var le *LimitError
	if !errors.Is(err, ErrLimitExceeded) || !errors.As(err, &le) || le.Value != 50000 || le.Max != 1024 {
		t.Fatalf("err = %#v", err)
	}
	for _, want := range []string{`"/a/a"`, "path depth 50000 exceeds the limit 1024", "--max-depth"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if CheckLimit(LimitDepth, 1024, 1024, "") != nil || CheckLimit(LimitDepth, 1<<40, -1, "") != nil {
		t.Error("within the limit, or no limit, is no error")
	}
	for _, l := range []Limit{LimitLayerBytes, LimitImageBytes, LimitExpansion, LimitEntries, LimitDepth, LimitNameBytes, LimitPathBytes} {
		if !strings.HasPrefix(l.Flag(), "--max-") {
			t.Errorf("%s: flag %q", l, l.Flag())
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"123": 123, "64GiB": 64 << 30, "1 MiB": 1 << 20, "2kB": 2000, "5B": 5, "-1": -1, "8TiB": 8 << 40} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-2", "-1GiB", "1.5GiB", "99999999999TiB", "GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1", "64GiB", "-1", "1 MiB", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < -1 {
			t.Fatalf("%q: %d", s, n)
		}
	})
}
