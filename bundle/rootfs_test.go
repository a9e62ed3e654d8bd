package bundle

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// capNetBindService is a valid VFS_CAP_REVISION_2 security.capability value
// (little-endian magic 0x02000001 = revision 2 + effective; permitted bit 10,
// CAP_NET_BIND_SERVICE), as setcap writes it.
const capNetBindService = "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// richTree has every entry kind refval-v1 distinguishes; the root-only
// entries (devices, owners, capabilities) only when running as root.
func richTree() []entry {
	long := strings.Repeat("n", 255)
	es := []entry{
		{path: "bin", kind: TypeDir, mode: 0o755, uid: 0, gid: 0},
		{path: "bin/app", kind: TypeFile, mode: 0o755, content: "#!/bin/sh\necho hi\n", uid: 0, gid: 0},
		{path: "bin/su", kind: TypeFile, mode: 0o4755, content: "setuid", uid: 0, gid: 0},
		{path: "bin/sg", kind: TypeFile, mode: 0o2711, content: "setgid", uid: 0, gid: 42},
		{path: "bin/sh", kind: TypeSymlink, content: "app", uid: 0, gid: 0},
		{path: "empty", kind: TypeFile, mode: 0o600, content: "", uid: 1000, gid: 1000},
		{path: "tmp", kind: TypeDir, mode: 0o1777, uid: 0, gid: 0},
		{path: "a", kind: TypeDir, mode: 0o750, uid: 0, gid: 0},
		{path: "a/b", kind: TypeFile, mode: 0o644, content: "b", uid: 0, gid: 0},
		{path: "a-c", kind: TypeFile, mode: 0o644, content: "a-c", uid: 0, gid: 0},
		{path: "abs", kind: TypeSymlink, content: "/etc/passwd", uid: 0, gid: 0},
		{path: "dangling", kind: TypeSymlink, content: "../../nowhere", uid: 0, gid: 0},
		{path: "loop1", kind: TypeSymlink, content: "loop2", uid: 0, gid: 0},
		{path: "loop2", kind: TypeSymlink, content: "loop1", uid: 0, gid: 0},
		{path: "dirlink", kind: TypeSymlink, content: "/", uid: 0, gid: 0},
		{path: "fifo", kind: TypeFifo, mode: 0o644, uid: 0, gid: 0},
		{path: "sock", kind: TypeSocket, mode: 0o755, uid: 0, gid: 0},
		{path: "\xff\xfe-not-utf8", kind: TypeFile, mode: 0o644, content: "x", uid: 0, gid: 0},
		{path: "new\nline", kind: TypeFile, mode: 0o644, content: "y", uid: 0, gid: 0},
		{path: long, kind: TypeDir, mode: 0o755, uid: 0, gid: 0},
		{path: "xattr", kind: TypeFile, mode: 0o644, content: "z", uid: 0, gid: 0, xattrs: map[string]string{"user.comment": "not measured"}},
	}
	if isRoot() {
		es = append(es,
			entry{path: "null", kind: TypeChar, mode: 0o666, major: 1, minor: 3, uid: 0, gid: 0},
			entry{path: "sda", kind: TypeBlock, mode: 0o660, major: 8, minor: 0, uid: 0, gid: 6},
			entry{path: "bin/ping", kind: TypeFile, mode: 0o755, content: "ping", uid: 0, gid: 0,
				xattrs: map[string]string{CapabilityXattr: capNetBindService}},
			entry{path: "home", kind: TypeDir, mode: 0o755, uid: 0, gid: 0},
			entry{path: "home/user", kind: TypeDir, mode: 0o700, uid: 1000, gid: 1000},
		)
	}
	for i := range es {
		if !isRoot() {
			es[i].uid = -1
		}
	}
	return es
}

// makeTreeDeep makes es, then a path longer than PATH_MAX (4096) below the
// 255-byte directory: 19 more levels of 255-byte names and a file, created
// with *at calls since plain paths that long fail.
func makeTreeDeep(t *testing.T, root string, es []entry) {
	t.Helper()
	makeTree(t, root, es)
	long := strings.Repeat("n", 255)
	fd, err := unix.Open(filepath.Join(root, long), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 19 {
		if err := unix.Mkdirat(fd, long, 0o755); err != nil {
			t.Fatal(err)
		}
		nfd, err := unix.Openat(fd, long, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = nfd
	}
	if err := unix.Mknodat(fd, "deepfile", unix.S_IFREG|0o644, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
}

func TestHashRootfsMatchesReferenceImplementation(t *testing.T) {
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	makeTreeDeep(t, root, richTree())
	// Python cannot stat paths beyond PATH_MAX either; compare the deep
	// part separately below and the whole tree through the Go walk only.
	got, n, err := HashRootfs(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 3, 16} {
		g, _, err := HashRootfs(context.Background(), root, WithWorkers(workers))
		if err != nil || g != got {
			t.Errorf("workers=%d: %s, %v; want %s", workers, g, err, got)
		}
	}
	// Remove the deep chain for the Python comparison (os.walk would hit
	// ENAMETOOLONG), and check the walk reported it.
	if n < 40 {
		t.Errorf("entries = %d; the tree has more than 40", n)
	}
	if err := unix.Rename(filepath.Join(root, strings.Repeat("n", 255)), filepath.Join(root, "..", "moved-"+filepath.Base(root))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(root, "..", "moved-"+filepath.Base(root))) })
	got, n, err = HashRootfs(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(pythonRefImpl(t, "rootfs", root))
	if fmt.Sprintf("%s %d", got, n) != want {
		t.Errorf("Go: %s %d; refval_v1.py: %s", got, n, want)
	}
}

func TestRecordOrderAndContent(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, []entry{
		{path: "a-c", kind: TypeFile, mode: 0o644, content: "1", uid: -1},
		{path: "a", kind: TypeDir, mode: 0o755, uid: -1},
		{path: "a/b", kind: TypeSymlink, content: "../a-c", uid: -1},
		{path: "B", kind: TypeFifo, mode: 0o600, uid: -1},
	})
	var got []Record
	_, _, err := HashRootfs(context.Background(), root, WithRecordFunc(func(r *Record) error {
		got = append(got, *r)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	fi, _ := os.Stat(root)
	want := []Record{
		{Path: "/", Type: TypeDir, Mode: uint32(fi.Mode().Perm()), UID: uid, GID: gid},
		// Bytewise: "B" (0x42) < "a" (0x61); pre-order: "a/b" before "a-c".
		{Path: "/B", Type: TypeFifo, Mode: 0o600, UID: uid, GID: gid},
		{Path: "/a", Type: TypeDir, Mode: 0o755, UID: uid, GID: gid},
		{Path: "/a/b", Type: TypeSymlink, Mode: 0, UID: uid, GID: gid, Target: "../a-c"},
		{Path: "/a-c", Type: TypeFile, Mode: 0o644, UID: uid, GID: gid, Sha256: sha256.Sum256([]byte("1"))},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestHashRootfsSensitivity: every security-relevant change changes the
// digest; what the spec excludes does not.
func TestHashRootfsSensitivity(t *testing.T) {
	base := []entry{
		{path: "bin", kind: TypeDir, mode: 0o755, uid: 0, gid: 0},
		{path: "bin/app", kind: TypeFile, mode: 0o755, content: "app", uid: 0, gid: 0},
		{path: "bin/sh", kind: TypeSymlink, content: "app", uid: 0, gid: 0},
		{path: "etc", kind: TypeDir, mode: 0o755, uid: 0, gid: 0},
		{path: "etc/conf", kind: TypeFile, mode: 0o644, content: "x=1", uid: 0, gid: 0},
	}
	measure := func(t *testing.T, mutate func(root string)) Digest {
		t.Helper()
		root := t.TempDir()
		os.Chmod(root, 0o755)
		es := append([]entry(nil), base...)
		for i := range es {
			if !isRoot() {
				es[i].uid = -1
			}
		}
		makeTree(t, root, es)
		if mutate != nil {
			mutate(root)
		}
		d, _, err := HashRootfs(context.Background(), root)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ref := measure(t, nil)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		root    bool
		mutate  func(root string)
		changes bool
	}{
		{"content", false, func(r string) { must(os.WriteFile(r+"/etc/conf", []byte("x=2"), 0o644)) }, true},
		{"mode", false, func(r string) { must(os.Chmod(r+"/etc/conf", 0o640)) }, true},
		{"setuid", false, func(r string) { must(unix.Chmod(r+"/bin/app", 0o4755)) }, true},
		{"sticky-dir", false, func(r string) { must(unix.Chmod(r+"/etc", 0o1755)) }, true},
		{"symlink-target", false, func(r string) { must(os.Remove(r + "/bin/sh")); must(os.Symlink("/bin/app", r+"/bin/sh")) }, true},
		{"added-file", false, func(r string) { must(os.WriteFile(r+"/etc/new", nil, 0o644)) }, true},
		{"added-empty-dir", false, func(r string) { must(os.Mkdir(r+"/etc/d", 0o755)) }, true},
		{"removed-file", false, func(r string) { must(os.Remove(r + "/etc/conf")) }, true},
		{"renamed-file", false, func(r string) { must(os.Rename(r+"/etc/conf", r+"/etc/conf2")) }, true},
		{"file-becomes-symlink", false, func(r string) { must(os.Remove(r + "/etc/conf")); must(os.Symlink("x=1", r+"/etc/conf")) }, true},
		{"owner", true, func(r string) { must(os.Lchown(r+"/etc/conf", 1, 1)) }, true},
		{"symlink-owner", true, func(r string) { must(os.Lchown(r+"/bin/sh", 1, 0)) }, true},
		{"capability", true, func(r string) { must(unix.Setxattr(r+"/bin/app", CapabilityXattr, []byte(capNetBindService), 0)) }, true},
		{"mtime-not-measured", false, func(r string) { must(os.Chtimes(r+"/etc/conf", time0, time0)) }, false},
		{"other-xattr-not-measured", false, func(r string) { must(unix.Setxattr(r+"/etc/conf", "user.note", []byte("n"), 0)) }, false},
		{"hardlink-same-as-copy", false, func(r string) {
			must(os.Remove(r + "/bin/app"))
			must(os.WriteFile(r+"/bin/app", []byte("app"), 0o755))
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				requireRoot(t)
			}
			got := measure(t, tc.mutate)
			if changed := got != ref; changed != tc.changes {
				t.Errorf("digest changed = %v; want %v", changed, tc.changes)
			}
		})
	}
}

// TestHardlinksMeasuredAsFiles: two names of one inode give two file
// records, the same as two separate identical files.
func TestHardlinksMeasuredAsFiles(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, r := range []string{a, b} {
		os.Chmod(r, 0o755)
		if err := os.WriteFile(r+"/one", []byte("same"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(a+"/one", a+"/two"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b+"/two", []byte("same"), 0o644); err != nil {
		t.Fatal(err)
	}
	da, _, err1 := HashRootfs(context.Background(), a)
	db, _, err2 := HashRootfs(context.Background(), b)
	if err1 != nil || err2 != nil || da != db {
		t.Errorf("hardlinked %s (%v) != copied %s (%v)", da, err1, db, err2)
	}
}

// TestRootlessOwnership: a rootless unpack (on-disk owner = the unpacking
// user, mapped to 0 by the bundle's uidMappings; other owners in
// user.rootlesscontainers) measures the owners the container sees.
func TestRootlessOwnership(t *testing.T) {
	root := t.TempDir()
	me, myGID := uint32(os.Getuid()), uint32(os.Getgid())
	// protobuf Resource{uid: 1000, gid: 1000}: field 1 varint, field 2 varint.
	res1000 := "\x08\xe8\x07\x10\xe8\x07"
	// Resource{gid: 5} only: the uid stays as mapped.
	resGID5 := "\x10\x05"
	makeTree(t, root, []entry{
		{path: "root-owned", kind: TypeFile, mode: 0o644, uid: -1},
		{path: "user-owned", kind: TypeFile, mode: 0o644, uid: -1, xattrs: map[string]string{RootlessXattr: res1000}},
		{path: "gid-only", kind: TypeDir, mode: 0o755, uid: -1, xattrs: map[string]string{RootlessXattr: resGID5}},
	})
	owners := map[string][2]uint32{}
	_, _, err := HashRootfs(context.Background(), root,
		WithIDMappings([]specs.LinuxIDMapping{{ContainerID: 0, HostID: me, Size: 1}}, []specs.LinuxIDMapping{{ContainerID: 0, HostID: myGID, Size: 1}}),
		WithRecordFunc(func(r *Record) error { owners[r.Path] = [2]uint32{r.UID, r.GID}; return nil }))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]uint32{"/": {0, 0}, "/root-owned": {0, 0}, "/user-owned": {1000, 1000}, "/gid-only": {0, 5}}
	if diff := cmp.Diff(want, owners); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
	// Unmapped host IDs show as the overflow ID, as in a user namespace.
	_, _, err = HashRootfs(context.Background(), root,
		WithIDMappings([]specs.LinuxIDMapping{{ContainerID: 0, HostID: me + 1, Size: 1}}, nil),
		WithRecordFunc(func(r *Record) error {
			if r.Path == "/root-owned" && r.UID != overflowID {
				t.Errorf("unmapped uid = %d; want %d", r.UID, overflowID)
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	// And the Python implementation agrees on the digest.
	d, n, err := HashRootfs(context.Background(), root,
		WithIDMappings([]specs.LinuxIDMapping{{ContainerID: 0, HostID: me, Size: 1}}, []specs.LinuxIDMapping{{ContainerID: 0, HostID: myGID, Size: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	py := strings.TrimSpace(pythonRefImpl(t, "rootfs", root, fmt.Sprintf("0:%d:1", me), fmt.Sprintf("0:%d:1", myGID)))
	if got := fmt.Sprintf("%s %d", d, n); got != py {
		t.Errorf("Go %s; refval_v1.py %s", got, py)
	}
}

// TestRootlessEqualsRootUnpack: the same image content unpacked as root
// (real owners) and rootless (xattrs + mapping) measures the same.
func TestRootlessEqualsRootUnpack(t *testing.T) {
	requireRoot(t)
	real, rootless := t.TempDir(), t.TempDir()
	os.Chmod(real, 0o755)
	os.Chmod(rootless, 0o755)
	const host = 100000 // the "unprivileged user" of the rootless unpack
	os.Chown(rootless, host, host)
	makeTree(t, real, []entry{
		{path: "etc", kind: TypeDir, mode: 0o755, uid: 0, gid: 0},
		{path: "etc/shadow", kind: TypeFile, mode: 0o640, content: "s", uid: 0, gid: 42},
		{path: "home", kind: TypeDir, mode: 0o700, uid: 1000, gid: 1000},
	})
	makeTree(t, rootless, []entry{
		{path: "etc", kind: TypeDir, mode: 0o755, uid: host, gid: host},
		{path: "etc/shadow", kind: TypeFile, mode: 0o640, content: "s", uid: host, gid: host, xattrs: map[string]string{RootlessXattr: "\x10\x2a"}},
		{path: "home", kind: TypeDir, mode: 0o700, uid: host, gid: host, xattrs: map[string]string{RootlessXattr: "\x08\xe8\x07\x10\xe8\x07"}},
	})
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: host, Size: 1}}
	a, _, err1 := HashRootfs(context.Background(), real)
	b, _, err2 := HashRootfs(context.Background(), rootless, WithIDMappings(m, m))
	if err1 != nil || err2 != nil || a != b {
		t.Errorf("root unpack %s (%v) != rootless unpack %s (%v)", a, err1, b, err2)
	}
}

func TestHashFileDetectsChange(t *testing.T) {
	d := &describer{}
	fh := &fileHasher{h: sha256.New(), buf: make([]byte, 4096)}
	// /proc files report size 0 but have content: a read length that
	// differs from the size is what a file growing during the read looks like.
	fd, err := unix.Open("/proc/self/status", unix.O_RDONLY, 0)
	if err != nil {
		t.Skip("no /proc")
	}
	f := openFile{fd: fd}
	unix.Fstat(fd, &f.st)
	err = d.hashFile(&Record{Path: "/status"}, &f, fh)
	unix.Close(fd)
	if !errors.Is(err, ErrFileChanged) {
		t.Errorf("hashFile(/proc/self/status) = %v; want ErrFileChanged", err)
	}
	// A file modified between the open and the end of the read.
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("12345"), 0o644)
	fd, _ = unix.Open(path, unix.O_RDONLY, 0)
	defer unix.Close(fd)
	f = openFile{fd: fd}
	unix.Fstat(fd, &f.st)
	os.WriteFile(path, []byte("123456"), 0o644)
	if err := d.hashFile(&Record{Path: "/f"}, &f, fh); !errors.Is(err, ErrFileChanged) {
		t.Errorf("modified file: %v; want ErrFileChanged", err)
	}
}

func TestHashRootfsErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/file", nil, 0o644)
	os.MkdirAll(dir+"/tree/sub", 0o755)
	os.WriteFile(dir+"/tree/sub/x", []byte("x"), 0o644)
	ctx := context.Background()
	if _, _, err := HashRootfs(ctx, dir+"/missing"); !errors.Is(err, ErrInvalidRootfs) {
		t.Errorf("missing rootfs: %v", err)
	}
	if _, _, err := HashRootfs(ctx, dir+"/file"); !errors.Is(err, ErrInvalidRootfs) {
		t.Errorf("rootfs is a file: %v", err)
	}
	stop := errors.New("stop")
	_, _, err := HashRootfs(ctx, dir+"/tree", WithRecordFunc(func(r *Record) error {
		if r.Path == "/sub" {
			return stop
		}
		return nil
	}))
	if !errors.Is(err, stop) {
		t.Errorf("record func error: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := HashRootfs(cctx, dir+"/tree"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	if !isRoot() {
		os.Chmod(dir+"/tree/sub/x", 0)
		_, _, err := HashRootfs(ctx, dir+"/tree")
		if err == nil || !strings.Contains(err.Error(), "/sub/x") {
			t.Errorf("unreadable file: %v; want an error naming /sub/x", err)
		}
	}
	// A malformed rootless xattr is an error naming the entry.
	os.WriteFile(dir+"/tree/bad", nil, 0o644)
	unix.Setxattr(dir+"/tree/bad", RootlessXattr, []byte{0x08}, 0)
	if _, _, err := HashRootfs(ctx, dir+"/tree"); err == nil || !strings.Contains(err.Error(), "/bad") {
		t.Errorf("bad rootless xattr: %v; want an error naming /bad", err)
	}
}

// TestWithoutRootlessXattr: with WithoutRootlessXattr the on-disk owner is
// measured and the xattr, even a malformed one, is not read. Expectations
// come from the file system (os.Lstat), not from a previous run.
func TestWithoutRootlessXattr(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, []entry{
		{path: "forged", kind: TypeFile, mode: 0o4755, uid: -1, xattrs: map[string]string{RootlessXattr: "\x08\xe8\x07\x10\xe8\x07"}},
		{path: "malformed", kind: TypeFile, mode: 0o644, uid: -1, xattrs: map[string]string{RootlessXattr: "\x08"}},
	})
	if _, _, err := HashRootfs(context.Background(), root); err == nil {
		t.Fatal("malformed rootless xattr honoured without an error")
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "forged"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid == 1000 || st.Gid == 1000 {
		t.Skip("test files are owned by 1000:1000 already; the xattr would change nothing")
	}
	owners := map[string][2]uint32{}
	if _, _, err := HashRootfs(context.Background(), root, WithoutRootlessXattr(),
		WithRecordFunc(func(r *Record) error { owners[r.Path] = [2]uint32{r.UID, r.GID}; return nil })); err != nil {
		t.Fatal(err)
	}
	if got, want := owners["/forged"], [2]uint32{st.Uid, st.Gid}; got != want {
		t.Errorf("/forged owner %v; want the on-disk owner %v", got, want)
	}
	// The same tree without the xattrs measures the same.
	clean := t.TempDir()
	os.Chmod(clean, 0o700)
	os.Chmod(root, 0o700)
	makeTree(t, clean, []entry{
		{path: "forged", kind: TypeFile, mode: 0o4755, uid: -1},
		{path: "malformed", kind: TypeFile, mode: 0o644, uid: -1},
	})
	a, _, err1 := HashRootfs(context.Background(), root, WithoutRootlessXattr())
	b, _, err2 := HashRootfs(context.Background(), clean)
	if err1 != nil || err2 != nil || a != b {
		t.Errorf("with ignored xattrs %s (%v) != without xattrs %s (%v)", a, err1, b, err2)
	}
}
