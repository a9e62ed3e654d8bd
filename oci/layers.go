package oci

import (
	"errors"
	"fmt"
	"hash"
	"io"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/umoci/oci/casext/blobcompress"
	"github.com/opencontainers/umoci/oci/casext/mediatype"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/refval/refval/bundle"
)

// barReader advances a progress bar by what is read.
type barReader struct {
	io.ReadCloser
	bar *mpb.Bar
}

func (r *barReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.bar.IncrBy(n)
	return n, err
}

// layerCompression accepts exactly the layer media types umoci unpacks
// (oci/layer: isLayerType and getLayerCompressAlgorithm): the OCI tar
// layer, or its deprecated non-distributable form, with no compression,
// +gzip or +zstd. containers/image has already converted Docker media
// types to these when it copied the image into the OCI store.
func layerCompression(mt string) (blobcompress.Algorithm, error) {
	base, suffix := mediatype.SplitMediaTypeSuffix(mt)
	if base != ocispec.MediaTypeImageLayer && base != ocispec.MediaTypeImageLayerNonDistributable { //nolint:staticcheck // still unpacked by umoci
		return nil, fmt.Errorf("%w: layer %q", ErrUnsupportedMediaType, mt)
	}
	algo := blobcompress.GetAlgorithm(suffix)
	if algo == nil {
		return nil, fmt.Errorf("%w: layer %q: compression %q", ErrUnsupportedMediaType, mt, suffix)
	}
	return algo, nil
}

// withLayer calls fn with the uncompressed tar stream of layer l, then
// reads what fn left (trailing padding, as umoci does) and checks the
// blob's digest and size and the stream's diff ID. An error from fn comes
// first; a digest mismatch is reported even when fn failed on the bad data
// it caused.
func (s *store) withLayer(l Layer, fn func(io.Reader) error) (err error) {
	algo, err := layerCompression(l.MediaType)
	if err != nil {
		return err
	}
	blob, err := s.open(ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
	if err != nil {
		return err
	}
	defer blob.Close()
	if s.progress != nil {
		bar := s.progress.AddBar(l.Size,
			mpb.PrependDecorators(decor.Name("layer "+l.Digest.Encoded()[:12]+" ")),
			mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f")))
		defer func() {
			if err != nil {
				bar.Abort(false)
			} else {
				bar.SetTotal(-1, true)
			}
		}()
		blob = &barReader{ReadCloser: blob, bar: bar}
	}
	raw, err := algo.Decompress(blob)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer raw.Close()
	if !l.DiffID.Algorithm().Available() {
		return fmt.Errorf("%w: layer %s: diff ID %q", ErrInvalidImage, l.Digest, l.DiffID)
	}
	// An uncompressed layer's diff ID is its blob digest, which the blob
	// reader verifies; otherwise the stream is hashed on another core.
	var th *teeHasher
	r := io.Reader(raw)
	if algo.MediaTypeSuffix() != "" || l.DiffID.Algorithm() != l.Digest.Algorithm() {
		th = newTeeHasher(raw, l.DiffID.Algorithm().Hash())
		defer th.stop()
		r = th
	} else if l.DiffID != l.Digest {
		return fmt.Errorf("%w: uncompressed layer %s has diff ID %s", ErrDigestMismatch, l.Digest, l.DiffID)
	}
	r = &streamLimit{r: r, lim: s.limits.Resolved(), blobSize: l.Size}
	ferr := fn(r)
	if le := (*bundle.LimitError)(nil); errors.As(ferr, &le) {
		le.Layer = l.Digest.String()
		return ferr // nothing more is read from a layer beyond a limit
	}
	if ferr == nil {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		if _, err := io.Copy(io.Discard, blob); err != nil {
			return fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	} else if _, err := io.Copy(io.Discard, blob); errors.Is(err, ErrDigestMismatch) {
		return fmt.Errorf("layer %s: %w (%v)", l.Digest, err, ferr)
	}
	if ferr != nil {
		return ferr
	}
	if th != nil {
		if got := digest.NewDigest(l.DiffID.Algorithm(), th.sum()); got != l.DiffID {
			return fmt.Errorf("%w: layer %s: diff ID is %s, config says %s", ErrDigestMismatch, l.Digest, got, l.DiffID)
		}
	}
	return nil
}

// streamLimit bounds a layer's uncompressed tar stream: at most layerMax
// bytes, and beyond bundle.ExpansionFloor at most expansion bytes per byte
// of the (compressed) blob, so a decompression bomb stops after a bounded
// amount of work.
type streamLimit struct {
	r        io.Reader
	n        int64
	lim      bundle.Limits
	blobSize int64
}

func (s *streamLimit) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if lerr := bundle.CheckLimit(bundle.LimitLayerBytes, s.n, s.lim.LayerBytes, ""); lerr != nil {
		return n, lerr
	}
	if e := s.lim.Expansion; e >= 0 && s.n > s.lim.ExpansionFloor && s.n/e > s.blobSize {
		return n, &bundle.LimitError{Limit: bundle.LimitExpansion, Value: (s.n + s.blobSize - 1) / max(s.blobSize, 1), Max: e}
	}
	return n, err
}

// teeHasher passes a stream through while a second goroutine hashes it,
// so that the diff ID costs no time on the reading goroutine.
type teeHasher struct {
	r    io.Reader
	h    hash.Hash
	full chan []byte
	free chan []byte
	done chan struct{}
	cur  []byte
	off  int
	err  error
}

const teeBuf = 256 << 10

func newTeeHasher(r io.Reader, h hash.Hash) *teeHasher {
	t := &teeHasher{r: r, h: h, full: make(chan []byte, 4), free: make(chan []byte, 4), done: make(chan struct{})}
	for i := 0; i < 4; i++ {
		t.free <- make([]byte, teeBuf)
	}
	full, free, done, h2 := t.full, t.free, t.done, h // stop() clears t.full
	go func() {
		defer close(done)
		for b := range full {
			h2.Write(b)
			free <- b[:cap(b)]
		}
	}()
	return t
}

// Read passes on the current buffer; once it is consumed, the buffer goes
// to the hasher and the next one is filled. cur and off are reset together
// whenever a buffer leaves the reader, so a Read after EOF (a tar stream
// without end-of-archive blocks is drained again by withLayer) returns the
// sticky error instead of slicing a released buffer.
func (t *teeHasher) Read(p []byte) (int, error) {
	if t.off == len(t.cur) {
		if t.cur != nil {
			t.full <- t.cur
			t.cur, t.off = nil, 0
		}
		if t.err != nil {
			return 0, t.err
		}
		b := <-t.free
		n, err := io.ReadAtLeast(t.r, b, len(b))
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		t.cur, t.off, t.err = b[:n], 0, err
		if n == 0 {
			t.free <- b
			t.cur = nil
			return 0, err
		}
	}
	n := copy(p, t.cur[t.off:])
	t.off += n
	return n, nil
}

// sum waits for the hasher and returns the hash of everything read.
func (t *teeHasher) sum() hash.Hash {
	t.stop()
	return t.h
}

func (t *teeHasher) stop() {
	if t.full == nil {
		return
	}
	if t.cur != nil {
		t.full <- t.cur[:t.off]
		t.cur, t.off = nil, 0
	}
	close(t.full)
	t.full = nil
	<-t.done
}
