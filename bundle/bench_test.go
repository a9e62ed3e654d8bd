package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/refval/refval/internal/benchproc"
)

// The rootfs benchmarks compare, in one run and on the same generated trees
// (kept in the page cache), three ways to hash a rootfs:
//
//	refval   HashRootfs (refval-v1): parallel, streaming
//	floor    read and SHA-256 every file on one goroutine: the one-core floor
//	tarbuf   the original CMC tool: the whole tree as a tar in a memory
//	         buffer, then hashed
//
// Each runs in a child process (internal/benchproc) so that its time and
// peak RSS are its own. Reported: MB/s of each, refval's speed as a multiple of the other two,
// and peak RSS in MiB.

func TestMain(m *testing.M) {
	benchproc.Child(func(mode string, args []string) error { return benchChild(mode, args[0]) })
	os.Exit(m.Run())
}

func benchChild(mode, dir string) error {
	switch mode {
	case "refval":
		_, _, err := HashRootfs(context.Background(), dir)
		return err
	case "floor":
		buf := make([]byte, 256<<10)
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			h := sha256.New()
			_, err = io.CopyBuffer(h, f, buf)
			return err
		})
	case "tarbuf":
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		err := filepath.Walk(dir, func(p string, fi fs.FileInfo, err error) error {
			if err != nil {
				return err
			}
			link := ""
			if fi.Mode()&fs.ModeSymlink != 0 {
				link, _ = os.Readlink(p)
			}
			hdr, err := tar.FileInfoHeader(fi, link)
			if err != nil {
				return err
			}
			hdr.Name, _ = filepath.Rel(dir, p)
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if fi.Mode().IsRegular() {
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = io.Copy(tw, f)
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
		tw.Close()
		sha256.Sum256(b.Bytes())
		return nil
	}
	return fmt.Errorf("unknown bench mode %q", mode)
}

// writeBenchTree fills dir with count files of size bytes spread over
// directories of 100 files, with pseudo-random (incompressible) content.
func writeBenchTree(b *testing.B, dir string, count, size int, rng *rand.ChaCha8) int64 {
	buf := make([]byte, size)
	for i := range count {
		sub := filepath.Join(dir, fmt.Sprintf("d%04d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		rng.Read(buf)
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d-%d", size, i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return int64(count) * int64(size)
}

func warmCache(b *testing.B, dir string) {
	if _, _, err := HashRootfs(context.Background(), dir); err != nil {
		b.Fatal(err)
	}
}

func benchmarkTree(b *testing.B, dir string, total int64) {
	warmCache(b, dir)
	b.ResetTimer()
	var ours, floor, tarbuf benchproc.Result
	for range b.N {
		ours = benchproc.Run(b, "refval", dir)
		floor = benchproc.Run(b, "floor", dir)
		tarbuf = benchproc.Run(b, "tarbuf", dir)
	}
	tr, tf, tt := ours.Time, floor.Time, tarbuf.Time
	rr, rf, rt := ours.PeakRSS, floor.PeakRSS, tarbuf.PeakRSS
	mbps := func(d time.Duration) float64 { return float64(total) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(tr), "refval_MB/s")
	b.ReportMetric(mbps(tf), "floor_MB/s")
	b.ReportMetric(mbps(tt), "tarbuf_MB/s")
	b.ReportMetric(tf.Seconds()/tr.Seconds(), "x_vs_floor")
	b.ReportMetric(tt.Seconds()/tr.Seconds(), "x_vs_tarbuf")
	b.ReportMetric(float64(rr)/(1<<20), "refval_RSS_MiB")
	b.ReportMetric(float64(rf)/(1<<20), "floor_RSS_MiB")
	b.ReportMetric(float64(rt)/(1<<20), "tarbuf_RSS_MiB")
}

// BenchmarkRootfsLarge: ≈1 GiB of mixed file sizes (8×64 MiB, 64×4 MiB,
// 1024×256 KiB, 4096×4 KiB). Target: x_vs_floor ≥ 1.5 on two cores,
// refval_RSS_MiB ≤ 64.
func BenchmarkRootfsLarge(b *testing.B) {
	dir := b.TempDir()
	rng := rand.NewChaCha8([32]byte{1})
	var total int64
	for _, s := range []struct{ n, size int }{{8, 64 << 20}, {64, 4 << 20}, {1024, 256 << 10}, {4096, 4 << 10}} {
		total += writeBenchTree(b, filepath.Join(dir, strconv.Itoa(s.size)), s.n, s.size, rng)
	}
	benchmarkTree(b, dir, total)
}

// BenchmarkRootfsSmall: 100 000 files of 1 KiB (metadata-bound).
func BenchmarkRootfsSmall(b *testing.B) {
	dir := b.TempDir()
	rng := rand.NewChaCha8([32]byte{2})
	total := writeBenchTree(b, dir, 100000, 1<<10, rng)
	benchmarkTree(b, dir, total)
}
