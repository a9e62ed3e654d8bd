package oci

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"

	ti "github.com/refval/refval/internal/testimage"
)

// FuzzCheckArchive: the oci-archive check never panics, and what it accepts holds
// regular files and directories only (as archive/tar reads it).
func FuzzCheckArchive(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input, slowly for large ones.
	for _, l := range []ti.Layer{
		{ti.Dir("blobs/", 0o755), ti.File("oci-layout", 0o644, `{"imageLayoutVersion":"1.0.0"}`), ti.File("index.json", 0o644, "{}")},
		{ti.Fifo("index.json", 0o644)},
		{ti.Symlink("index.json", "/dev/zero"), ti.CharDev("blobs/x", 0o644, 1, 5)},
	} {
		f.Add(ti.LayerTars(f, []ti.Layer{l})[0])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkArchiveEntries("a.tar", bytes.NewReader(data)); err != nil {
			if !errors.Is(err, ErrInvalidImage) {
				t.Fatalf("error without ErrInvalidImage: %v", err)
			}
			return
		}
		tr := tar.NewReader(bytes.NewReader(data))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("accepted an archive tar cannot read: %v", err)
			}
			if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeDir {
				t.Fatalf("accepted entry %q of type %q", hdr.Name, hdr.Typeflag)
			}
		}
	})
}
