// Package testimage builds small OCI images for tests: OCI image layouts,
// oci-archive and docker-archive tarballs whose layers are crafted entry by
// entry, including what real images rarely contain but a measurement must
// get right: whiteouts (.wh.NAME), opaque directories (.wh..wh..opq),
// hardlinks, symlinks, setuid/setgid/sticky bits, security.capability
// xattrs (PAX SCHILY.xattr.*), device nodes, fifos, non-UTF-8 names, gzip
// and uncompressed layers, and multi-platform indexes.
//
// Usage from any package's tests:
//
//	img := testimage.Image{Layers: []testimage.Layer{{
//		testimage.Dir("etc", 0o755),
//		testimage.File("etc/hello", 0o644, "hi\n"),
//	}}}
//	desc, err := testimage.WriteLayout(dir, "latest", img)
//	// skopeo / refval: "oci:" + dir + ":latest"
//
// Image.Ending writes layers that end as real writers end them (Endings:
// no end-of-archive blocks, none and no padding as umoci insert writes,
// one zero block, padded to a record) or truncated. Hostile entries:
// Sparse (a PAX sparse file of any size that is one hole), ZeroFile (a
// gzip bomb when compressed), DeepPath; Entry.RawPAX writes PAX records
// Go's tar writer refuses; TarDir keeps FIFOs and symlinks of a layout it
// archives.
//
// Busybox(extra...) returns a runnable image around the host's static
// /bin/busybox (Debian busybox-static) with applet symlinks, /etc/passwd
// and /etc/group, for tests that start real containers.
//
// Guarantees: output is deterministic (fixed mtimes, sorted JSON, gzip
// without timestamps), so the same Image always yields the same digests.
// Entries are written verbatim, in the order given, with the header name
// exactly as Entry.Path: this package never normalises, sorts, validates or
// deduplicates entries, so hostile layers (../ paths, absolute names,
// whiteouts outside the tree) can be built on purpose.
//
// Left out: zstd layers, encrypted layers, foreign layers, signatures. It
// is a test helper: errors come back as values, nothing is cached.
package testimage
