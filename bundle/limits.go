package bundle

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrLimitExceeded is wrapped by every *LimitError: the input asked for
// more work than the configured Limits allow. It says nothing about the
// input being invalid, only too large; the error names the flag that
// raises the limit.
var ErrLimitExceeded = errors.New("limit exceeded")

// Limits bounds the work and memory that untrusted input can cause. The
// same type configures `refval measure` and `unpack` (image layers), and
// `measure-bundle` and the runtime shim (the on-disk walk). docs/images.md
// ("Limits") documents each default and why no real image reaches it.
//
// A zero field means its default (DefaultLimits); a negative one means no
// limit. Which limits apply where:
//
//   - Layers (measure, unpack): all of them. Sizes count what a layer
//     expands to: its uncompressed tar stream and the sum of its entries'
//     sizes, a sparse file at its full size. Entries counts tar entries
//     of all layers. Depth, NameBytes and PathBytes apply to the path an
//     entry creates, after symlinks in its parent are resolved.
//   - An on-disk walk (measure-bundle, the shim): Entries and Depth. Names
//     and paths on disk have already passed the kernel (NAME_MAX), and a
//     path longer than PATH_MAX can exist on disk and is measured; there
//     Depth bounds the path.
type Limits struct {
	// LayerBytes bounds the expanded bytes of one layer.
	LayerBytes int64 `json:"layerBytes,omitempty"`
	// ImageBytes bounds the expanded bytes of all layers of one image.
	ImageBytes int64 `json:"imageBytes,omitempty"`
	// Expansion bounds expanded bytes per stored byte once a layer has
	// expanded to ExpansionFloor bytes: uncompressed per compressed byte
	// of the blob (a decompression bomb), and file content per byte of the
	// tar stream (sparse files, whose holes read as zeros).
	Expansion int64 `json:"expansion,omitempty"`
	// ExpansionFloor is what any layer may expand to whatever its ratio,
	// so that small, highly compressible layers are never refused.
	ExpansionFloor int64 `json:"expansionFloor,omitempty"`
	// Entries bounds the number of entries (tar entries of all layers of
	// an image; entries of an on-disk tree).
	Entries int64 `json:"entries,omitempty"`
	// Depth bounds the number of components of a path ("/a/b" has 2).
	Depth int `json:"depth,omitempty"`
	// NameBytes bounds one path component (NAME_MAX is 255 on Linux).
	NameBytes int `json:"nameBytes,omitempty"`
	// PathBytes bounds a path inside the rootfs, leading "/" included.
	PathBytes int `json:"pathBytes,omitempty"`
}

// MaxNameBytes and MaxPathBytes are Linux's NAME_MAX and PATH_MAX less the
// terminating NUL: a name or path beyond them cannot be created, so
// raising NameBytes or PathBytes past them only makes `measure` accept
// images that `unpack` must refuse.
const (
	MaxNameBytes = 255
	MaxPathBytes = 4095
)

// DefaultLimits returns the defaults (docs/images.md gives the reasons):
// 64 GiB per layer, 256 GiB per image, expansion 100:1 beyond 1 GiB,
// 4 Mi entries, depth 1024, names of 255 bytes (NAME_MAX) and paths of
// 3072 bytes (PATH_MAX 4096 leaves 1023 bytes for the bundle's rootfs
// directory, so whatever measure accepts unpack can create).
func DefaultLimits() Limits {
	return Limits{
		LayerBytes:     64 << 30,
		ImageBytes:     256 << 30,
		Expansion:      100,
		ExpansionFloor: 1 << 30,
		Entries:        4 << 20,
		Depth:          1024,
		NameBytes:      MaxNameBytes,
		PathBytes:      3072,
	}
}

// Resolved returns l with every zero field set to its default.
func (l Limits) Resolved() Limits {
	d := DefaultLimits()
	set64 := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set64(&l.LayerBytes, d.LayerBytes)
	set64(&l.ImageBytes, d.ImageBytes)
	set64(&l.Expansion, d.Expansion)
	set64(&l.ExpansionFloor, d.ExpansionFloor)
	set64(&l.Entries, d.Entries)
	set(&l.Depth, d.Depth)
	set(&l.NameBytes, d.NameBytes)
	set(&l.PathBytes, d.PathBytes)
	return l
}

// Limit names one field of Limits in errors.
type Limit string

// The limits, with the flag of refval that raises each.
const (
	LimitLayerBytes Limit = "layer size"
	LimitImageBytes Limit = "image size"
	LimitExpansion  Limit = "expansion ratio"
	LimitEntries    Limit = "entry count"
	LimitDepth      Limit = "path depth"
	LimitNameBytes  Limit = "name length"
	LimitPathBytes  Limit = "path length"
)

// Flag returns the command-line flag of refval that sets the limit.
func (l Limit) Flag() string {
	return map[Limit]string{
		LimitLayerBytes: "--max-layer-size",
		LimitImageBytes: "--max-image-size",
		LimitExpansion:  "--max-expansion",
		LimitEntries:    "--max-entries",
		LimitDepth:      "--max-depth",
		LimitNameBytes:  "--max-name-length",
		LimitPathBytes:  "--max-path-length",
	}[l]
}

// LimitError reports input beyond one of the Limits. Path (the entry) and
// Layer (the layer's digest) are set where known; the message names Path,
// and the layer through the wrapping of the code that reads layers.
type LimitError struct {
	Limit Limit
	Value int64 // what the input asked for (at least; counting stops at the limit)
	Max   int64
	Path  string
	Layer string
}

func (e *LimitError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		fmt.Fprintf(&b, "%q: ", e.Path)
	}
	fmt.Fprintf(&b, "%s: %s %d exceeds the limit %d (raise it with %s)", ErrLimitExceeded, e.Limit, e.Value, e.Max, e.Limit.Flag())
	return b.String()
}

func (e *LimitError) Unwrap() error { return ErrLimitExceeded }

// CheckLimit returns a *LimitError when value exceeds max (a negative max is no
// limit).
func CheckLimit(limit Limit, value, max int64, path string) error {
	if max >= 0 && value > max {
		return &LimitError{Limit: limit, Value: value, Max: max, Path: path}
	}
	return nil
}

// WithLimits bounds the on-disk walk (Entries and Depth; see Limits).
func WithLimits(l Limits) Option {
	return func(o *options) error { o.limits = l.Resolved(); return nil }
}

// ParseSize parses a byte count for a size flag: a plain number of bytes,
// or one with a binary (KiB, MiB, GiB, TiB) or decimal (kB, MB, GB, TB)
// suffix ("64GiB"); "-1" is no limit.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}} {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || (n < 0 && !(n == -1 && mult == 1)) {
		return 0, fmt.Errorf("size %q: want a number of bytes, optionally with a unit (KiB, MiB, GiB, TiB), or -1 for no limit", s)
	}
	if n > 0 && n > (1<<63-1)/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}
