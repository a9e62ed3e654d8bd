package staging

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var old = time.Now().Add(-time.Minute)

// abandoned makes a staging directory in parent whose process is gone:
// its lock file exists, is free, and is older than Grace.
func abandoned(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.MkdirAll(filepath.Join(d, "content"), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := Lock(d, LockName)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Chtimes(filepath.Join(d, LockName), old, old)
	return d
}

// TestStale: only a directory with our free lock file older than Grace
// is stale; a held, fresh, linked or foreign lock file, or none, is not
// (none is, with a legacy age, once the directory is that old).
func TestStale(t *testing.T) {
	p := t.TempDir()
	if d := abandoned(t, p, "x-dead"); !Stale(d, LockName, 0) {
		t.Error("an abandoned directory is not stale")
	}
	held := abandoned(t, p, "x-held")
	f, err := os.Open(filepath.Join(held, LockName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if Stale(held, LockName, 0) {
		t.Error("a directory whose lock is held is stale")
	}
	fresh := abandoned(t, p, "x-fresh")
	os.Chtimes(filepath.Join(fresh, LockName), time.Now(), time.Now())
	if Stale(fresh, LockName, 0) {
		t.Error("a lock younger than Grace is stale")
	}
	none := filepath.Join(p, "x-none")
	os.Mkdir(none, 0o700)
	day := time.Now().Add(-25 * time.Hour)
	os.Chtimes(none, day, day)
	if Stale(none, LockName, 0) {
		t.Error("a directory without a lock file is stale")
	}
	if !Stale(none, LockName, 24*time.Hour) {
		t.Error("a lock-less directory older than legacy is not stale")
	}
	link := filepath.Join(p, "x-link")
	os.Mkdir(link, 0o700)
	target := abandoned(t, p, "target")
	os.Symlink(filepath.Join(target, LockName), filepath.Join(link, LockName))
	if Stale(link, LockName, 0) {
		t.Error("a lock file that is a symlink counts")
	}
	if os.Geteuid() == 0 {
		foreign := abandoned(t, p, "x-foreign")
		os.Lchown(filepath.Join(foreign, LockName), 65534, 65534)
		if Stale(foreign, LockName, 0) {
			t.Error("another user's lock file counts as ours")
		}
	}
}

// TestCreate: Create sweeps the abandoned directories of its pattern in
// its parent, nothing else, and makes a locked one; Unlock removes the
// lock file, after which the directory is never swept.
func TestCreate(t *testing.T) {
	p := t.TempDir()
	dead := abandoned(t, p, ".op-dead")
	other := abandoned(t, p, ".other-dead")
	d, err := Create(p, ".op-", os.RemoveAll)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); err == nil {
		t.Error("the abandoned directory of the pattern was kept")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("a directory of another pattern was removed")
	}
	os.Chtimes(filepath.Join(d.Path, LockName), old, old)
	if Stale(d.Path, LockName, 0) {
		t.Error("a live Create's directory is stale")
	}
	if err := d.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Path, LockName)); err == nil {
		t.Error("Unlock left the lock file")
	}
	if _, err := Create(p, ".op-", os.RemoveAll); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path); err != nil {
		t.Error("an unlocked (finished) directory was swept")
	}
}
