package benchproc

import (
	"errors"
	"os"
	"testing"
)

var sink []byte

func TestMain(m *testing.M) {
	Child(func(mode string, args []string) error {
		switch mode {
		case "alloc":
			// Touch 64 MiB so that the peak is visibly above the baseline.
			sink = make([]byte, 64<<20)
			for i := range sink {
				sink[i] = 1
			}
			if len(args) != 2 || args[0] != "a b" || args[1] != "" {
				return errors.New("arguments not passed through")
			}
			return nil
		case "idle":
			return nil
		}
		return errors.New("unknown mode")
	})
	os.Exit(m.Run())
}

// TestRun: a child's peak memory is its own (the allocating child peaks
// at least 64 MiB above the idle one) and its arguments arrive intact.
func TestRun(t *testing.T) {
	idle := Run(t, "idle")
	alloc := Run(t, "alloc", "a b", "")
	if idle.PeakRSS <= 0 || alloc.PeakRSS-idle.PeakRSS < 60<<20 {
		t.Errorf("peak RSS idle %d, alloc %d: want alloc ≥ idle + 60 MiB", idle.PeakRSS, alloc.PeakRSS)
	}
	if alloc.Time <= 0 {
		t.Errorf("time %v", alloc.Time)
	}
}
