package engine

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/pkg/compression"

	"github.com/refval/refval/oci/layerfs"
)

// maxRetained bounds the files kept in memory while layers are applied;
// a larger (or not retained) passwd or group file is read again from its
// layer. containerd 2.4 refuses user files above maxUserFileBytes anyway.
const maxRetained = 1 << 20

// LayerOpener opens layer i (bottom first) as a tar stream, compressed or
// not. It may be called twice for a layer.
type LayerOpener func(i int) (io.ReadCloser, error)

// UserFilesFromLayers applies n layers with umoci's extraction semantics
// (package oci/layerfs) and returns the image's /etc/passwd and /etc/group
// as a container sees them, symlinks resolved inside the image; nil for a
// file the image does not have.
func UserFilesFromLayers(ctx context.Context, n int, open LayerOpener) (passwd, group []byte, err error) {
	// Files under /etc are kept as they pass; a user file elsewhere (a
	// symlink target) is read again from its layer below.
	t := layerfs.New(layerfs.WithRetain(func(p string, size int64) bool {
		return size <= maxRetained && path.Dir(p) == "/etc"
	}))
	for i := range n {
		if err := applyLayer(ctx, t, open, i); err != nil {
			return nil, nil, err
		}
	}
	get := func(p string) ([]byte, error) {
		f, ok, err := t.LookupFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if !ok {
			return nil, nil
		}
		if f.Content != nil || f.Size == 0 {
			return append([]byte{}, f.Content...), nil
		}
		if f.Size > maxUserFileBytes {
			return nil, fmt.Errorf("%s: larger than %d bytes", p, maxUserFileBytes)
		}
		return readEntry(open, f.Loc)
	}
	if passwd, err = get("/etc/passwd"); err != nil {
		return nil, nil, err
	}
	if group, err = get("/etc/group"); err != nil {
		return nil, nil, err
	}
	return passwd, group, nil
}

func applyLayer(ctx context.Context, t *layerfs.Tree, open LayerOpener, i int) error {
	rc, err := open(i)
	if err != nil {
		return fmt.Errorf("layer %d: %w", i, err)
	}
	defer rc.Close()
	r, _, err := compression.AutoDecompress(rc)
	if err != nil {
		return fmt.Errorf("layer %d: %w", i, err)
	}
	defer r.Close()
	if err := t.Apply(ctx, r); err != nil {
		return err
	}
	// Drain to the end so that a digest-verifying reader sees EOF.
	_, err = io.Copy(io.Discard, rc)
	return err
}

// readEntry reads the content of entry loc.Entry of layer loc.Layer.
func readEntry(open LayerOpener, loc layerfs.Locator) ([]byte, error) {
	rc, err := open(loc.Layer)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r, _, err := compression.AutoDecompress(rc)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	for i := 0; ; i++ {
		if _, err := tr.Next(); err != nil {
			return nil, fmt.Errorf("layer %d: entry %d: %w", loc.Layer, loc.Entry, err)
		}
		if i == loc.Entry {
			return io.ReadAll(io.LimitReader(tr, maxUserFileBytes))
		}
	}
}

// ImageFromLayout reads the image config and the user files of the image
// whose manifest has digest m in the OCI image layout at dir (blobs are
// verified against their digests).
func ImageFromLayout(ctx context.Context, dir string, m digest.Digest) (img ocispec.Image, passwd, group []byte, err error) {
	var man ocispec.Manifest
	if err := readJSONBlob(dir, m, &man); err != nil {
		return img, nil, nil, fmt.Errorf("manifest: %w", err)
	}
	if err := readJSONBlob(dir, man.Config.Digest, &img); err != nil {
		return img, nil, nil, fmt.Errorf("image config: %w", err)
	}
	open := func(i int) (io.ReadCloser, error) {
		d := man.Layers[i].Digest
		p, err := blobPath(dir, d)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", d, err)
		}
		return &verifier{f: f, v: d.Verifier(), d: d}, nil
	}
	passwd, group, err = UserFilesFromLayers(ctx, len(man.Layers), open)
	return img, passwd, group, err
}

// verifier fails at EOF unless the stream matches its digest.
type verifier struct {
	f *os.File
	v digest.Verifier
	d digest.Digest
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.v.Write(p[:n])
	if err == io.EOF && !v.v.Verified() {
		return n, fmt.Errorf("blob %s: digest mismatch", v.d)
	}
	return n, err
}

func (v *verifier) Close() error { return v.f.Close() }

func blobPath(dir string, d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("digest %q: %w", d, err)
	}
	return filepath.Join(dir, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded()), nil
}

func readJSONBlob(dir string, d digest.Digest, v any) error {
	p, err := blobPath(dir, d)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if d.Algorithm().FromBytes(b) != d {
		return fmt.Errorf("blob %s: digest mismatch", d)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	return nil
}
