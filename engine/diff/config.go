package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
)

// Kind says how an item differs between side A and side B.
type Kind string

const (
	Added   Kind = "added"   // only in B
	Removed Kind = "removed" // only in A
	Changed Kind = "changed" // in both, different
)

// ErrInvalidInput marks input that is not a config document or records list.
var ErrInvalidInput = errors.New("invalid diff input")

// ConfigChange is one differing value of the config, named by its JSON
// path ("process.env[3]", "linux.resources.devices[0].allow",
// `annotations["io.x"]`). A and B hold the value on each side (absent for
// an added or removed value).
type ConfigChange struct {
	Path string          `json:"path"`
	Kind Kind            `json:"kind"`
	A    json.RawMessage `json:"a,omitempty"`
	B    json.RawMessage `json:"b,omitempty"`
}

// maxLCSCells bounds the work of aligning two arrays (n*m); longer arrays
// are compared index by index, which is still exact, only less readable.
const maxLCSCells = 1 << 22

// Configs compares two config documents (any JSON, usually normalized
// configs) and returns their differences in document order.
func Configs(a, b []byte) ([]ConfigChange, error) {
	va, err := decodeJSON(a)
	if err != nil {
		return nil, fmt.Errorf("%w: side A config: %v", ErrInvalidInput, err)
	}
	vb, err := decodeJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%w: side B config: %v", ErrInvalidInput, err)
	}
	var out []ConfigChange
	compareValues("", va, vb, &out)
	return out, nil
}

// decodeJSON decodes one JSON value, keeping numbers exact (json.Number).
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func compareValues(path string, a, b any, out *[]ConfigChange) {
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			compareObjects(path, x, y, out)
			return
		}
	case []any:
		if y, ok := b.([]any); ok {
			compareArrays(path, x, y, out)
			return
		}
	}
	if !equalValues(a, b) {
		*out = append(*out, ConfigChange{Path: displayPath(path), Kind: Changed, A: raw(a), B: raw(b)})
	}
}

func compareObjects(path string, a, b map[string]any, out *[]ConfigChange) {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := joinKey(path, k)
		va, inA := a[k]
		vb, inB := b[k]
		switch {
		case inA && inB:
			compareValues(p, va, vb, out)
		case inA:
			*out = append(*out, ConfigChange{Path: displayPath(p), Kind: Removed, A: raw(va)})
		default:
			*out = append(*out, ConfigChange{Path: displayPath(p), Kind: Added, B: raw(vb)})
		}
	}
}

// compareArrays aligns a and b with a longest common subsequence of equal
// elements, then reports each unmatched stretch: elements at the same
// offset of a stretch that are of the same kind (both objects, both
// arrays, or both scalars) are compared, objects and arrays inside; the
// rest are removed (from A) or added (in B).
func compareArrays(path string, a, b []any, out *[]ConfigChange) {
	if len(a)*len(b) > maxLCSCells {
		for i := 0; i < max(len(a), len(b)); i++ {
			p := path + "[" + strconv.Itoa(i) + "]"
			switch {
			case i < len(a) && i < len(b):
				compareValues(p, a[i], b[i], out)
			case i < len(a):
				*out = append(*out, ConfigChange{Path: p, Kind: Removed, A: raw(a[i])})
			default:
				*out = append(*out, ConfigChange{Path: p, Kind: Added, B: raw(b[i])})
			}
		}
		return
	}
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i, v := range a {
		ka[i] = string(raw(v))
	}
	for i, v := range b {
		kb[i] = string(raw(v))
	}
	// lcs[i][j] = length of the LCS of ka[i:] and kb[j:].
	lcs := make([][]int32, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if ka[i] == kb[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	var gapA, gapB []int
	flush := func() {
		n := 0
		for n < len(gapA) && n < len(gapB) && sameKind(a[gapA[n]], b[gapB[n]]) {
			compareValues(path+"["+strconv.Itoa(gapA[n])+"]", a[gapA[n]], b[gapB[n]], out)
			n++
		}
		for _, x := range gapA[n:] {
			*out = append(*out, ConfigChange{Path: displayPath(path + "[" + strconv.Itoa(x) + "]"), Kind: Removed, A: raw(a[x])})
		}
		for _, y := range gapB[n:] {
			*out = append(*out, ConfigChange{Path: displayPath(path + "[" + strconv.Itoa(y) + "]"), Kind: Added, B: raw(b[y])})
		}
		gapA, gapB = gapA[:0], gapB[:0]
	}
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && ka[i] == kb[j]:
			flush()
			i++
			j++
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			gapB = append(gapB, j)
			j++
		default:
			gapA = append(gapA, i)
			i++
		}
	}
	flush()
}

func sameKind(a, b any) bool {
	kind := func(v any) int {
		switch v.(type) {
		case map[string]any:
			return 1
		case []any:
			return 2
		}
		return 3
	}
	return kind(a) == kind(b)
}

func equalValues(a, b any) bool {
	return bytes.Equal(raw(a), raw(b))
}

// raw encodes a decoded value back to compact JSON (object keys sorted,
// numbers as written), for display and for equality.
func raw(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only decoded JSON reaches here, which always encodes.
		return json.RawMessage(strconv.Quote(fmt.Sprint(v)))
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

var identKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// joinKey appends an object key: ".key" for identifier-like keys (the
// first without the dot), `["key"]` for anything else.
func joinKey(path, k string) string {
	if identKey.MatchString(k) {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	return path + "[" + strconv.Quote(k) + "]"
}

func displayPath(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}
