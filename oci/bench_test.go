package oci

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/benchproc"
)

// benchChild runs one path of BenchmarkMeasureImage500MiB in a child
// process (internal/benchproc; oci_test.go's TestMain hands it over), so
// that each path's peak RSS is its own. args: image, store, bundle dir.
func benchChild(mode string, args []string) error {
	ref, store, dest := args[0], args[1], args[2]
	ctx := context.Background()
	opts := []Option{WithLayout(store), WithPullPolicy(PullNever)}
	switch mode {
	case "stream":
		_, err := MeasureImage(ctx, ref, opts...)
		return err
	case "unpack":
		if _, err := Unpack(ctx, ref, dest, append(opts, WithRootless(os.Geteuid() != 0))...); err != nil {
			return err
		}
		_, err := bundle.Measure(ctx, dest)
		return err
	}
	return fmt.Errorf("unknown bench mode %q", mode)
}

// writeBenchImage writes an OCI layout with nLayers gzip layers of about
// layerBytes each (a mix of file sizes; half of every file random, half
// text, so that it compresses like real binaries and text), streaming:
// the image is never held in memory.
func writeBenchImage(tb testing.TB, dir string, nLayers int, layerBytes int64) string {
	tb.Helper()
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	text := []byte("the quick brown fox jumps over the lazy dog 0123456789\n")
	sizes := []int64{512, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 8 << 20}
	var descs []ocispec.Descriptor
	var diffIDs []digest.Digest
	for l := 0; l < nLayers; l++ {
		tmp, err := os.CreateTemp(blobs, "layer-")
		if err != nil {
			tb.Fatal(err)
		}
		blobHash, diffHash := sha256.New(), sha256.New()
		cw := &countWriter{w: io.MultiWriter(tmp, blobHash)}
		zw, _ := gzip.NewWriterLevel(cw, gzip.BestSpeed)
		tw := tar.NewWriter(io.MultiWriter(zw, diffHash))
		var written int64
		buf := make([]byte, 8<<20)
		for i := 0; written < layerBytes; i++ {
			d := fmt.Sprintf("layer%d/dir%02d", l, i%50)
			if i < 50 {
				tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: time.Unix(0, 0)})
			}
			size := sizes[rng.IntN(len(sizes))]
			if size == 8<<20 && rng.IntN(4) != 0 {
				size = 2 << 10 // keep large files rare
			}
			b := buf[:size]
			half := size / 2
			for j := int64(0); j < half; j += 8 {
				v := rng.Uint64()
				for k := int64(0); k < 8 && j+k < half; k++ {
					b[j+k] = byte(v >> (8 * k))
				}
			}
			for j := half; j < size; j += int64(len(text)) {
				copy(b[j:], text)
			}
			hdr := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%s/f%06d", d, i), Mode: 0o644, Size: size, ModTime: time.Unix(0, 0)}
			if err := tw.WriteHeader(hdr); err != nil {
				tb.Fatal(err)
			}
			tw.Write(b)
			written += size
		}
		tw.Close()
		zw.Close()
		tmp.Close()
		d := digest.NewDigest(digest.SHA256, blobHash)
		if err := os.Rename(tmp.Name(), filepath.Join(blobs, d.Encoded())); err != nil {
			tb.Fatal(err)
		}
		descs = append(descs, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: cw.n})
		diffIDs = append(diffIDs, digest.NewDigest(digest.SHA256, diffHash))
	}
	put := func(v any) ocispec.Descriptor {
		raw, _ := json.Marshal(v)
		d := digest.FromBytes(raw)
		if err := os.WriteFile(filepath.Join(blobs, d.Encoded()), raw, 0o644); err != nil {
			tb.Fatal(err)
		}
		return ocispec.Descriptor{Digest: d, Size: int64(len(raw))}
	}
	cfg := put(ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}})
	cfg.MediaType = ocispec.MediaTypeImageConfig
	man := put(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: descs})
	man.MediaType = ocispec.MediaTypeImageManifest
	man.Annotations = map[string]string{ocispec.AnnotationRefName: "bench"}
	raw, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{man}})
	os.WriteFile(filepath.Join(dir, "index.json"), raw, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return "oci:" + dir + ":bench"
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// BenchmarkMeasureImage500MiB: the stream measurement of a ≈500 MiB,
// 4-layer gzip image against the baseline "unpack + measure-bundle" on the
// same image in the same run; reports both times, the speed-up and each
// path's peak RSS. (Issue target: ≥2×, and no rootfs on disk.)
func BenchmarkMeasureImage500MiB(b *testing.B) {
	if testing.Short() {
		b.Skip("writes a 500 MiB image")
	}
	dir := b.TempDir()
	ref := writeBenchImage(b, filepath.Join(dir, "src"), 4, 125<<20)
	store := filepath.Join(dir, "store")
	if _, err := Pull(context.Background(), ref, WithLayout(store), WithInsecurePolicy()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var stream, baseline time.Duration
	var streamRSS, baseRSS float64
	for i := 0; i < b.N; i++ {
		r := benchproc.Run(b, "stream", ref, store, "")
		stream += r.Time
		streamRSS = max(streamRSS, float64(r.PeakRSS)/(1<<20))
		dest := filepath.Join(dir, fmt.Sprintf("bundle%d", i))
		r = benchproc.Run(b, "unpack", ref, store, dest)
		baseline += r.Time
		baseRSS = max(baseRSS, float64(r.PeakRSS)/(1<<20))
		b.StopTimer()
		os.RemoveAll(dest)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(stream.Seconds()/n, "stream-s/op")
	b.ReportMetric(baseline.Seconds()/n, "unpack+measure-s/op")
	b.ReportMetric(baseline.Seconds()/stream.Seconds(), "speedup-x")
	b.ReportMetric(streamRSS, "stream-peak-RSS-MiB")
	b.ReportMetric(baseRSS, "unpack+measure-peak-RSS-MiB")
}
