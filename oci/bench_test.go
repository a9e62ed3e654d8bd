package oci

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/internal/benchproc"
)

// benchChild runs one path of BenchmarkMeasureImage in a child process
// (internal/benchproc; oci_test.go's TestMain hands it over) when no
// REFVAL_BIN is given: pull the image into a fresh store and measure it
// from its layers. args: image, store.
func benchChild(mode string, args []string) error {
	if mode != "measure" {
		return fmt.Errorf("unknown bench mode %q", mode)
	}
	_, err := MeasureImage(context.Background(), args[0], WithLayout(args[1]), WithInsecurePolicy())
	return err
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

// BenchmarkMeasureImage: an image of ≈1 GB in 4 gzip layers, from an OCI
// layout as a pull would find it, interleaved (benchproc.Interleave):
//
//	refval  refval measure: pull into a fresh store, measure from the layers
//	cmc     skopeo copy into a fresh layout, umoci unpack, then CMC's last
//	        measure-bundle (benchproc.CMCBaseline) on the bundle
//
// Every round starts from empty stores and bundles; the source layout is
// in the page cache. The row goes to the table make bench prints.
func BenchmarkMeasureImage(b *testing.B) {
	if testing.Short() {
		b.Skip("writes a 1 GB image")
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	const layers, layerBytes = 4, 240 << 20
	ref := writeBenchImage(b, src, layers, layerBytes)
	var total int64
	filepath.WalkDir(filepath.Join(src, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	round := 0
	fresh := func(name string) string {
		round++
		return filepath.Join(dir, fmt.Sprintf("%s%d", name, round))
	}
	refval := benchproc.Contender{Name: "refval", Run: func() (benchproc.Result, error) {
		store := fresh("store")
		defer os.RemoveAll(store)
		if bin := os.Getenv("REFVAL_BIN"); bin != "" {
			return benchproc.Exec(b, filepath.Join(bin, "refval"), "measure", "--layout", store, "--insecure-policy", ref)
		}
		return benchproc.Run(b, "measure", ref, store), nil
	}}
	cmcBin, why := benchproc.CMCMeasureBundle(b)
	cmc := benchproc.Contender{Name: "cmc", Run: func() (benchproc.Result, error) {
		for _, tool := range []string{"skopeo", "umoci"} {
			if _, err := exec.LookPath(tool); err != nil {
				return benchproc.Result{}, fmt.Errorf("%w: no %s", benchproc.ErrSkipped, tool)
			}
		}
		if cmcBin == "" {
			return benchproc.Result{}, fmt.Errorf("%w: %s", benchproc.ErrSkipped, why)
		}
		layout, bundleDir := fresh("layout"), fresh("bundle")
		defer os.RemoveAll(layout)
		defer os.RemoveAll(bundleDir)
		unpack := []string{"umoci", "unpack", "--image", layout + ":bench", bundleDir}
		if os.Geteuid() != 0 {
			unpack = append(unpack[:2], append([]string{"--rootless"}, unpack[2:]...)...)
		}
		var sum benchproc.Result
		for _, argv := range [][]string{
			{"skopeo", "copy", "--insecure-policy", "-q", ref, "oci:" + layout + ":bench"},
			unpack,
			{cmcBin, "-config", filepath.Join(bundleDir, "config.json"), "-rootfs", filepath.Join(bundleDir, "rootfs")},
		} {
			path, _ := exec.LookPath(argv[0])
			r, err := benchproc.Exec(b, append([]string{path}, argv[1:]...)...)
			if err != nil {
				return benchproc.Result{}, err
			}
			sum.Time += r.Time
			sum.CPU += r.CPU
			sum.PeakRSS = max(sum.PeakRSS, r.PeakRSS)
		}
		return sum, nil
	}}
	b.ResetTimer()
	st := benchproc.Interleave(b, benchproc.Rounds(3), []benchproc.Contender{refval, cmc})
	b.StopTimer()
	rv, cm := st[0], st[1]
	benchproc.TableRow(b, fmt.Sprintf("image, %d gzip layers: %d MB of files, %d MB of blobs; vs skopeo + umoci + CMC", layers, layers*layerBytes/1000000, total/1000000),
		benchproc.Join(benchproc.Times(rv), benchproc.RSS(rv), cpuCell(rv)),
		benchproc.Join(benchproc.Times(cm), benchproc.RSS(cm), cpuCell(cm)),
		benchproc.Ratio(rv, cm), "—", "—", "—")
	if rv.Rounds > 0 {
		b.ReportMetric(rv.Median.Seconds(), "refval-s")
	}
	if med, _, ok := benchproc.PairedRatio(cm, rv); ok {
		b.ReportMetric(med, "x-vs-skopeo+umoci+cmc")
	}
}

func cpuCell(s benchproc.Stats) string {
	if s.Rounds == 0 || s.MedianCPU <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f CPU-s", s.MedianCPU.Seconds())
}
