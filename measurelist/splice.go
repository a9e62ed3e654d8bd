package measurelist

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// splicer is a Codec that can add an entry to a list it encoded without
// decoding it: splice(old, n, e) returns Encode(append(l, e)) for the
// list l of n ≥ 1 entries whose encoding is old, by inserting the new
// entry's encoding at the end of the entries array. It relies on what
// Encode's output is, exactly: json.MarshalIndent (an element of the
// array at depth d is MarshalIndent of the element with the prefix of
// depth d, separated by ",\n" and that prefix), and deterministic CBOR
// (definite-length heads of the shortest form; Artifact's events, key 2,
// sort last). indexKey names the codec in the index.
type splicer interface {
	indexKey() string
	splice(old []byte, n int, e Entry) ([]byte, error)
}

// errNoSplice: the list's bytes are not shaped as Encode writes them; the
// caller takes the full path.
var errNoSplice = errors.New("list not spliceable")

func (f Format) indexKey() string { return "v0.7/" + string(f) }

func (a Artifact) indexKey() string { return fmt.Sprintf("v0.9/%s/%d", a.Format, a.Index) }

// The ends of an indented list of at least one entry: Format's array, and
// the Artifact's events array (its last member) with the object.
const (
	jsonTail07 = "\n]\n"
	jsonTail09 = "\n  ]\n}\n"
)

func (f Format) splice(old []byte, n int, e Entry) ([]byte, error) {
	if n < 1 {
		return nil, errNoSplice
	}
	switch f {
	case JSON:
		ev, err := json.MarshalIndent(toWire(e), "  ", "  ")
		if err != nil {
			return nil, err
		}
		return spliceJSON(old, jsonTail07, "  ", ev)
	case CBOR:
		ev, err := cborEnc.Marshal(toWire(e))
		if err != nil {
			return nil, err
		}
		return spliceCBOR(old, 0, n, ev)
	}
	return nil, f.Validate()
}

func (a Artifact) splice(old []byte, n int, e Entry) ([]byte, error) {
	if n < 1 {
		return nil, errNoSplice
	}
	ev, err := Event(e, a.Index)
	if err != nil {
		return nil, err
	}
	switch a.Format {
	case JSON:
		b, err := json.MarshalIndent(ev, "    ", "  ")
		if err != nil {
			return nil, err
		}
		return spliceJSON(old, jsonTail09, "    ", b)
	case CBOR:
		off, err := eventsHead(old)
		if err != nil {
			return nil, err
		}
		b, err := cborEnc.Marshal(ev)
		if err != nil {
			return nil, err
		}
		return spliceCBOR(old, off, n, b)
	}
	return nil, a.Format.Validate()
}

// spliceJSON inserts element ev (indented with prefix) before tail, the
// end of old that closes its last array.
func spliceJSON(old []byte, tail, prefix string, ev []byte) ([]byte, error) {
	if !bytes.HasSuffix(old, []byte(tail)) {
		return nil, errNoSplice
	}
	at := len(old) - len(tail)
	out := make([]byte, 0, len(old)+2+len(prefix)+len(ev))
	out = append(out, old[:at]...)
	out = append(out, ",\n"...)
	out = append(out, prefix...)
	out = append(out, ev...)
	return append(out, tail...), nil
}

// spliceCBOR rewrites the head of the n-element array at off, which ends
// where old ends, for n+1 elements and appends ev.
func spliceCBOR(old []byte, off, n int, ev []byte) ([]byte, error) {
	major, v, next, ok := cborHead(old, off)
	if !ok || major != 4 || v != uint64(n) {
		return nil, errNoSplice
	}
	out := make([]byte, 0, len(old)+len(ev)+8)
	out = append(out, old[:off]...)
	out = appendCBORHead(out, 4, uint64(n)+1)
	out = append(out, old[next:]...)
	return append(out, ev...), nil
}

// eventsHead returns the offset of the events array's head in a CBOR
// Artifact as Encode writes it with events: map(3) {0: text, 1: int,
// 2: array}.
func eventsHead(b []byte) (int, error) {
	major, v, off, ok := cborHead(b, 0)
	if !ok || major != 5 || v != 3 {
		return 0, errNoSplice
	}
	for _, want := range []struct{ key, major uint64 }{{0, 3}, {1, 0}} {
		if major, v, off, ok = cborHead(b, off); !ok || major != 0 || v != want.key {
			return 0, errNoSplice
		}
		if major, v, off, ok = cborHead(b, off); !ok {
			return 0, errNoSplice
		}
		switch {
		case want.major == 3 && major == 3 && v <= uint64(len(b)-off):
			off += int(v)
		case want.major == 0 && (major == 0 || major == 1):
		default:
			return 0, errNoSplice
		}
	}
	if major, v, off, ok = cborHead(b, off); !ok || major != 0 || v != 2 {
		return 0, errNoSplice
	}
	return off, nil
}

// cborHead reads the definite-length head of a data item at off: major
// type, argument, offset after the head.
func cborHead(b []byte, off int) (major byte, v uint64, next int, ok bool) {
	if off < 0 || off >= len(b) {
		return 0, 0, 0, false
	}
	major, ai := b[off]>>5, b[off]&0x1f
	off++
	var size int
	switch {
	case ai < 24:
		return major, uint64(ai), off, true
	case ai == 24:
		size = 1
	case ai == 25:
		size = 2
	case ai == 26:
		size = 4
	case ai == 27:
		size = 8
	default:
		return 0, 0, 0, false
	}
	if len(b)-off < size {
		return 0, 0, 0, false
	}
	for _, c := range b[off : off+size] {
		v = v<<8 | uint64(c)
	}
	return major, v, off + size, true
}

// appendCBORHead appends the shortest head of major type major with
// argument v (RFC 8949 §4.2.1: the size changes at 24, 256, 65536, 2³²).
func appendCBORHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v < 1<<8:
		return append(b, m|24, byte(v))
	case v < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(v))
	case v < 1<<32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), v)
}
