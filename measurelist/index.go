package measurelist

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/internal/boundedfile"
)

// The list index is a cache next to the list (LIST.idx) that lets Append
// add an entry without decoding and re-encoding the whole list: the
// SHA-256 of the list file's exact bytes, the codec that wrote them and
// the template hashes of their entries, in order. The hash ties the index
// to the list's exact bytes, but it does not prove the template hashes:
// whoever can write the index can claim any, and Append skips (never
// records nor commits) an entry the index claims. So the index is
// trusted only when it is a regular file owned by the effective uid, by
// the list's owner too, and writable by nobody else (trustedIndex): only
// a process of the list's owner can have written it. Any other index — foreign,
// writable by others, a different hash or codec, one that does not parse
// — is ignored: the full decode/validate/encode path runs, and a fresh
// index replaces it.
//
// Wire format (big-endian): indexMagic, the codec key as one length byte
// and its bytes, the 32-byte SHA-256 of the list, the entry count as
// uint32, then count template hashes of 32 bytes each, nothing after.

// indexMagic starts an index file (format version 1).
const indexMagic = "refval-measurelist-index-v1\n"

// errIndex marks an index file that cannot be used (the caller then
// takes the full path; it is never an error of Append).
var errIndex = errors.New("invalid measurement list index")

// listIndex is a parsed index.
type listIndex struct {
	codec     string
	sum       [sha256.Size]byte
	templates []bundle.Digest
}

// newIndex returns the index of the list raw written by codec key codec
// with the template hashes of entries l.
func newIndex(codec string, raw []byte, l []Entry) listIndex {
	x := listIndex{codec: codec, sum: sha256.Sum256(raw), templates: make([]bundle.Digest, len(l))}
	for i, e := range l {
		x.templates[i] = e.TemplateSha256
	}
	return x
}

// marshal encodes x in the index wire format.
func (x listIndex) marshal() []byte {
	b := make([]byte, 0, len(indexMagic)+1+len(x.codec)+sha256.Size+4+len(x.templates)*len(bundle.Digest{}))
	b = append(b, indexMagic...)
	b = append(b, byte(len(x.codec)))
	b = append(b, x.codec...)
	b = append(b, x.sum[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(x.templates)))
	for _, t := range x.templates {
		b = append(b, t[:]...)
	}
	return b
}

// parseIndex decodes an index file. It accepts exactly what marshal
// writes and refuses anything else (untrusted input: never a panic, no
// allocation beyond the input's size).
func parseIndex(b []byte) (listIndex, error) {
	var x listIndex
	if !bytes.HasPrefix(b, []byte(indexMagic)) {
		return x, fmt.Errorf("%w: bad magic", errIndex)
	}
	b = b[len(indexMagic):]
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return x, fmt.Errorf("%w: truncated codec", errIndex)
	}
	x.codec, b = string(b[1:1+int(b[0])]), b[1+int(b[0]):]
	if x.codec == "" {
		return x, fmt.Errorf("%w: empty codec", errIndex)
	}
	if len(b) < sha256.Size+4 {
		return x, fmt.Errorf("%w: truncated header", errIndex)
	}
	copy(x.sum[:], b)
	n := binary.BigEndian.Uint32(b[sha256.Size:])
	b = b[sha256.Size+4:]
	size := len(bundle.Digest{})
	if uint64(len(b)) != uint64(n)*uint64(size) {
		return x, fmt.Errorf("%w: %d template bytes for %d entries", errIndex, len(b), n)
	}
	x.templates = make([]bundle.Digest, n)
	for i := range x.templates {
		copy(x.templates[i][:], b[i*size:])
	}
	return x, nil
}

// has reports whether template hash t is in the index.
func (x listIndex) has(t bundle.Digest) bool {
	for _, y := range x.templates {
		if y == t {
			return true
		}
	}
	return false
}

// indexPath is the index file of the list at path.
func indexPath(path string) string { return path + ".idx" }

// readIndex returns the bytes of the list's index, nil if there is none
// or it is not a regular file of at most MaxSize bytes (a symbolic link
// is not followed).
func readIndex(path string) []byte {
	b, err := boundedfile.Read(indexPath(path), MaxSize, boundedfile.RefuseLinks)
	if err != nil {
		return nil
	}
	return b
}

// trustedIndex returns the bytes of the list's index if it may be
// trusted, nil otherwise: list is the fstat of the list file (nil if
// there is none), and the index's fstat must show a regular file owned
// by the effective uid and by the list's owner, not writable by its
// group or others.
func trustedIndex(path string, list fs.FileInfo) []byte {
	b, fi, err := boundedfile.ReadInfo(indexPath(path), MaxSize, boundedfile.RefuseLinks)
	if err != nil || list == nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	lst, lok := list.Sys().(*syscall.Stat_t)
	if !ok || !lok || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 ||
		int64(st.Uid) != int64(os.Geteuid()) || st.Uid != lst.Uid {
		return nil
	}
	return b
}

// validIndex parses raw and reports whether it is the index of list
// bytes old written by codec sp, with at least one entry.
func validIndex(raw []byte, sp splicer, old []byte) (listIndex, bool) {
	if raw == nil {
		return listIndex{}, false
	}
	x, err := parseIndex(raw)
	if err != nil || x.codec != sp.indexKey() || len(x.templates) == 0 || x.sum != sha256.Sum256(old) {
		return listIndex{}, false
	}
	return x, true
}

// writeIndex atomically replaces the list's index with b, unless the
// index path is something other than a regular file. A regular index of
// any owner is replaced by rename, never written into; a symbolic link or
// FIFO placed after the check is replaced too, never followed or written
// through (atomicfile.ReplaceFile). Errors are ignored: an index that
// does not match is never used.
func writeIndex(path string, b []byte) {
	p := indexPath(path)
	if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
		return
	}
	if atomicfile.ReplaceFile(p, b, 0o644) != nil {
		removeIndex(path)
	}
}

// removeIndex removes the list's index if it is a regular file.
func removeIndex(path string) {
	p := indexPath(path)
	if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
		os.Remove(p)
	}
}
