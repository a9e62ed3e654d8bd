package layerfs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/refval/refval/bundle"
)

// CheckHeader applies the checks that need no tree to one layer entry and
// strips what refval does not take from layers, so that an unpacker can
// run them before extracting the entry: whiteouts of "." or ".." are
// rejected (ErrInvalidLayer), a user.rootlesscontainers xattr is removed
// from hdr (see the package documentation).
func CheckHeader(hdr *tar.Header) error {
	comps := splitClean(hdr.Name)
	if len(comps) > 0 {
		if wo, ok := strings.CutPrefix(comps[len(comps)-1], whPrefix); ok && (wo == "." || wo == "..") {
			return invalid("whiteout %q names no entry", comps[len(comps)-1])
		}
	}
	delete(hdr.PAXRecords, "SCHILY.xattr."+bundle.RootlessXattr)
	delete(hdr.Xattrs, bundle.RootlessXattr) //nolint:staticcheck // umoci reads the deprecated field
	return nil
}

// Entries calls fn with every entry of the uncompressed layer tarball r,
// in order, after CheckHeader: the in-memory tree and the unpacker read
// layers through this one loop, so both see the same checked and stripped
// headers. ctx is checked every 1024 entries. Errors name the entry. The
// default bundle.Limits apply to this one layer; Budget.Entries applies
// chosen limits over all layers of an image.
func Entries(ctx context.Context, r io.Reader, fn func(i int, hdr *tar.Header, content io.Reader) error) error {
	return NewBudget(bundle.Limits{}).Entries(ctx, r, fn)
}

func entries(ctx context.Context, r io.Reader, fn func(i int, hdr *tar.Header, content io.Reader) error) error {
	tr := tar.NewReader(r)
	for i := 0; ; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read entry %d: %w", i, err)
		}
		if err := CheckHeader(hdr); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if err := fn(i, hdr, tr); err != nil {
			le := (*bundle.LimitError)(nil)
			if errors.As(err, &le) && le.Path == hdr.Name {
				return err // it names the entry
			}
			err = fmt.Errorf("entry %q: %w", hdr.Name, err)
			if le != nil && le.Path == "" {
				le.Path = hdr.Name // a stream limit met while reading the entry
			}
			return err
		}
	}
}
