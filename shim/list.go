package shim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fxamacker/cbor/v2"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"golang.org/x/sys/unix"
)

// Entry is one container measurement in the CMC container-measurement list
// format: hex strings in JSON, byte strings under integer keys 0-4 in CBOR.
// Pcr is absent for the sw driver, which extends no PCR.
type Entry struct {
	Pcr            *int              `json:"pcr,omitempty" cbor:"0,keyasint,omitempty"`
	TemplateSha256 manifest.HexBytes `json:"templateSha256" cbor:"1,keyasint"`
	Name           string            `json:"name" cbor:"2,keyasint"`
	ConfigSha256   manifest.HexBytes `json:"configSha256" cbor:"3,keyasint"`
	RootfsSha256   manifest.HexBytes `json:"rootfsSha256" cbor:"4,keyasint"`
}

// ErrList marks a measurement list file that cannot be read.
var ErrList = errors.New("invalid measurement list")

// cborEnc encodes deterministically (RFC 8949 core deterministic encoding),
// so the same list is always the same bytes.
var cborEnc, _ = cbor.CoreDetEncOptions().EncMode()

// cborDec rejects duplicate map keys and bounds nesting: the list may be
// read by other tools, but it must never be ambiguous.
var cborDec, _ = cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF, MaxNestedLevels: 8}.DecMode()

// DecodeList parses a list in the given format. An empty file is an empty
// list (a crash can never leave one, but an administrator may create it).
func DecodeList(raw []byte, format string) ([]Entry, error) {
	var l []Entry
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var err error
	switch format {
	case FormatJSON:
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err = dec.Decode(&l); err == nil && dec.More() {
			err = errors.New("data after the JSON array")
		}
	case FormatCBOR:
		var rest []byte
		rest, err = cborDec.UnmarshalFirst(raw, &l)
		if err == nil && len(rest) != 0 {
			err = errors.New("data after the CBOR array")
		}
	default:
		err = fmt.Errorf("unknown format %q", format)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrList, err)
	}
	for i, e := range l {
		for _, f := range []struct {
			name string
			v    []byte
		}{{"templateSha256", e.TemplateSha256}, {"configSha256", e.ConfigSha256}, {"rootfsSha256", e.RootfsSha256}} {
			if len(f.v) != 32 {
				return nil, fmt.Errorf("%w: entry %d: %s has %d bytes, want 32", ErrList, i, f.name, len(f.v))
			}
		}
	}
	return l, nil
}

// EncodeList serialises a list: JSON (indented, one entry per line block,
// trailing newline) or deterministic CBOR.
func EncodeList(l []Entry, format string) ([]byte, error) {
	if l == nil {
		l = []Entry{}
	}
	switch format {
	case FormatJSON:
		b, err := json.MarshalIndent(l, "", "  ")
		return append(b, '\n'), err
	case FormatCBOR:
		return cborEnc.Marshal(l)
	}
	return nil, fmt.Errorf("%w: unknown format %q", ErrList, format)
}

// ReadList reads the list at path; a missing file is an empty list.
func ReadList(path, format string) ([]Entry, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read measurement list: %w", err)
	}
	l, err := DecodeList(raw, format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// AppendFunc is called with the list lock held after a new entry was
// written; an error makes AppendEntry restore the previous list, so the
// list and what the driver recorded never diverge.
type AppendFunc func(Entry) error

// AppendEntry adds e to the list at path unless an entry with the same
// template hash is already there (then added is false and commit is not
// called). The read-modify-write runs under an exclusive flock on
// path+".lock" (the list itself is replaced by rename, so it cannot carry
// the lock); the new list is written to a temporary file, fsynced and
// renamed, so concurrent starts lose nothing and a crash leaves either the
// old or the new list.
func AppendEntry(path, format string, e Entry, commit AppendFunc) (added bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("measurement list: %w", err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return false, err
	}
	defer unlock()

	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("read measurement list: %w", err)
	}
	existed := err == nil
	l, err := DecodeList(old, format)
	if err != nil {
		// Never rewrite a list we cannot read: it is evidence.
		return false, fmt.Errorf("%s: %w", path, err)
	}
	for _, x := range l {
		if bytes.Equal(x.TemplateSha256, e.TemplateSha256) {
			return false, nil
		}
	}
	b, err := EncodeList(append(l, e), format)
	if err != nil {
		return false, err
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return false, fmt.Errorf("measurement list: %w", err)
	}
	if commit == nil {
		return true, nil
	}
	if cerr := commit(e); cerr != nil {
		var rerr error
		if existed {
			rerr = atomicfile.WriteFile(path, old, 0o644)
		} else {
			rerr = os.Remove(path)
		}
		if rerr != nil {
			return false, errors.Join(cerr, fmt.Errorf("restore measurement list: %w", rerr))
		}
		return false, cerr
	}
	return true, nil
}

// lockFile takes an exclusive flock on path (created if needed) and
// returns the function that releases it. The kernel drops the lock if the
// process dies, so a crash never leaves the list locked.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock measurement list: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}
