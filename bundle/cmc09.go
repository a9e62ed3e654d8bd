package bundle

import (
	"archive/tar"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SchemeCMC09 reproduces CMC v0.9's container measurement (measure.Normalize
// and measure.GetRootfsMeasurement of CMC v0.9.15; docs/measurement.md,
// scheme cmc-0.9). SchemeCMC stays CMC v0.7's.
const SchemeCMC09 Scheme = "cmc-0.9"

// CMCSchemes lists the schemes named after a CMC release other than
// SchemeCMC (which is in Schemes). They are kept out of Schemes: CMC v0.9
// refuses configs (no process) and skips entries (the root) that the
// schemes in Schemes measure, so code iterating Schemes over arbitrary
// bundles would not hold for them. ParseScheme accepts them.
var CMCSchemes = []Scheme{SchemeCMC09}

// Placeholders of scheme cmc-0.9, as CMC v0.9 writes them.
const (
	DockerVolumePlaceholder = "<docker-volume>"
	KataMountPlaceholder    = "<kata-mount-hash>"
)

// IsCMC reports whether s is one of the schemes that reproduce a CMC
// release (its rootfs hash is a tar stream of an on-disk tree, so there are
// no per-entry records and an image must be unpacked to be measured).
func (s Scheme) IsCMC() bool { return s == SchemeCMC || s == SchemeCMC09 }

// kataMountCMC09 is CMC v0.9's pattern of the pod bind mounts kata and
// containerd inject; the 16 hex digits change per pod start.
var kataMountCMC09 = regexp.MustCompile(`^(/run/kata-containers/shared/containers/<container-id>-)[0-9a-f]{16}(-[a-z][a-z0-9-]*)$`)

// normalizeConfigCMC09 reproduces CMC v0.9.15's measure.Normalize rule by
// rule. Where CMC would fail (an unresolvable prestart hook path) it fails;
// where CMC would crash (no process) it returns an error naming the field.
// Without a container ID nothing is replaced (CMC always has one).
func normalizeConfigCMC09(raw []byte, id string) ([]byte, error) {
	text := string(raw)
	if id != "" {
		short := id
		if len(id) > 12 {
			short = id[:12]
		}
		text = strings.ReplaceAll(text, id, ContainerIDPlaceholder)
		text = strings.ReplaceAll(text, short, ContainerIDPlaceholder)
	}
	var spec specs.Spec
	if err := json.Unmarshal([]byte(text), &spec); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			return nil, fieldErr(te.Field, "is a JSON %s, want %s", te.Value, te.Type)
		}
		return nil, &ConfigError{Err: jsonError([]byte(text), err)}
	}
	if spec.Process == nil {
		return nil, fieldErr("process", "is missing (CMC v0.9 cannot measure a config without one)")
	}
	if err := cmc09Hooks(&spec); err != nil {
		return nil, err
	}
	spec.Hostname = ""
	spec.Annotations = nil
	spec.Process.Terminal = false
	spec.Process.ConsoleSize = nil
	spec.Root = nil
	cmc09Mounts(&spec)
	SortSpecCMC09(&spec)
	return canonicalSpec(&spec)
}

// cmc09Hooks resolves prestart hook paths (Docker's /proc/<pid>/exe) and
// replaces the network controller ID in libnetwork-setkey's fourth argument.
func cmc09Hooks(spec *specs.Spec) error {
	if spec.Hooks == nil {
		return nil
	}
	for i := range spec.Hooks.Prestart { //nolint:staticcheck // CMC measures the deprecated prestart hooks
		h := &spec.Hooks.Prestart[i] //nolint:staticcheck
		p, err := filepath.EvalSymlinks(h.Path)
		if err != nil {
			return fieldErr(fmt.Sprintf("hooks.prestart[%d].path", i), "cannot be resolved: %v", err)
		}
		h.Path = p
		if len(h.Args) >= 4 && h.Args[0] == "libnetwork-setkey" && len(h.Args[3]) == 12 && isHexCMC09(h.Args[3]) {
			h.Args[3] = NetworkControllerPlaceholder
		}
	}
	return nil
}

func isHexCMC09(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// cmc09Mounts replaces Docker volume sources and the per-pod digest of
// kata's injected mounts.
func cmc09Mounts(spec *specs.Spec) {
	for i := range spec.Mounts {
		src := spec.Mounts[i].Source
		if strings.HasPrefix(src, "/var/lib/docker/volumes/") {
			spec.Mounts[i].Source = DockerVolumePlaceholder
			continue
		}
		if m := kataMountCMC09.FindStringSubmatch(src); m != nil {
			spec.Mounts[i].Source = m[1] + KataMountPlaceholder + m[2]
		}
	}
}

func derefInt64CMC09(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

// SortSpecCMC09 sorts the arrays of a spec whose order CMC v0.9 treats as
// meaningless (measure.SortSpec), with the same comparisons and the same
// (unstable) sort, so that equal input gives CMC's order.
func SortSpecCMC09(c *specs.Spec) {
	if c == nil {
		return
	}
	if c.Process != nil {
		slices.Sort(c.Process.Env)
		if k := c.Process.Capabilities; k != nil {
			slices.Sort(k.Bounding)
			slices.Sort(k.Effective)
			slices.Sort(k.Inheritable)
			slices.Sort(k.Permitted)
			slices.Sort(k.Ambient)
		}
	}
	sort.Slice(c.Mounts, func(i, j int) bool {
		if c.Mounts[i].Source == c.Mounts[j].Source {
			return c.Mounts[i].Destination < c.Mounts[j].Destination
		}
		return c.Mounts[i].Source < c.Mounts[j].Source
	})
	l := c.Linux
	if l == nil {
		return
	}
	slices.Sort(l.MaskedPaths)
	slices.Sort(l.ReadonlyPaths)
	sort.Slice(l.Namespaces, func(i, j int) bool { return l.Namespaces[i].Type < l.Namespaces[j].Type })
	if l.Resources != nil {
		d := l.Resources.Devices
		sort.Slice(d, func(i, j int) bool {
			if d[i].Type != d[j].Type {
				return d[i].Type < d[j].Type
			}
			mi, mj := derefInt64CMC09(d[i].Major), derefInt64CMC09(d[j].Major)
			if mi != mj {
				return mi < mj
			}
			return derefInt64CMC09(d[i].Minor) < derefInt64CMC09(d[j].Minor)
		})
	}
	if s := l.Seccomp; s != nil {
		slices.Sort(s.Architectures)
		slices.Sort(s.Flags)
		for i := range s.Syscalls {
			slices.Sort(s.Syscalls[i].Names)
		}
		sort.Slice(s.Syscalls, func(i, j int) bool {
			ni, nj := strings.Join(s.Syscalls[i].Names, ","), strings.Join(s.Syscalls[j].Names, ",")
			if ni != nj {
				return ni < nj
			}
			return s.Syscalls[i].Action < s.Syscalls[j].Action
		})
	}
}

// hashRootfsCMC09 reproduces CMC v0.9.15's GetRootfsMeasurement: the SHA-256
// of a PAX tar stream of a filepath.Walk over the rootfs, without the root
// itself and without sockets; no owner names looked up, numeric owners as
// on disk, times zero, directory names with a trailing slash, hard links
// (same inode number, not a directory) as link entries to the first path
// seen, and security.capability as a SCHILY.xattr record.
func hashRootfsCMC09(ctx context.Context, root string) (Digest, int, error) {
	root = filepath.Clean(root)
	inodes := map[uint64]string{}
	return hashTarWalk(ctx, root, SchemeCMC09, func(path string, fi fs.FileInfo) (*tar.Header, error) {
		if path == root || fi.Mode()&fs.ModeSocket != 0 {
			return nil, nil
		}
		return cmc09Header(root, path, fi, inodes)
	})
}

// noLookups hides Sys from tar.FileInfoHeader, so that it neither looks up
// owner names nor copies times (containerd's FileInfoHeaderNoLookups).
type noLookups struct{ fs.FileInfo }

func (noLookups) Sys() any { return nil }

// cmc09Header builds one entry's header as CMC v0.9 does.
func cmc09Header(root, path string, fi fs.FileInfo, inodes map[uint64]string) (*tar.Header, error) {
	var link string
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(path); err != nil {
			return nil, err
		}
	}
	hdr, err := tar.FileInfoHeader(noLookups{fi}, link)
	if err != nil {
		return nil, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st != nil {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		// containerd's test, kept bit for bit: it is true for more than
		// devices, whose Rdev is then 0.
		if st.Mode&unix.S_IFBLK != 0 || st.Mode&unix.S_IFCHR != 0 {
			hdr.Devmajor = int64(unix.Major(st.Rdev))
			hdr.Devminor = int64(unix.Minor(st.Rdev))
		}
	}
	hdr.ModTime = time.Unix(0, 0)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Format = tar.FormatPAX
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return nil, err
	}
	name := filepath.ToSlash(rel)
	if fi.IsDir() && !strings.HasSuffix(name, "/") {
		name += "/"
	}
	hdr.Name = name
	if st != nil && !fi.IsDir() && st.Nlink > 1 {
		if src, ok := inodes[st.Ino]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, src, 0
		} else {
			inodes[st.Ino] = name
		}
	}
	capXattr, err := securityCapability(path)
	if err != nil {
		return nil, fmt.Errorf("capabilities xattr: %w", err)
	}
	if len(capXattr) > 0 {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr.security.capability"] = string(capXattr)
	}
	return hdr, nil
}

// securityCapability reads security.capability as CMC v0.9 does (at most
// 256 bytes; absent or unsupported is none).
func securityCapability(path string) ([]byte, error) {
	dest := make([]byte, 256)
	sz, err := unix.Lgetxattr(path, "security.capability", dest)
	if err != nil {
		if err == unix.ENOTSUP || err == unix.ENODATA {
			return nil, nil
		}
		return nil, err
	}
	if sz <= 0 {
		return nil, nil
	}
	return dest[:sz], nil
}
