package benchproc

import (
	"crypto/sha256"
	"runtime"
	"time"
)

// HashRate measures SHA-256 on one goroutine over a cache-resident 256 KiB
// buffer for about d, in bytes per second: the per-core ceiling of any
// measurement that hashes every byte once. HashLimit is that rate times
// the number of CPUs, the ceiling of a parallel hasher on this machine
// (shared with whatever else runs: measure it in the same run).
func HashRate(d time.Duration) float64 {
	buf := make([]byte, 256<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	h := sha256.New()
	var n int
	start := time.Now()
	for time.Since(start) < d {
		for range 8 {
			h.Write(buf)
		}
		n += 8 * len(buf)
	}
	return float64(n) / time.Since(start).Seconds()
}

// HashLimit is HashRate times runtime.NumCPU.
func HashLimit(d time.Duration) float64 { return HashRate(d) * float64(runtime.NumCPU()) }
