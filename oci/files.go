package oci

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/refval/refval/internal/boundedfile"
	"github.com/refval/refval/internal/staging"
)

// Every file of an image source or of the store is opened with
// O_NONBLOCK and must be a regular file: opening a FIFO for reading would
// otherwise wait for a writer forever, and a device would be read as
// content. (O_NONBLOCK has no effect on regular files.)

// notRegular is the error for a file that must be regular.
func notRegular(p string, m fs.FileMode) error {
	return fmt.Errorf("%w: %w", ErrInvalidImage, boundedfile.NotRegular(p, m))
}

// openRegular opens p for reading without blocking and returns it only
// when it is a regular file (symlinks followed).
func openRegular(p string) (*os.File, error) {
	f, err := boundedfile.Open(p, boundedfile.FollowLinks)
	return f, imageFileErr(err)
}

// readRegular reads the regular file p, at most max bytes.
func readRegular(p string, max int64) ([]byte, error) {
	b, err := boundedfile.Read(p, max, boundedfile.FollowLinks)
	return b, imageFileErr(err)
}

// imageFileErr marks an error of boundedfile about the file itself (not
// regular, too large) as ErrInvalidImage; others stay as they are.
func imageFileErr(err error) error {
	if fe := (*boundedfile.Error)(nil); errors.As(err, &fe) {
		return fmt.Errorf("%w: %w", ErrInvalidImage, fe)
	}
	return err
}

// checkRegular requires p, when it exists, to be a regular file.
func checkRegular(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return notRegular(p, fi.Mode())
	}
	return nil
}

// checkTree requires every file under dir (symlinks followed) to be a
// regular file or a directory.
func checkTree(dir string) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() {
			return notRegular(p, fi.Mode())
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil // containers/image reports a missing source its own way
	}
	return err
}

// checkArchive requires the oci-archive p to be a regular file holding
// only regular files and directories, before containers/image extracts it
// (which would create the FIFOs, devices and links it holds, and then
// wait on a FIFO forever).
func checkArchive(p string) error {
	f, err := openRegular(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return checkArchiveEntries(p, f) // a file: content is skipped by seeking
}

// checkArchiveEntries reads the oci-archive tar stream r (named p).
func checkArchiveEntries(p string, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: oci-archive %s: %v", ErrInvalidImage, p, err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: oci-archive %s: entry %q is a %s; an image layout holds regular files and directories only",
				ErrInvalidImage, p, hdr.Name, boundedfile.Kind(hdr.FileInfo().Mode()))
		}
	}
}

// checkSource checks the files of a local image source before
// containers/image opens any of them: an oci: or dir: directory must hold
// regular files only, an oci-archive: or docker-archive: must be a
// regular file (and an oci-archive hold regular files and directories).
// The path is what precedes the first ":" of the reference, as
// containers/image splits it.
func checkSource(transport, within string) error {
	p, _, _ := strings.Cut(within, ":")
	switch transport {
	case "oci", "dir":
		return checkTree(p)
	case "oci-archive":
		return checkArchive(p)
	case "docker-archive":
		return checkRegular(p)
	}
	return nil
}

// Staging directories of a pull (.pull-* in the store) hold a lock file
// that the pulling process keeps flock'ed while it runs (internal/staging):
// the kernel releases it when the process dies however it dies. A staging
// directory whose lock can be taken is provably stale and removed at the
// next pull; one without a lock file (an older refval) only after a day.
const stagingLock = ".refval-pull.lock"

// lockStaging creates and locks the lock file of the staging directory
// dir; close the file to release it.
func lockStaging(dir string) (*os.File, error) { return staging.Lock(dir, stagingLock) }

// staleStaging reports whether the staging directory dir belongs to no
// live pull.
func staleStaging(dir string) bool { return staging.Stale(dir, stagingLock, 24*time.Hour) }
