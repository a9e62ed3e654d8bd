package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// Format is the encoding of a document: JSON or CBOR with integer keys.
type Format string

// The two encodings of the CMC metadata format.
const (
	JSON Format = "json"
	CBOR Format = "cbor"
)

// ParseFormat returns the Format named s ("json" or "cbor").
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case JSON, CBOR:
		return Format(s), nil
	}
	return "", fmt.Errorf("%w: %q (want json or cbor)", ErrFormat, s)
}

// DetectFormat tells JSON from CBOR by the first byte that is not JSON
// white space: a JSON document of the CMC format is an object ('{') or, for
// lists of reference values, an array ('['). No CBOR map or array can start
// with those bytes (0x7b and 0x5b are text and byte string heads).
//
// A UTF-8 byte order mark is refused, not skipped: JSON text must not begin
// with one (RFC 8259 §8.1), CMC's JSON parser (Go's encoding/json) rejects
// it, so a document refval accepted with one would fail on the device. It
// can never start CBOR metadata either (0xef is a simple value), so it is
// reported as what it is rather than as a CBOR error.
func DetectFormat(b []byte) (Format, error) {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 {
		return "", fmt.Errorf("%w: empty input", ErrFormat)
	}
	if err := checkBOM(t, ErrFormat); err != nil {
		return "", err
	}
	if t[0] == '{' || t[0] == '[' {
		return JSON, nil
	}
	return CBOR, nil
}

// utf8BOM is the UTF-8 encoding of U+FEFF, the byte order mark.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// checkBOM refuses input that starts with a byte order mark, wrapping
// sentinel (see DetectFormat for why it is refused, not skipped).
func checkBOM(b []byte, sentinel error) error {
	if bytes.HasPrefix(b, utf8BOM) {
		return fmt.Errorf("%w: starts with a UTF-8 byte order mark (EF BB BF), which JSON must not have (RFC 8259 §8.1) and CMC refuses: remove those 3 bytes", sentinel)
	}
	return nil
}

// maxDepth bounds the nesting of JSON input, as fxamacker/cbor's default
// MaxNestedLevels (32) bounds CBOR input: metadata nests a handful of levels,
// and an unbounded recursion on hostile input would only waste memory.
const maxDepth = 64

var (
	// cborDec decodes generic CBOR: maps to map[any]any so that integer keys
	// and unknown fields survive, duplicate keys rejected (two decoders
	// could otherwise disagree on a signed document), tags kept as cbor.Tag,
	// trailing bytes rejected by Unmarshal itself (ExtraneousDataError).
	cborDec cbor.DecMode
	// cborEnc is RFC 8949 core deterministic encoding (§4.2.1): shortest
	// heads, map keys sorted bytewise by their encoding, no indefinite
	// lengths. Identical documents therefore give identical bytes.
	cborEnc cbor.EncMode
)

func init() {
	// undefined (simple value 23) would decode to nil and come back as
	// null, and NaN payloads would be canonicalised: refuse both rather
	// than change a document silently.
	simple, err := cbor.NewSimpleValueRegistryFromDefaults(cbor.WithRejectedSimpleValue(cbor.SimpleValue(23)))
	if err != nil {
		panic(err)
	}
	cborDec, err = cbor.DecOptions{
		SimpleValues:   simple,
		NaN:            cbor.NaNDecodeForbidden,
		DupMapKey:      cbor.DupMapKeyEnforcedAPF,
		DefaultMapType: reflect.TypeOf(map[any]any(nil)),
		IntDec:         cbor.IntDecConvertNone,
		UTF8:           cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	cborEnc, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
}

// decodeJSON parses one JSON value generically: objects become
// map[string]any, numbers json.Number (kept exactly as written). It
// rejects duplicate object keys and anything after the value.
func decodeJSON(b []byte) (any, error) {
	// encoding/json would replace invalid UTF-8 by U+FFFD: a silent change.
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: JSON text is not valid UTF-8", ErrSyntax)
	}
	if err := checkBOM(bytes.TrimLeft(b, " \t\r\n"), ErrSyntax); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeJSONValue(dec, "", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON value at offset %d", ErrTrailingData, dec.InputOffset())
	}
	return v, nil
}

func decodeJSONValue(dec *json.Decoder, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nesting deeper than %d at %s", ErrSyntax, maxDepth, pathOrRoot(path))
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, pathOrRoot(path), err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, pathOrRoot(path), err)
				}
				k := kt.(string) // the decoder only returns strings as object keys
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("%w: duplicate key %q in %s", ErrSyntax, k, pathOrRoot(path))
				}
				v, err := decodeJSONValue(dec, joinPath(path, k), depth+1)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, pathOrRoot(path), err)
			}
			return m, nil
		case '[':
			l := []any{}
			for dec.More() {
				v, err := decodeJSONValue(dec, path+"["+strconv.Itoa(len(l))+"]", depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrSyntax, pathOrRoot(path), err)
			}
			return l, nil
		}
		return nil, fmt.Errorf("%w: %s: unexpected %v", ErrSyntax, pathOrRoot(path), t)
	default:
		return t, nil // string, json.Number, bool or nil
	}
}

// encodeJSON writes v with sorted object keys, two-space indentation, no
// HTML escaping and a final newline: one canonical layout for every
// document refval writes, so that equal documents are equal bytes.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeCBOR parses one CBOR data item generically; see cborDec.
func decodeCBOR(b []byte) (any, error) {
	var v any
	if err := cborDec.Unmarshal(b, &v); err != nil {
		var extra *cbor.ExtraneousDataError
		if errors.As(err, &extra) {
			return nil, fmt.Errorf("%w: %v", ErrTrailingData, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if err := checkDecodedTags(v, ""); err != nil {
		return nil, err
	}
	return v, nil
}

// checkDecodedTags refuses the values fxamacker/cbor makes of tags 0 and 1
// (time.Time) and 2 and 3 (big.Int) when decoding into any: they would be
// written back without their tag or in another form, so an edited document
// would silently differ from its input. Every other tag is kept as
// cbor.Tag and written back unchanged.
func checkDecodedTags(v any, path string) error {
	switch t := v.(type) {
	case map[any]any:
		for k, e := range t {
			if err := checkDecodedTags(k, path); err != nil {
				return err
			}
			if err := checkDecodedTags(e, joinPath(path, fmt.Sprint(k))); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range t {
			if err := checkDecodedTags(e, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case cbor.Tag:
		return checkDecodedTags(t.Content, path)
	case time.Time, big.Int, *big.Int:
		return fmt.Errorf("%w: %s: CBOR tags 0-3 (date/time, bignum) cannot be kept exactly", ErrNotConvertible, pathOrRoot(path))
	}
	return nil
}

func encodeCBOR(v any) ([]byte, error) { return cborEnc.Marshal(v) }

// decodeGeneric and encodeGeneric dispatch on the format.
func decodeGeneric(b []byte, f Format) (any, error) {
	switch f {
	case JSON:
		return decodeJSON(b)
	case CBOR:
		return decodeCBOR(b)
	}
	return nil, fmt.Errorf("%w: %q", ErrFormat, f)
}

func encodeGeneric(v any, f Format) ([]byte, error) {
	switch f {
	case JSON:
		return encodeJSON(v)
	case CBOR:
		return encodeCBOR(v)
	}
	return nil, fmt.Errorf("%w: %q", ErrFormat, f)
}

// toGeneric turns a typed value (struct with json and cbor tags) into the
// generic form of format f, so it can be inserted into a parsed document.
func toGeneric(v any, f Format) (any, error) {
	var b []byte
	var err error
	if f == JSON {
		b, err = json.Marshal(v)
	} else {
		b, err = cborEnc.Marshal(v)
	}
	if err != nil {
		return nil, err
	}
	return decodeGeneric(b, f)
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func pathOrRoot(p string) string {
	if p == "" {
		return "document root"
	}
	return p
}

// jsonUnmarshalStrict decodes b into v, naming the member of a type error.
func jsonUnmarshalStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return FieldError(err)
	}
	return nil
}
