package bundle

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// entry describes one file-system entry a test creates under a root.
type entry struct {
	path    string // relative, "/"-separated
	kind    EntryType
	mode    uint32 // permission bits (PermMask)
	content string // file content, or symlink target
	uid     int    // -1: leave as created
	gid     int
	major   uint32
	minor   uint32
	xattrs  map[string]string
}

func isRoot() bool { return os.Geteuid() == 0 }

// inCI reports whether tests run in CI, where missing tools are failures.
func inCI() bool { return os.Getenv("CI") == "true" }

// requireRoot skips (or, in CI, fails) a test that needs root.
func requireRoot(t *testing.T) {
	t.Helper()
	if !isRoot() {
		if inCI() {
			t.Fatal("this test needs root, and CI runs as root")
		}
		t.Skip("needs root (chown, mknod, security.* xattrs)")
	}
}

// makeTree creates entries under root (which must exist) in order.
func makeTree(t *testing.T, root string, entries []entry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(e.path))
		var err error
		switch e.kind {
		case TypeDir:
			err = os.MkdirAll(p, 0o700)
		case TypeFile:
			err = os.WriteFile(p, []byte(e.content), 0o600)
		case TypeSymlink:
			err = os.Symlink(e.content, p)
		case TypeFifo:
			err = unix.Mkfifo(p, 0o600)
		case TypeSocket:
			err = unix.Mknod(p, unix.S_IFSOCK|0o600, 0)
		case TypeChar:
			err = unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(e.major, e.minor)))
		case TypeBlock:
			err = unix.Mknod(p, unix.S_IFBLK|0o600, int(unix.Mkdev(e.major, e.minor)))
		}
		if err != nil {
			t.Fatalf("create %s: %v", e.path, err)
		}
		if e.uid >= 0 && isRoot() {
			if err := os.Lchown(p, e.uid, e.gid); err != nil {
				t.Fatal(err)
			}
		}
		if e.kind != TypeSymlink {
			// After chown, which clears setuid/setgid.
			if err := unix.Chmod(p, e.mode); err != nil {
				t.Fatalf("chmod %s: %v", e.path, err)
			}
		}
		for k, v := range e.xattrs {
			if err := unix.Lsetxattr(p, k, []byte(v), 0); err != nil {
				t.Fatalf("setxattr %s %s: %v", e.path, k, err)
			}
		}
	}
}

// pythonRefImpl runs the second implementation of the spec
// (testdata/refval_v1.py) and returns its stdout.
func pythonRefImpl(t *testing.T, args ...string) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if inCI() {
			t.Fatal("python3 is needed for the cross-implementation check")
		}
		t.Skip("python3 not found: cross-implementation check skipped")
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "testdata", "refval_v1.py")
	var stderr bytes.Buffer
	cmd := exec.Command(py, append([]string{script}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("refval_v1.py %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

var time0 = time.Unix(0, 0)
