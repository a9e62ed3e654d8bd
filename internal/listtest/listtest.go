// Package listtest builds measurement list entries for tests of the
// packages that consume them (drivers, shim).
package listtest

import (
	"crypto/sha256"

	"github.com/refval/refval/measurelist"
)

// Entry returns a distinct, well-formed entry for name: config and rootfs
// hashes derived from the name, the template hash SHA-256 of both.
func Entry(name string) measurelist.Entry {
	c := sha256.Sum256([]byte("config " + name))
	r := sha256.Sum256([]byte("rootfs " + name))
	th := sha256.Sum256(append(c[:], r[:]...))
	return measurelist.Entry{TemplateSha256: th, Name: name, ConfigSha256: c, RootfsSha256: r}
}
