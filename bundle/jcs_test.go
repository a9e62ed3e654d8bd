package bundle

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Number vectors of RFC 8785 Appendix B (IEEE-754 bit patterns and the
// serialisations the RFC prescribes).
var rfc8785Numbers = []struct{ bits, want string }{
	{"0000000000000000", "0"},
	{"8000000000000000", "0"},
	{"0000000000000001", "5e-324"},
	{"8000000000000001", "-5e-324"},
	{"7fefffffffffffff", "1.7976931348623157e+308"},
	{"ffefffffffffffff", "-1.7976931348623157e+308"},
	{"4340000000000000", "9007199254740992"},
	{"c340000000000000", "-9007199254740992"},
	{"4430000000000000", "295147905179352830000"},
	{"44b52d02c7e14af5", "9.999999999999997e+22"},
	{"44b52d02c7e14af6", "1e+23"},
	{"44b52d02c7e14af7", "1.0000000000000001e+23"},
	{"444b1ae4d6e2ef4e", "999999999999999700000"},
	{"444b1ae4d6e2ef4f", "999999999999999900000"},
	{"444b1ae4d6e2ef50", "1e+21"},
	{"3eb0c6f7a0b5ed8c", "9.999999999999997e-7"},
	{"3eb0c6f7a0b5ed8d", "0.000001"},
	{"41b3de4355555553", "333333333.3333332"},
	{"41b3de4355555554", "333333333.33333325"},
	{"41b3de4355555555", "333333333.3333333"},
	{"41b3de4355555556", "333333333.3333334"},
	{"41b3de4355555557", "333333333.33333343"},
	{"becbf647612f3696", "-0.0000033333333333333333"},
	{"43143ff3c1cb0959", "1424953923781206.2"},
}

func TestFormatES6RFC8785(t *testing.T) {
	for _, tc := range rfc8785Numbers {
		b, _ := hex.DecodeString(tc.bits)
		f := math.Float64frombits(binary.BigEndian.Uint64(b))
		got, err := formatES6(f)
		if err != nil || got != tc.want {
			t.Errorf("formatES6(%s) = %q, %v; want %q", tc.bits, got, err, tc.want)
		}
	}
}

func TestCanonicalJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			// RFC 8785 §3.2.3, the complete example.
			name: "rfc8785-example",
			in: `{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			want: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{
			// RFC 8785 §3.2.3 sorting example: UTF-16 code unit order.
			name: "rfc8785-sorting",
			in:   `{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
			want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{
			// refval-v1 refinement: integer literals are copied exactly.
			name: "big-integers",
			in:   `[9223372036854775807, 18446744073709551615, -0, 12345678901234567890, 1e2, 100]`,
			want: `[9223372036854775807,18446744073709551615,0,12345678901234567890,100,100]`,
		},
		{
			name: "controls-and-unicode",
			in:   "[\"\\u0000\\u001f\\u007f\\u2028</>&\"]",
			want: "[\"\\u0000\\u001f\u007f\u2028</>&\"]",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decodeJSON([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := canonicalJSON(v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("canonical form (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCanonicalJSONErrors(t *testing.T) {
	for _, in := range []string{`[1e400]`, `[-1e400]`} {
		v, err := decodeJSON([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := canonicalJSON(v); err == nil {
			t.Errorf("canonicalJSON(%s): no error for a number beyond float64", in)
		}
	}
	for _, in := range []string{``, `{`, `{} {}`, `{}x`, `[1,]`} {
		if _, err := decodeJSON([]byte(in)); err == nil {
			t.Errorf("decodeJSON(%q): no error", in)
		}
	}
}

func TestDuplicateKeys(t *testing.T) {
	bad := map[string]string{
		`{"a":1,"a":2}`:                          `duplicate member "a" in the top-level object`,
		`{"a":1,"\u0061":2}`:                     `duplicate member "a" in the top-level object`,
		`{"p":{"x":[{"k":1,"k":1}]}}`:            `duplicate member "k" in p.x[]`,
		`{"p":{"c":{"b":[]}},"q":1,"p":{"a":1}}`: `duplicate member "p" in the top-level object`,
	}
	for in, msg := range bad {
		_, err := decodeJSON([]byte(in))
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("decodeJSON(%s) = %v; want an error containing %q", in, err, msg)
		}
	}
	for _, in := range []string{`{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}],"A":3}`, `[{"x":1},{"x":1}]`, `{}`, `"a"`, `{"a":[],"b":{},"c":[[{"a":1}]]}`} {
		if _, err := decodeJSON([]byte(in)); err != nil {
			t.Errorf("decodeJSON(%s): %v", in, err)
		}
	}
}

// TestDuplicateMemberHidesFromGenericView shows why duplicates are refused:
// runc decodes config.json into the runtime-spec structs, where a repeated
// "process" merges into one Process (the capabilities of the first stay),
// while a generic decoding keeps only the last object.
func TestDuplicateMemberHidesFromGenericView(t *testing.T) {
	cfg := `{"ociVersion":"1.0.2","process":{"capabilities":{"bounding":["CAP_SYS_ADMIN"]},"args":["x"],"cwd":"/"},"process":{"args":["sh"],"cwd":"/"}}`
	var s specs.Spec
	if err := json.Unmarshal([]byte(cfg), &s); err != nil {
		t.Fatal(err)
	}
	if s.Process == nil || s.Process.Capabilities == nil || len(s.Process.Capabilities.Bounding) != 1 {
		t.Fatalf("encoding/json no longer merges repeated members (%+v): revisit checkDuplicateKeys", s.Process)
	}
	var generic map[string]any
	json.Unmarshal([]byte(cfg), &generic)
	if _, has := generic["process"].(map[string]any)["capabilities"]; has {
		t.Fatal("generic decoding kept the first member")
	}
	_, _, err := HashConfig([]byte(cfg))
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `duplicate member "process"`) {
		t.Errorf("HashConfig = %v; want ErrInvalidConfig naming the duplicate", err)
	}
}
