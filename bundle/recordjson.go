package bundle

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// recordJSON is the JSON form of a Record (one per line in a records
// file). Names that are not valid UTF-8 cannot be JSON strings without
// loss, so they travel base64-encoded in pathBase64 / targetBase64.
type recordJSON struct {
	Path         string    `json:"path,omitempty"`
	PathBase64   string    `json:"pathBase64,omitempty"`
	Type         EntryType `json:"type"`
	Mode         string    `json:"mode"`
	UID          uint32    `json:"uid"`
	GID          uint32    `json:"gid"`
	Sha256       string    `json:"sha256,omitempty"`
	Target       string    `json:"target,omitempty"`
	TargetBase64 string    `json:"targetBase64,omitempty"`
	DevMajor     *uint32   `json:"devMajor,omitempty"`
	DevMinor     *uint32   `json:"devMinor,omitempty"`
	Capability   string    `json:"capability,omitempty"`
}

// MarshalJSON encodes r with an octal mode string ("04755"), hex content
// hash and capability, and base64 for names that are not UTF-8.
func (r Record) MarshalJSON() ([]byte, error) {
	j := recordJSON{Type: r.Type, Mode: fmt.Sprintf("%04o", r.Mode), UID: r.UID, GID: r.GID}
	j.Path, j.PathBase64 = textOrBase64(r.Path)
	switch r.Type {
	case TypeFile:
		j.Sha256 = r.Sha256.String()
	case TypeSymlink:
		j.Target, j.TargetBase64 = textOrBase64(r.Target)
		if r.Target == "" {
			j.TargetBase64 = "" // an empty target stays empty
		}
	case TypeChar, TypeBlock:
		j.DevMajor, j.DevMinor = &r.DevMajor, &r.DevMinor
	}
	if len(r.Capability) > 0 {
		j.Capability = hex.EncodeToString(r.Capability)
	}
	return json.Marshal(j)
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var out Record
	var err error
	if out.Path, err = fromTextOrBase64("path", j.Path, j.PathBase64); err != nil {
		return err
	}
	out.Type = j.Type
	m, err := strconv.ParseUint(j.Mode, 8, 32)
	if err != nil || m&^PermMask != 0 {
		return fmt.Errorf("record %q: mode %q is not an octal permission", out.Path, j.Mode)
	}
	out.Mode, out.UID, out.GID = uint32(m), j.UID, j.GID
	if j.Sha256 != "" {
		if out.Sha256, err = ParseDigest(j.Sha256); err != nil {
			return fmt.Errorf("record %q: sha256: %w", out.Path, err)
		}
	}
	if out.Target, err = fromTextOrBase64("target", j.Target, j.TargetBase64); err != nil {
		return err
	}
	if j.DevMajor != nil {
		out.DevMajor = *j.DevMajor
	}
	if j.DevMinor != nil {
		out.DevMinor = *j.DevMinor
	}
	if j.Capability != "" {
		if out.Capability, err = hex.DecodeString(j.Capability); err != nil {
			return fmt.Errorf("record %q: capability: %w", out.Path, err)
		}
	}
	*r = out
	return nil
}

func textOrBase64(s string) (text, b64 string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	return "", base64.StdEncoding.EncodeToString([]byte(s))
}

func fromTextOrBase64(field, text, b64 string) (string, error) {
	if b64 == "" {
		return text, nil
	}
	if text != "" {
		return "", fmt.Errorf("record: both %s and %sBase64 are set", field, field)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("record: %sBase64: %w", field, err)
	}
	return string(b), nil
}

// RecordWriter returns a record function (for WithRecordFunc) that writes
// each record as one JSON line to w, and a flush function to call at the end.
func RecordWriter(w io.Writer) (write func(*Record) error, flush func() error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return func(r *Record) error { return enc.Encode(r) }, bw.Flush
}

// ReadRecords reads a records file (JSON lines) and calls fn for each
// record in order. Errors name the line.
func ReadRecords(r io.Reader, fn func(*Record) error) error {
	dec := json.NewDecoder(r)
	for line := 1; ; line++ {
		var rec Record
		err := dec.Decode(&rec)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("record %d: %w", line, err)
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
}
