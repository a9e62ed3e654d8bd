package bundle

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
)

// FuzzNormalizeConfigV1: never panics; what it accepts becomes valid JSON
// that is already normal (normalising it again changes nothing).
func FuzzNormalizeConfigV1(f *testing.F) {
	for _, p := range []string{"testdata/vectors/worked-example.config.json", "testdata/vectors/every-kind.config.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "abc123")
		}
	}
	f.Add([]byte(`{"process":{"env":["b","a"]},"linux":{"namespaces":[{"path":"x"}]}}`), "")
	f.Add([]byte(`{"a":[1e5,-0,1.5e-7,123456789012345678901234567890]}`), "a")
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		norm, err := NormalizeConfigV1(raw, id)
		if err != nil {
			return
		}
		if !json.Valid(norm) {
			t.Fatalf("not valid JSON: %q", norm)
		}
		again, err := NormalizeConfigV1(norm, "")
		if err != nil {
			t.Fatalf("normal form rejected: %v\n%s", err, norm)
		}
		if !bytes.Equal(again, norm) {
			t.Fatalf("not idempotent:\n%s\n%s", norm, again)
		}
	})
}

// FuzzHashConfigCMC: the cmc scheme never panics on any input.
func FuzzHashConfigCMC(f *testing.F) {
	f.Add([]byte(`{"hooks":{"prestart":[{"path":"/x","args":["aabbccddeeff"]}]},"process":{"env":["b"]}}`), "id")
	f.Add([]byte(`{"process":null,"mounts":[{"source":"b"},{"source":"a"}]}`), "")
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		HashConfig(raw, WithScheme(SchemeCMC), WithContainerID(id))
	})
}

// FuzzRecordEncoding: the binary encoding is injective (different records
// never share bytes) and the JSON form round-trips.
func FuzzRecordEncoding(f *testing.F) {
	f.Add("/a", uint8(2), uint32(0o644), uint32(0), "", []byte{}, "/a", uint8(2), uint32(0o644), uint32(0), "x", []byte{1})
	f.Add("/a", uint8(3), uint32(0), uint32(0), "b", []byte{}, "/ab", uint8(3), uint32(0), uint32(0), "", []byte{})
	f.Fuzz(func(t *testing.T, p1 string, t1 uint8, m1, u1 uint32, s1 string, c1 []byte, p2 string, t2 uint8, m2, u2 uint32, s2 string, c2 []byte) {
		mk := func(p string, typ uint8, m, u uint32, s string, c []byte) Record {
			r := Record{Path: p, Type: EntryType(typ%8 + 1), Mode: m & PermMask, UID: u, GID: u / 3, Capability: c}
			if len(c) == 0 {
				r.Capability = nil
			}
			switch r.Type {
			case TypeFile:
				copy(r.Sha256[:], s)
			case TypeSymlink:
				r.Target = s
			case TypeChar, TypeBlock:
				r.DevMajor, r.DevMinor = uint32(len(s)), m
			}
			return r
		}
		a, b := mk(p1, t1, m1, u1, s1, c1), mk(p2, t2, m2, u2, s2, c2)
		ea, errA := a.AppendBinary(nil)
		eb, errB := b.AppendBinary(nil)
		if (errA == nil) != (a.Type <= TypeSocket) || (errB == nil) != (b.Type <= TypeSocket) {
			t.Fatalf("unexpected error state: %v %v", errA, errB)
		}
		if errA != nil || errB != nil {
			return
		}
		same := a.Path == b.Path && a.Type == b.Type && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID &&
			a.Sha256 == b.Sha256 && a.Target == b.Target && a.DevMajor == b.DevMajor && a.DevMinor == b.DevMinor &&
			bytes.Equal(a.Capability, b.Capability)
		if bytes.Equal(ea, eb) != same {
			t.Fatalf("encoding equal = %v, records equal = %v:\n%+v\n%+v", bytes.Equal(ea, eb), same, a, b)
		}
		js, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		eback, _ := back.AppendBinary(nil)
		if !bytes.Equal(ea, eback) {
			t.Fatalf("JSON round trip changed the record: %s", js)
		}
	})
}

// FuzzParseRootlessXattr: never panics on any attribute value.
func FuzzParseRootlessXattr(f *testing.F) {
	f.Add([]byte("\x08\xe8\x07\x10\xe8\x07"))
	f.Add([]byte("\x10\x05"))
	f.Add([]byte("\x1a\x02ab\x08\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseRootlessXattr(b)
	})
}

// FuzzFormatES6: every finite double formats to a string that parses back
// to the same double (RFC 8785 requires round-trip digits).
func FuzzFormatES6(f *testing.F) {
	for _, v := range rfc8785Numbers {
		b := make([]byte, 8)
		for i := 0; i < 8; i++ {
			n, _ := strconv.ParseUint(v.bits[2*i:2*i+2], 16, 8)
			b[i] = byte(n)
		}
		f.Add(binary.BigEndian.Uint64(b))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		x := math.Float64frombits(bits)
		s, err := formatES6(x)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if err == nil {
				t.Fatal("non-finite accepted")
			}
			return
		}
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || (back != x && !(x == 0 && back == 0)) {
			t.Fatalf("%v -> %q -> %v, %v", x, s, back, err)
		}
	})
}
