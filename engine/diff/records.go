package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/refval/refval/bundle"
)

// Field names of a record that can differ (EntryChange.Fields).
const (
	FieldType       = "type"
	FieldContent    = "content"
	FieldMode       = "mode"
	FieldOwner      = "owner"
	FieldCapability = "capability"
	FieldTarget     = "target"
	FieldDevice     = "device"
)

// EntryChange is one rootfs entry that differs. For Changed, Fields lists
// what differs, in the order of the constants above.
type EntryChange struct {
	Path   string         `json:"path"`
	Kind   Kind           `json:"kind"`
	Fields []string       `json:"fields,omitempty"`
	A      *bundle.Record `json:"a,omitempty"`
	B      *bundle.Record `json:"b,omitempty"`
}

// recordReader pulls records from a JSON-lines stream and checks that
// they come in measurement order.
type recordReader struct {
	side string
	dec  *json.Decoder
	line int
	prev string
	cur  *bundle.Record
}

func newRecordReader(side string, r io.Reader) *recordReader {
	return &recordReader{side: side, dec: json.NewDecoder(r)}
}

// next loads the following record into cur (nil at the end).
func (r *recordReader) next() error {
	var rec bundle.Record
	err := r.dec.Decode(&rec)
	if err == io.EOF {
		r.cur = nil
		return nil
	}
	r.line++
	if err != nil {
		return fmt.Errorf("%w: side %s records: record %d: %v", ErrInvalidInput, r.side, r.line, err)
	}
	if !strings.HasPrefix(rec.Path, "/") {
		return fmt.Errorf("%w: side %s records: record %d: path %q is not absolute", ErrInvalidInput, r.side, r.line, rec.Path)
	}
	if r.line > 1 && comparePaths(r.prev, rec.Path) >= 0 {
		return fmt.Errorf("%w: side %s records: record %d (%q) is not after %q in measurement order", ErrInvalidInput, r.side, r.line, rec.Path, r.prev)
	}
	r.prev = rec.Path
	r.cur = &rec
	return nil
}

// comparePaths orders paths as the measurement walks them: pre-order with
// the children of a directory sorted bytewise. That is a component-wise
// comparison in which an ancestor comes before its descendants; plain
// bytewise order of whole paths differs ("/a-b" < "/a/c", yet /a/c is
// walked first).
func comparePaths(a, b string) int {
	if a == b {
		return 0
	}
	ca, cb := components(a), components(b)
	for i := 0; i < len(ca) && i < len(cb); i++ {
		if c := strings.Compare(ca[i], cb[i]); c != 0 {
			return c
		}
	}
	return len(ca) - len(cb)
}

func components(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// Records compares two records lists (JSON lines in measurement order, as
// `refval measure --records` and the shim write them) in one pass and
// calls fn for each difference in path order. It stops at the first error
// from fn or from the input.
func Records(a, b io.Reader, fn func(EntryChange) error) error {
	ra, rb := newRecordReader("A", a), newRecordReader("B", b)
	if err := ra.next(); err != nil {
		return err
	}
	if err := rb.next(); err != nil {
		return err
	}
	for ra.cur != nil || rb.cur != nil {
		var c int
		switch {
		case ra.cur == nil:
			c = 1
		case rb.cur == nil:
			c = -1
		default:
			c = comparePaths(ra.cur.Path, rb.cur.Path)
		}
		switch {
		case c < 0:
			if err := fn(EntryChange{Path: ra.cur.Path, Kind: Removed, A: ra.cur}); err != nil {
				return err
			}
			if err := ra.next(); err != nil {
				return err
			}
		case c > 0:
			if err := fn(EntryChange{Path: rb.cur.Path, Kind: Added, B: rb.cur}); err != nil {
				return err
			}
			if err := rb.next(); err != nil {
				return err
			}
		default:
			if f := recordFields(ra.cur, rb.cur); len(f) > 0 {
				if err := fn(EntryChange{Path: ra.cur.Path, Kind: Changed, Fields: f, A: ra.cur, B: rb.cur}); err != nil {
					return err
				}
			}
			if err := ra.next(); err != nil {
				return err
			}
			if err := rb.next(); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordFields lists the measured fields in which x and y differ; it is
// empty exactly when the two records encode to the same bytes.
func recordFields(x, y *bundle.Record) []string {
	var f []string
	if x.Type != y.Type {
		f = append(f, FieldType)
	}
	if x.Type == bundle.TypeFile && y.Type == bundle.TypeFile && x.Sha256 != y.Sha256 {
		f = append(f, FieldContent)
	}
	if x.Mode&bundle.PermMask != y.Mode&bundle.PermMask {
		f = append(f, FieldMode)
	}
	if x.UID != y.UID || x.GID != y.GID {
		f = append(f, FieldOwner)
	}
	if !bytes.Equal(x.Capability, y.Capability) {
		f = append(f, FieldCapability)
	}
	if x.Type == bundle.TypeSymlink && y.Type == bundle.TypeSymlink && x.Target != y.Target {
		f = append(f, FieldTarget)
	}
	if isDev(x.Type) && isDev(y.Type) && (x.DevMajor != y.DevMajor || x.DevMinor != y.DevMinor) {
		f = append(f, FieldDevice)
	}
	return f
}

func isDev(t bundle.EntryType) bool { return t == bundle.TypeChar || t == bundle.TypeBlock }
