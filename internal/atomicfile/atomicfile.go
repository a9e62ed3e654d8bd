// Package atomicfile writes files so that readers see either the old
// content or the complete new content, never a torn file: data goes to a
// temporary file in the same directory, is fsynced, renamed over the target,
// and the directory is fsynced. It guarantees nothing across file systems.
//
// A path that is a symlink is followed, and the file it names is replaced
// (the link stays a link). A path that names something other than a regular
// file — a device such as /dev/null, a fifo, /dev/stdout — is written
// through, as a shell redirection would: renaming over it would replace the
// device node or the link itself (as root, /dev/null for the whole system).
// There the content is produced in memory first, so that a failing fill
// leaves the target untouched, but the write itself cannot be atomic.
// ReplaceFile instead always renames over the path, whatever it is.
package atomicfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile atomically replaces path with data, created with perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write atomically replaces path with what fill writes. If fill or any
// step fails, path is left as it was and the temporary file is removed.
// Symlinks and non-regular files are handled as the package doc says.
func Write(path string, perm os.FileMode, fill func(io.Writer) error) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if target, err := filepath.EvalSymlinks(path); err == nil {
			path = target
		} // a dangling link is replaced, as a new file would be
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		return writeThrough(path, fill)
	}
	return replace(path, perm, fill)
}

// ReplaceFile atomically replaces whatever is at path — a regular file,
// but also a symlink, fifo or device node — with a regular file holding
// data, created with perm: unlike Write it never follows a link nor
// writes through a special file, as rename(2) replaces the name itself.
// For files in a directory that others may write to, where a check
// before Write could race with a link placed after it.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	return replace(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeThrough writes into an existing non-regular file.
func writeThrough(path string, fill func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := fill(&buf); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = buf.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// replace writes to a temporary file and renames it over path.
func replace(path string, perm os.FileMode, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPattern(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// TempPattern is the name pattern (os.CreateTemp, filepath.Match) of the
// temporary files Write creates next to path: ".BASE.tmp-*". A process
// killed between create and rename leaves one behind; a caller that
// serialises its writers (under a lock) may remove the matches.
func TempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// SyncDir fsyncs a directory so that a rename into it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
