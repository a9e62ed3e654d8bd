package benchproc

import (
	"crypto/sha256"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// HashRate measures SHA-256 on one goroutine, locked to its thread, over a
// cache-resident 256 KiB buffer for about d, in bytes per second of that
// thread's CPU time: the per-core ceiling of any measurement that hashes
// every byte once, whatever else the shared machine runs meanwhile.
// HashLimit is that rate times the number of CPUs, the ceiling of a
// parallel hasher with the machine to itself.
func HashRate(d time.Duration) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, 256<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	h := sha256.New()
	var n int
	start, cpu0 := time.Now(), threadCPU()
	for time.Since(start) < d {
		for range 8 {
			h.Write(buf)
		}
		n += 8 * len(buf)
	}
	cpu := threadCPU() - cpu0
	if cpu <= 0 {
		cpu = time.Since(start)
	}
	return float64(n) / cpu.Seconds()
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// HashLimit is HashRate times runtime.NumCPU.
func HashLimit(d time.Duration) float64 { return HashRate(d) * float64(runtime.NumCPU()) }
