package layerfs

import (
	"archive/tar"
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
