package cmd

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/refval/refval/internal/atomicfile"
)

// writeOutput writes a file named on the command line. A new path or a
// regular file is replaced atomically (internal/atomicfile). Anything else
// that exists -- a symlink, /dev/null, /dev/stdout, a fifo -- is written
// through, as a shell redirection would: renaming a temporary file over it
// would replace the link or the device node itself (as root, /dev/null for
// the whole system). The content is then produced in memory first, so that
// a failing fill still leaves the target untouched.
func writeOutput(path string, perm os.FileMode, fill func(io.Writer) error) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().IsRegular() || fi.IsDir() {
		return atomicfile.Write(path, perm, fill)
	}
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

// writeOutputFile is writeOutput with the content at hand.
func writeOutputFile(path string, data []byte, perm os.FileMode) error {
	return writeOutput(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
