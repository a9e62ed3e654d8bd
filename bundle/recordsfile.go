package bundle

import (
	"fmt"
	"io"

	"github.com/refval/refval/internal/atomicfile"
)

// WriteRecordsFile runs measure with a record function (for
// WithRecordFunc) that writes every record as one JSON line (RecordWriter)
// into the records file at path, replaced atomically: readers see the old
// file or the complete new one. It is the one records-file writer of
// refval measure, refval measure-bundle and the shim's generate mode.
//
// When measure fails, nothing is written (the temporary file is removed)
// and its error is returned as it is, not dressed as a write error: a file
// that changed during the measurement is reported as ErrFileChanged naming
// that file. A failure to write the records file names path.
func WriteRecordsFile(path string, measure func(record func(*Record) error) error) error {
	var merr error
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		write, flush := RecordWriter(w)
		merr = measure(func(r *Record) error {
			if err := write(r); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			return nil
		})
		if merr != nil {
			return merr
		}
		return flush()
	})
	if merr != nil {
		return merr
	}
	return err
}
