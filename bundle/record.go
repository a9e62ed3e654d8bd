package bundle

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io/fs"
)

// EntryType is the kind of a rootfs entry as it appears in a Record.
// The numeric values are part of the refval-v1 encoding (docs/measurement.md).
type EntryType uint8

// Entry types of refval-v1. Hardlinks are measured as the files they are.
const (
	TypeDir     EntryType = 1
	TypeFile    EntryType = 2
	TypeSymlink EntryType = 3
	TypeChar    EntryType = 4
	TypeBlock   EntryType = 5
	TypeFifo    EntryType = 6
	TypeSocket  EntryType = 7
)

var typeNames = [...]string{TypeDir: "dir", TypeFile: "file", TypeSymlink: "symlink", TypeChar: "char", TypeBlock: "block", TypeFifo: "fifo", TypeSocket: "socket"}

// String returns the lowercase name used in JSON records ("dir", "file", …).
func (t EntryType) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// MarshalText implements encoding.TextMarshaler.
func (t EntryType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *EntryType) UnmarshalText(b []byte) error {
	for i, n := range typeNames {
		if n != "" && n == string(b) {
			*t = EntryType(i)
			return nil
		}
	}
	return fmt.Errorf("unknown entry type %q", b)
}

// EntryTypeOf maps a file mode to an EntryType. ok is false for modes that
// have no refval-v1 type (there are none on Linux, but fs.FileMode can carry
// irregular bits from other systems).
func EntryTypeOf(m fs.FileMode) (t EntryType, ok bool) {
	switch m.Type() {
	case fs.ModeDir:
		return TypeDir, true
	case 0:
		return TypeFile, true
	case fs.ModeSymlink:
		return TypeSymlink, true
	case fs.ModeDevice | fs.ModeCharDevice:
		return TypeChar, true
	case fs.ModeDevice:
		return TypeBlock, true
	case fs.ModeNamedPipe:
		return TypeFifo, true
	case fs.ModeSocket:
		return TypeSocket, true
	}
	return 0, false
}

// PermMask selects the bits of a mode that refval-v1 measures: the nine
// permission bits plus setuid, setgid and sticky (Unix numeric 07777).
const PermMask = 0o7777

// Record is the canonical description of one rootfs entry (refval-v1).
//
// Path is the entry's absolute path inside the rootfs: "/" for the root,
// "/etc/passwd" for a file; it holds the raw bytes of the names, which need
// not be UTF-8. Mode holds the Unix permission bits (PermMask) and is 0 for
// symlinks, whose permission bits Linux neither honours nor lets one set.
// Exactly one of the payload fields is meaningful, chosen by Type. The
// JSON form (records files) is described in recordjson.go.
type Record struct {
	Path       string
	Type       EntryType
	Mode       uint32
	UID        uint32
	GID        uint32
	Sha256     Digest // TypeFile: SHA-256 of the content
	Target     string // TypeSymlink: the link target, unresolved
	DevMajor   uint32 // TypeChar, TypeBlock
	DevMinor   uint32 // TypeChar, TypeBlock
	Capability []byte
}

// recordVersion is the first byte of every refval-v1 record encoding, so a
// later scheme can never produce the same bytes for a different meaning.
const recordVersion = 1

// AppendBinary appends the canonical refval-v1 encoding of r to b:
//
//	u8 version(1) | u32 len(path) | path | u8 type | u32 mode | u32 uid | u32 gid
//	| payload | u32 len(capability) | capability
//
// with big-endian integers and payload by type: file, the 32 content-hash
// bytes; symlink, u32 len(target) | target; char and block, u32 major |
// u32 minor; dir, fifo, socket, nothing. Every variable-length field carries
// its length, so no two different records share an encoding and no record
// is a prefix of another's.
func (r *Record) AppendBinary(b []byte) ([]byte, error) {
	if _, ok := r.validType(); !ok {
		return b, fmt.Errorf("record %q: %w", r.Path, ErrUnknownType)
	}
	b = append(b, recordVersion)
	b = appendBytes(b, r.Path)
	b = append(b, byte(r.Type))
	b = binary.BigEndian.AppendUint32(b, r.Mode&PermMask)
	b = binary.BigEndian.AppendUint32(b, r.UID)
	b = binary.BigEndian.AppendUint32(b, r.GID)
	switch r.Type {
	case TypeFile:
		b = append(b, r.Sha256[:]...)
	case TypeSymlink:
		b = appendBytes(b, r.Target)
	case TypeChar, TypeBlock:
		b = binary.BigEndian.AppendUint32(b, r.DevMajor)
		b = binary.BigEndian.AppendUint32(b, r.DevMinor)
	}
	b = appendBytes(b, string(r.Capability))
	return b, nil
}

func (r *Record) validType() (EntryType, bool) {
	return r.Type, r.Type >= TypeDir && r.Type <= TypeSocket
}

func appendBytes(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// RootfsHasher computes the refval-v1 rootfs digest from records given in
// measurement order (pre-order, children sorted bytewise). It is the one
// place that turns records into the digest, shared by the directory walk
// and by the image stream measurement in package oci.
type RootfsHasher struct {
	h   hash.Hash
	buf []byte
	n   int
}

// NewRootfsHasher returns an empty hasher.
func NewRootfsHasher() *RootfsHasher {
	return &RootfsHasher{h: sha256.New(), buf: make([]byte, 0, 512)}
}

// Add appends one record to the digest.
func (h *RootfsHasher) Add(r *Record) error {
	var err error
	h.buf, err = r.AppendBinary(h.buf[:0])
	if err != nil {
		return err
	}
	h.h.Write(h.buf)
	h.n++
	return nil
}

// Count returns the number of records added so far.
func (h *RootfsHasher) Count() int { return h.n }

// Sum returns the digest over all records added so far.
func (h *RootfsHasher) Sum() Digest {
	var d Digest
	h.h.Sum(d[:0])
	return d
}
