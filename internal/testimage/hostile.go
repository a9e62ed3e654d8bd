package testimage

import (
	"archive/tar"
	"fmt"
	"strings"
)

// Sparse returns a PAX (format 1.0) sparse file of realSize bytes that is
// one hole: the layer holds a 512-byte sparse map and no data, readers
// return realSize zero bytes.
func Sparse(path string, realSize int64) Entry {
	m := make([]byte, 512)
	copy(m, "0\n") // no data segments
	return Entry{Path: path, Type: tar.TypeReg, Mode: 0o644, Content: m, RawPAX: map[string]string{
		"GNU.sparse.major":    "1",
		"GNU.sparse.minor":    "0",
		"GNU.sparse.name":     path,
		"GNU.sparse.realsize": fmt.Sprint(realSize),
	}}
}

// ZeroFile returns a regular file of n zero bytes (a gzip bomb when the
// image is compressed: 1 MiB of it gzips to about 1 KiB).
func ZeroFile(path string, n int) Entry {
	return Entry{Path: path, Type: tar.TypeReg, Mode: 0o644, Content: make([]byte, n)}
}

// DeepPath returns the path of depth components "d/d/.../d" followed by
// name (depth directories, no entries for them: they are implicit).
func DeepPath(depth int, name string) string {
	return strings.Repeat("d/", depth) + name
}
