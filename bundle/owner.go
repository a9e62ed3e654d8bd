package bundle

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RootlessXattr is the extended attribute in which rootless unpackers
// (umoci --rootless, the rootlesscontainers.io convention) keep the owner a
// file should have inside the container, since they cannot chown.
const RootlessXattr = "user.rootlesscontainers"

// overflowID is what the kernel shows for an ID without a mapping in the
// user namespace (/proc/sys/kernel/overflowuid, overflowgid).
const overflowID = 65534

// noopID in a rootlesscontainers Resource means "this field is not set".
const noopID = ^uint32(0)

// parseRootlessXattr decodes the protobuf message
// rootlesscontainers.Resource { uint32 uid = 1; uint32 gid = 2; }. Unset
// fields (absent, or NoopID) come back as noopID. Unknown fields are
// skipped as protobuf requires.
func parseRootlessXattr(b []byte) (uid, gid uint32, err error) {
	uid, gid = noopID, noopID
	for len(b) > 0 {
		key, n := uvarint(b)
		if n <= 0 {
			return 0, 0, errBadRootless
		}
		b = b[n:]
		field, wire := key>>3, key&7
		switch wire {
		case 0: // varint
			v, n := uvarint(b)
			if n <= 0 {
				return 0, 0, errBadRootless
			}
			b = b[n:]
			switch field {
			case 1:
				uid = uint32(v)
			case 2:
				gid = uint32(v)
			}
		case 1: // 64-bit
			if len(b) < 8 {
				return 0, 0, errBadRootless
			}
			b = b[8:]
		case 2: // length-delimited
			l, n := uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return 0, 0, errBadRootless
			}
			b = b[n+int(l):]
		case 5: // 32-bit
			if len(b) < 4 {
				return 0, 0, errBadRootless
			}
			b = b[4:]
		default:
			return 0, 0, errBadRootless
		}
	}
	return uid, gid, nil
}

var errBadRootless = errors.New("malformed " + RootlessXattr + " xattr")

// uvarint decodes a protobuf varint (at most 10 bytes); n <= 0 on error.
func uvarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// idMapper translates host IDs into container IDs; with noRootless the
// rootless xattr is not read at all (WithoutRootlessXattr).
type idMapper struct {
	uids, gids []specs.LinuxIDMapping
	noRootless bool
}

func mapID(id uint32, m []specs.LinuxIDMapping) uint32 {
	if len(m) == 0 {
		return id
	}
	for _, e := range m {
		if id >= e.HostID && uint64(id) < uint64(e.HostID)+uint64(e.Size) {
			return e.ContainerID + (id - e.HostID)
		}
	}
	return overflowID
}

// owner returns the owner the container sees for an entry owned by
// uid:gid on disk with the given rootless xattr (nil when absent).
func (m idMapper) owner(uid, gid uint32, rootless []byte) (uint32, uint32, error) {
	cu, cg := mapID(uid, m.uids), mapID(gid, m.gids)
	if rootless != nil {
		u, g, err := parseRootlessXattr(rootless)
		if err != nil {
			return 0, 0, err
		}
		if u != noopID {
			cu = u
		}
		if g != noopID {
			cg = g
		}
	}
	return cu, cg, nil
}

func validateMappings(field string, m []specs.LinuxIDMapping) error {
	for i, e := range m {
		if e.Size == 0 {
			return fieldErr(fmt.Sprintf("%s[%d].size", field, i), "is 0")
		}
	}
	return nil
}
