package bundle

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// makeDeepTree creates depth nested directories "d" below root (mode 0755),
// with a file, a symlink and a fifo in the deepest, through *at calls (the
// path is longer than PATH_MAX). It returns the records refval-v1 defines
// for that tree, in measurement order, from the spec rather than from the
// walk: pre-order, "d" before "f" < "l" < "p" bytewise.
func makeDeepTree(t *testing.T, root string, depth int) []Record {
	t.Helper()
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	recs := []Record{{Path: "/", Type: TypeDir, Mode: 0o755, UID: uid, GID: gid}}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := ""
	for range depth {
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fchmodat(fd, "d", 0o755, 0); err != nil {
			t.Fatal(err)
		}
		nfd, err := unix.Openat(fd, "d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = nfd
		path += "/d"
		recs = append(recs, Record{Path: path, Type: TypeDir, Mode: 0o755, UID: uid, GID: gid})
	}
	defer unix.Close(fd)
	ffd, err := unix.Openat(fd, "f", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(ffd, []byte("deep"))
	unix.Fchmod(ffd, 0o640)
	unix.Close(ffd)
	if err := unix.Symlinkat("../f", fd, "l"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifoat(fd, "p", 0o600); err != nil {
		t.Fatal(err)
	}
	unix.Fchmodat(fd, "p", 0o600, 0)
	recs = append(recs,
		Record{Path: path + "/f", Type: TypeFile, Mode: 0o640, UID: uid, GID: gid, Sha256: sha256.Sum256([]byte("deep"))},
		Record{Path: path + "/l", Type: TypeSymlink, UID: uid, GID: gid, Target: "../f"},
		Record{Path: path + "/p", Type: TypeFifo, Mode: 0o600, UID: uid, GID: gid},
	)
	return recs
}

// withFDLimit lowers the soft limit of open descriptors for the test.
func withFDLimit(t *testing.T, n uint64) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// TestDeepTree: a tree 3000 levels deep (paths of 6000 bytes, beyond
// PATH_MAX) is measured exactly, record by record, within 256 open
// descriptors: the walk keeps no descriptor per level (issue 10 item 2).
func TestDeepTree(t *testing.T) {
	root := t.TempDir()
	want := makeDeepTree(t, root, 3000)
	wh := NewRootfsHasher()
	for i := range want {
		if err := wh.Add(&want[i]); err != nil {
			t.Fatal(err)
		}
	}
	withFDLimit(t, 256)
	var got []Record
	d, n, err := HashRootfs(context.Background(), root, WithLimits(Limits{Depth: -1}), WithRecordFunc(func(r *Record) error {
		c := *r
		c.Capability = nil
		got = append(got, c)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records; want %d", len(got), len(want))
	}
	for i := range want {
		if g, w := got[i], want[i]; g.Path != w.Path || g.Type != w.Type || g.Mode != w.Mode || g.UID != w.UID ||
			g.GID != w.GID || g.Sha256 != w.Sha256 || g.Target != w.Target {
			t.Fatalf("record %d: %+v; want %+v", i, g, w)
		}
	}
	if d != wh.Sum() || n != len(want) {
		t.Errorf("digest %s, %d entries; want %s, %d", d, n, wh.Sum(), len(want))
	}
}

// TestDeepTreeMoved: a directory below the levels that keep their
// descriptor, moved while the walk is below it, is refused: the walk
// comes back through ".." and must land where it came from.
func TestDeepTreeMoved(t *testing.T) {
	root := t.TempDir()
	makeDeepTree(t, root, 3000)
	at := strings.Repeat("/d", keepOpenDepth+10)
	moved := false
	_, _, err := HashRootfs(context.Background(), root, WithLimits(Limits{Depth: -1}), WithRecordFunc(func(r *Record) error {
		// The walk is at most one window of records ahead of this
		// callback, still on its way down: the move happens before it
		// comes back up.
		if r.Path == at+"/d/d/d" && !moved {
			moved = true
			if err := os.Rename(filepath.Join(root, at), filepath.Join(root, "moved")); err != nil {
				t.Error(err)
			}
		}
		return nil
	}))
	if !moved || !errors.Is(err, ErrFileChanged) || !strings.Contains(err.Error(), "moved during the measurement") {
		t.Errorf("moved directory: %v; want ErrFileChanged (moved)", err)
	}
}

// TestWalkLimits: the on-disk walk refuses a tree deeper than Limits.Depth
// or with more entries than Limits.Entries, naming the entry, the limit
// and the flag; at the limit it measures; by default Depth is 1024.
func TestWalkLimits(t *testing.T) {
	deep := t.TempDir()
	makeDeepTree(t, deep, 5) // "/d/d/d/d/d/f" is at depth 6: 9 entries
	ctx := context.Background()
	if _, n, err := HashRootfs(ctx, deep, WithLimits(Limits{Depth: 6})); err != nil || n != 9 {
		t.Errorf("depth 6 at limit 6: %d, %v", n, err)
	}
	_, _, err := HashRootfs(ctx, deep, WithLimits(Limits{Depth: 5}))
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrLimitExceeded) || le.Limit != LimitDepth || le.Value != 6 ||
		le.Path != "/d/d/d/d/d/f" || !strings.Contains(err.Error(), "--max-depth") {
		t.Errorf("depth 6 at limit 5: %v; want a depth LimitError naming /d/d/d/d/d/f", err)
	}
	if _, n, err := HashRootfs(ctx, deep, WithLimits(Limits{Entries: 9})); err != nil || n != 9 {
		t.Errorf("9 entries at limit 9: %d, %v", n, err)
	}
	_, _, err = HashRootfs(ctx, deep, WithLimits(Limits{Entries: 8}))
	if !errors.As(err, &le) || le.Limit != LimitEntries || !strings.Contains(err.Error(), "--max-entries") {
		t.Errorf("9 entries at limit 8: %v; want an entries LimitError", err)
	}
	// A single directory with more entries than the limit is refused
	// while it is listed.
	wide := t.TempDir()
	for i := range 100 {
		os.WriteFile(filepath.Join(wide, fmt.Sprintf("f%03d", i)), nil, 0o644)
	}
	_, _, err = HashRootfs(ctx, wide, WithLimits(Limits{Entries: 50}))
	if !errors.As(err, &le) || le.Limit != LimitEntries || le.Value <= 50 {
		t.Errorf("100 files at limit 50: %v; want an entries LimitError", err)
	}
	// The default depth limit (1024) applies without WithLimits.
	def := t.TempDir()
	makeDeepTree(t, def, DefaultLimits().Depth)
	_, _, err = HashRootfs(ctx, def)
	if !errors.As(err, &le) || le.Limit != LimitDepth || le.Max != int64(DefaultLimits().Depth) {
		t.Errorf("depth %d by default: %v; want a depth LimitError", DefaultLimits().Depth+1, err)
	}
	if _, _, err := HashRootfs(ctx, def, WithLimits(Limits{Depth: -1})); err != nil {
		t.Errorf("no depth limit: %v", err)
	}
}
