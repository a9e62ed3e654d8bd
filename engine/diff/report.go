package diff

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/refval/refval/bundle"
)

// ErrNothingToCompare: the two sides share neither a config nor a
// records list.
var ErrNothingToCompare = errors.New("nothing to compare")

// File names Load looks for in a directory, first match wins: the shim's
// generate mode names first, then the names the refval docs suggest for
// `refval measure --normalized-config/--records`, then a bundle's own
// (raw) config.json.
var (
	ConfigFiles  = []string{"container-config.json", "normalized-config.json", "config.json"}
	RecordsFiles = []string{"container-records.jsonl", "records.jsonl"}
)

// Side is one measurement with its detail.
type Side struct {
	// Name is how the side was given (for messages).
	Name string
	// ConfigFile and RecordsFile are the files found ("" when absent).
	ConfigFile, RecordsFile string
	// Config is the normalized config (bundle.HashConfig applied, so a
	// raw config.json and a normalized one compare alike).
	Config []byte
}

// Load reads one side: a directory holding a config and/or records file
// (ConfigFiles, RecordsFiles), a records file (name ending in .jsonl) or a
// config file (anything else). opts are passed to bundle.HashConfig: give
// bundle.WithContainerID when a raw config still holds the container ID.
func Load(path string, opts ...bundle.Option) (*Side, error) {
	s := &Side{Name: path}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		s.ConfigFile = firstExisting(path, ConfigFiles)
		s.RecordsFile = firstExisting(path, RecordsFiles)
		if s.ConfigFile == "" && s.RecordsFile == "" {
			return nil, fmt.Errorf("%w: %s holds none of %s, %s", ErrInvalidInput, path,
				strings.Join(ConfigFiles, ", "), strings.Join(RecordsFiles, ", "))
		}
	} else if strings.HasSuffix(path, ".jsonl") {
		s.RecordsFile = path
	} else {
		s.ConfigFile = path
	}
	if s.ConfigFile != "" {
		raw, err := os.ReadFile(s.ConfigFile)
		if err != nil {
			return nil, err
		}
		_, norm, err := bundle.HashConfig(raw, opts...)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidInput, s.ConfigFile, err)
		}
		s.Config = norm
	}
	return s, nil
}

func firstExisting(dir string, names []string) string {
	for _, n := range names {
		p := filepath.Join(dir, n)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// Report is the outcome of Compare.
type Report struct {
	A string `json:"a"`
	B string `json:"b"`
	// Equal is true when everything compared is equal.
	Equal bool `json:"equal"`
	// ConfigCompared and RootfsCompared say which halves both sides had.
	ConfigCompared bool           `json:"configCompared"`
	RootfsCompared bool           `json:"rootfsCompared"`
	Config         []ConfigChange `json:"config"`
	Rootfs         []EntryChange  `json:"rootfs"`
}

// Compare compares what both sides have: the configs and the records.
// The report holds every difference found.
func Compare(a, b *Side) (*Report, error) {
	r := &Report{A: a.Name, B: b.Name, Config: []ConfigChange{}, Rootfs: []EntryChange{}}
	if a.Config != nil && b.Config != nil {
		c, err := Configs(a.Config, b.Config)
		if err != nil {
			return nil, err
		}
		r.ConfigCompared, r.Config = true, append(r.Config, c...)
	}
	if a.RecordsFile != "" && b.RecordsFile != "" {
		fa, err := os.Open(a.RecordsFile)
		if err != nil {
			return nil, err
		}
		defer fa.Close()
		fb, err := os.Open(b.RecordsFile)
		if err != nil {
			return nil, err
		}
		defer fb.Close()
		err = Records(fa, fb, func(c EntryChange) error { r.Rootfs = append(r.Rootfs, c); return nil })
		if err != nil {
			return nil, err
		}
		r.RootfsCompared = true
	}
	if !r.ConfigCompared && !r.RootfsCompared {
		return nil, fmt.Errorf("%w: %s has %s, %s has %s", ErrNothingToCompare, a.Name, a.has(), b.Name, b.has())
	}
	r.Equal = len(r.Config) == 0 && len(r.Rootfs) == 0
	return r, nil
}

func (s *Side) has() string {
	switch {
	case s.Config != nil && s.RecordsFile != "":
		return "a config and records"
	case s.Config != nil:
		return "only a config"
	case s.RecordsFile != "":
		return "only records"
	}
	return "nothing"
}

// CompareFiles is Load on both paths followed by Compare.
func CompareFiles(a, b string, opts ...bundle.Option) (*Report, error) {
	sa, err := Load(a, opts...)
	if err != nil {
		return nil, err
	}
	sb, err := Load(b, opts...)
	if err != nil {
		return nil, err
	}
	return Compare(sa, sb)
}

// WriteText writes the report for people: one line per difference.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	if r.Equal {
		what := []string{}
		if r.ConfigCompared {
			what = append(what, "config")
		}
		if r.RootfsCompared {
			what = append(what, "rootfs")
		}
		ew.printf("equal (%s compared)\n", strings.Join(what, " and "))
		return ew.err
	}
	if r.ConfigCompared {
		ew.printf("config: %d difference(s)\n", len(r.Config))
		for _, c := range r.Config {
			ew.printf("  %s\n", c)
		}
	} else {
		ew.printf("config: not compared (one side has no config)\n")
	}
	if r.RootfsCompared {
		ew.printf("rootfs: %d difference(s)\n", len(r.Rootfs))
		for _, c := range r.Rootfs {
			ew.printf("  %s\n", c)
		}
	} else {
		ew.printf("rootfs: not compared (one side has no records)\n")
	}
	return ew.err
}

// String renders the report as WriteText does.
func (r *Report) String() string {
	var b strings.Builder
	r.WriteText(&b)
	return b.String()
}

// String renders a config change on one line.
func (c ConfigChange) String() string {
	switch c.Kind {
	case Added:
		return fmt.Sprintf("%-8s %s: %s", c.Kind, c.Path, c.B)
	case Removed:
		return fmt.Sprintf("%-8s %s: %s", c.Kind, c.Path, c.A)
	}
	return fmt.Sprintf("%-8s %s: %s -> %s", c.Kind, c.Path, c.A, c.B)
}

// String renders an entry change on one line.
func (c EntryChange) String() string {
	p := fmt.Sprintf("%q", c.Path)
	switch c.Kind {
	case Added:
		return fmt.Sprintf("%-8s %s (%s)", c.Kind, p, c.B.Type)
	case Removed:
		return fmt.Sprintf("%-8s %s (%s)", c.Kind, p, c.A.Type)
	}
	parts := make([]string, 0, len(c.Fields))
	for _, f := range c.Fields {
		parts = append(parts, fmt.Sprintf("%s %s -> %s", f, fieldValue(c.A, f), fieldValue(c.B, f)))
	}
	return fmt.Sprintf("%-8s %s: %s", c.Kind, p, strings.Join(parts, "; "))
}

func fieldValue(r *bundle.Record, f string) string {
	switch f {
	case FieldType:
		return r.Type.String()
	case FieldContent:
		return "sha256:" + r.Sha256.String()[:16] + "…"
	case FieldMode:
		return fmt.Sprintf("%04o", r.Mode&bundle.PermMask)
	case FieldOwner:
		return fmt.Sprintf("%d:%d", r.UID, r.GID)
	case FieldCapability:
		if len(r.Capability) == 0 {
			return "none"
		}
		return hex.EncodeToString(r.Capability)
	case FieldTarget:
		return fmt.Sprintf("%q", r.Target)
	case FieldDevice:
		return fmt.Sprintf("%d:%d", r.DevMajor, r.DevMinor)
	}
	return "?"
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}
