package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/vbauerster/mpb/v8"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/atomicfile"
)

// store is an OCI image layout used as refval's image store: blobs are
// shared by every image in it, index.json names each pulled image by
// org.opencontainers.image.ref.name.
type store struct {
	dir string
	// progress, when set, gets one bar per layer read (WithProgress).
	progress *mpb.Progress
	// limits bound what reading a layer may expand to (WithLimits).
	limits bundle.Limits
}

// maxJSONBlob bounds manifests, indexes and configs read into memory
// (containers/image uses 4 MiB for manifests; configs get more room).
const maxJSONBlob = 16 << 20

func openStore(dir string, create bool) (*store, error) {
	s := &store{dir: dir}
	if !create {
		if _, err := os.Stat(filepath.Join(dir, ocispec.ImageLayoutFile)); err != nil {
			return nil, fmt.Errorf("layout store %s: %w", dir, err)
		}
		return s, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, ocispec.ImageBlobsDir, "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("layout store: %w", err)
	}
	// Staging layouts of pulls that were killed (staleStaging: their lock
	// is free), with the archives containers/image extracted into them.
	if stale, _ := filepath.Glob(filepath.Join(dir, ".pull-*")); len(stale) > 0 {
		for _, p := range stale {
			if staleStaging(p) {
				os.RemoveAll(p)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ocispec.ImageLayoutFile)); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.WriteFile(filepath.Join(dir, ocispec.ImageLayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return nil, fmt.Errorf("layout store: %w", err)
		}
	}
	return s, nil
}

// lock takes an exclusive lock on the store's index (flock on
// .refval.lock), serialising index.json updates between processes.
func (s *store) lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, ".refval.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock layout store: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock layout store: %w", err)
	}
	return func() { f.Close() }, nil
}

func (s *store) index() (*ocispec.Index, error) {
	idx := &ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	raw, err := readRegular(filepath.Join(s.dir, ocispec.ImageIndexFile), maxJSONBlob)
	if errors.Is(err, fs.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, idx); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidImage, filepath.Join(s.dir, ocispec.ImageIndexFile), err)
	}
	return idx, nil
}

// lookup returns the descriptor named name in index.json.
func (s *store) lookup(name string) (ocispec.Descriptor, error) {
	idx, err := s.index()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	for _, d := range idx.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] == name {
			return d, nil
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("%w: %s (in %s)", ErrNotInStore, name, s.dir)
}

// tag names desc in index.json (atomically replaced), dropping an older
// descriptor with the same name. The caller holds the lock.
func (s *store) tag(name string, desc ocispec.Descriptor, ann map[string]string) error {
	idx, err := s.index()
	if err != nil {
		return err
	}
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] != name {
			kept = append(kept, d)
		}
	}
	desc.Annotations = map[string]string{ocispec.AnnotationRefName: name}
	for k, v := range ann {
		desc.Annotations[k] = v
	}
	idx.Manifests = append(kept, desc)
	raw, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.dir, ocispec.ImageIndexFile), raw, 0o644)
}

func (s *store) blobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalidImage, d, err)
	}
	return filepath.Join(s.dir, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded()), nil
}

// open returns a reader of the blob desc that fails with ErrDigestMismatch
// at EOF (or earlier, for too many bytes) unless the content matches the
// descriptor's digest and size.
func (s *store) open(desc ocispec.Descriptor) (io.ReadCloser, error) {
	p, err := s.blobPath(desc.Digest)
	if err != nil {
		return nil, err
	}
	if !desc.Digest.Algorithm().Available() {
		return nil, fmt.Errorf("%w: blob %s: unsupported digest algorithm", ErrInvalidImage, desc.Digest)
	}
	f, err := openRegular(p)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	return &verifier{f: f, desc: desc, h: desc.Digest.Algorithm().Hash()}, nil
}

type verifier struct {
	f    *os.File
	desc ocispec.Descriptor
	h    hash.Hash
	n    int64
	done bool
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.desc.Size {
		return n, fmt.Errorf("%w: blob %s is larger than its descriptor's %d bytes", ErrDigestMismatch, v.desc.Digest, v.desc.Size)
	}
	if err == io.EOF && !v.done {
		v.done = true
		if v.n != v.desc.Size {
			return n, fmt.Errorf("%w: blob %s has %d bytes, its descriptor says %d", ErrDigestMismatch, v.desc.Digest, v.n, v.desc.Size)
		}
		if got := digest.NewDigest(v.desc.Digest.Algorithm(), v.h); got != v.desc.Digest {
			return n, fmt.Errorf("%w: blob %s has digest %s", ErrDigestMismatch, v.desc.Digest, got)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.f.Close() }

// readBlob reads a (JSON) blob into memory, verified.
func (s *store) readBlob(desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > maxJSONBlob || desc.Size < 0 {
		return nil, fmt.Errorf("%w: blob %s: size %d out of range", ErrInvalidImage, desc.Digest, desc.Size)
	}
	r, err := s.open(desc)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// readJSON reads and decodes a verified JSON blob.
func (s *store) readJSON(desc ocispec.Descriptor, v any) error {
	raw, err := s.readBlob(desc)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrInvalidImage, desc.MediaType, desc.Digest, err)
	}
	return nil
}

// readStore returns the store for reading layers, with progress bars on
// the WithProgress writer (mpb, as containers/image draws its own).
func (o *options) readStore() *store {
	s := &store{dir: o.layout, limits: o.limits.Resolved()}
	if o.report != nil {
		s.progress = mpb.New(mpb.WithOutput(o.report), mpb.WithWidth(40), mpb.WithAutoRefresh())
	}
	return s
}

// wait lets the progress bars finish drawing.
func (s *store) wait() {
	if s.progress != nil {
		s.progress.Wait()
	}
}
