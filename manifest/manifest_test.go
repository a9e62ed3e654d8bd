package manifest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The golden files are written by testdata/golden.py, an independent
// encoder (Python's json module and a hand-written RFC 8949 core
// deterministic CBOR encoder), never by this package.
func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustHex(s string) HexBytes {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func goldenOptions() CreateOptions {
	pcr := 11
	return CreateOptions{
		Name: "web", Version: "1.2.0", DeveloperCommonName: "ACME CI <ci@example.com>",
		Oss: []string{"Ubuntu 24.04"}, Description: "web front end", CertificationLevel: 1,
		Validity: Validity{NotBefore: "2026-01-01T00:00:00Z", NotAfter: "2027-01-01T00:00:00Z"},
		ReferenceValues: []ReferenceValue{
			{Type: TypeTPM, Name: "web", Pcr: &pcr,
				Sha256: mustHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
				CtrData: &CtrData{
					ConfigSha256: mustHex("2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"),
					RootfsSha256: mustHex("fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"),
				}},
			{Type: TypeSW, Name: "web-sw", Optional: true, Description: "list driver",
				Sha384: mustHex("38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b")},
		},
	}
}

func TestCreateGolden(t *testing.T) {
	for _, tc := range []struct {
		f    Format
		file string
	}{{JSON, "app.manifest.json"}, {CBOR, "app.manifest.cbor"}} {
		t.Run(string(tc.f), func(t *testing.T) {
			d, err := Create(goldenOptions(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if want := golden(t, tc.file); !bytes.Equal(got, want) {
				t.Errorf("bytes differ from testdata/%s\ngot  %x\nwant %x", tc.file, got, want)
			}
		})
	}
}

// TestConvertGolden converts each golden file into the other encoding and
// back: both directions must give the other golden file byte for byte.
func TestConvertGolden(t *testing.T) {
	pairs := [][2]string{
		{"app.manifest.json", "app.manifest.cbor"},
		{"app.description.json", "app.description.cbor"},
		{"device.description.json", "device.description.conv.cbor"},
	}
	for _, p := range pairs {
		j, c := golden(t, p[0]), golden(t, p[1])
		for _, dir := range []struct {
			in, want []byte
			to       Format
		}{{j, c, CBOR}, {c, j, JSON}} {
			d, err := Parse(dir.in, "")
			if err != nil {
				t.Fatal(err)
			}
			cd, err := d.Convert(dir.to)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := cd.Bytes()
			if !bytes.Equal(got, dir.want) {
				t.Errorf("%s → %s: got %q\nwant %q", p[0], dir.to, got, dir.want)
			}
		}
	}
}

func TestDeviceDescriptionEditKeepsUnknownMembers(t *testing.T) {
	env, _ := ParseEnv([]string{"MODE=prod", "A=x=y"})
	for _, tc := range []struct{ in, want string }{
		{"device.description.json", "device.description.put.json"},
		{"device.description.cbor", "device.description.put.cbor"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			b := golden(t, tc.in)
			// update the existing entry (keeps version, externalConnections
			// and unknown members; replaces environment) ...
			b, replaced, err := UpdateDeviceDescription(b, AppDescription{Name: "web", AppManifest: "web", Environment: env})
			if err != nil || !replaced {
				t.Fatalf("update web: replaced=%v err=%v", replaced, err)
			}
			// ... and add a new one.
			b, replaced, err = UpdateDeviceDescription(b, AppDescription{Name: "web2", AppManifest: "web2"})
			if err != nil || replaced {
				t.Fatalf("add web2: replaced=%v err=%v", replaced, err)
			}
			if want := golden(t, tc.want); !bytes.Equal(b, want) {
				t.Errorf("got\n%x\nwant\n%x", b, want)
			}
		})
	}
}

func TestSetReferenceValuesKeepsTemplate(t *testing.T) {
	tmpl := []byte(`{"type":"App Manifest","name":"web","version":"1","x-team":{"owner":"ops","n":1.50},
	 "validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2026-02-01T00:00:00Z"},"referenceValues":[{"type":"SW Reference Value","sha256":"00"}]}`)
	d, err := Parse(tmpl, "")
	if err != nil {
		t.Fatal(err)
	}
	rv := ReferenceValue{Type: TypeSW, Name: "web", Sha256: bytes.Repeat([]byte{1}, 32)}
	if err := d.SetReferenceValues([]ReferenceValue{rv}); err != nil {
		t.Fatal(err)
	}
	got, _ := d.Bytes()
	want := `{
  "name": "web",
  "referenceValues": [
    {
      "name": "web",
      "sha256": "` + strings.Repeat("01", 32) + `",
      "type": "SW Reference Value"
    }
  ],
  "type": "App Manifest",
  "validity": {
    "notAfter": "2026-02-01T00:00:00Z",
    "notBefore": "2026-01-01T00:00:00Z"
  },
  "version": "1",
  "x-team": {
    "n": 1.50,
    "owner": "ops"
  }
}
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestConvertRoundTripEveryField: JSON → CBOR → JSON is the identity for a
// document using every known member and unknown members of each JSON type.
func TestConvertRoundTripEveryField(t *testing.T) {
	j := golden(t, "app.manifest.json")
	// add unknown members of every kind at several depths
	d, _ := Parse(j, JSON)
	root := d.root.(map[string]any)
	root["x-num"] = mustNumber("-12")
	root["x-float"] = mustNumber("1.0")
	root["x-big"] = mustNumber("18446744073709551615")
	root["x-list"] = []any{"a", true, false, nil, map[string]any{"7": "int key", "k": mustNumber("3.25e-7")}}
	root["referenceValues"].([]any)[0].(map[string]any)["x-rv"] = "kept"
	root["validity"].(map[string]any)["x-v"] = mustNumber("0")
	j, _ = d.Bytes()

	c, err := d.Convert(CBOR)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := c.Bytes()
	c2, err := Parse(cb, CBOR)
	if err != nil {
		t.Fatal(err)
	}
	back, err := c2.Convert(JSON)
	if err != nil {
		t.Fatal(err)
	}
	jb, _ := back.Bytes()
	if diff := cmp.Diff(string(j), string(jb)); diff != "" {
		t.Errorf("round trip changed the document (-before +after)\n%s", diff)
	}
	// and CBOR → JSON → CBOR
	j2, _ := Parse(jb, JSON)
	c3, err := j2.Convert(CBOR)
	if err != nil {
		t.Fatal(err)
	}
	cb3, _ := c3.Bytes()
	if !bytes.Equal(cb, cb3) {
		t.Errorf("CBOR → JSON → CBOR changed the bytes\n%x\n%x", cb, cb3)
	}
}

func TestConvertRefusesLossyValues(t *testing.T) {
	dd := golden(t, "device.description.cbor") // holds a byte string and a tag under unknown keys
	d, err := Parse(dd, CBOR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Convert(JSON); !errors.Is(err, ErrNotConvertible) {
		t.Errorf("err = %v, want ErrNotConvertible", err)
	}
	for _, in := range []string{
		`{"type":"App Manifest","name":"a","8":"collides with referenceValues","referenceValues":[]}`,
		`{"type":"App Manifest","x":-0}`,
		`{"type":"App Manifest","x":99999999999999999999}`,
	} {
		d, err := Parse([]byte(in), JSON)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Convert(CBOR); !errors.Is(err, ErrNotConvertible) {
			t.Errorf("%s: err = %v, want ErrNotConvertible", in, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     error
		field    string
	}{
		{"trailing JSON", `{"type":"App Manifest"} {}`, ErrTrailingData, ""},
		{"trailing JSON garbage", `{"type":"App Manifest"}x`, ErrTrailingData, ""},
		{"duplicate key", `{"type":"App Manifest","name":"a","name":"b"}`, ErrSyntax, "name"},
		{"not an object", `["App Manifest"]`, ErrField, ""},
		{"unknown type", `{"type":"Company Description"}`, ErrUnknownType, ""},
		{"no type", `{"name":"x"}`, ErrUnknownType, ""},
		{"truncated", `{"type":"App Manifest","name":`, ErrSyntax, ""},
		{"trailing CBOR", "\xa1\x00\x6cApp Manifest\x00", ErrTrailingData, ""},
		{"truncated CBOR", "\xa2\x00\x6cApp Manifest", ErrSyntax, ""},
		{"duplicate CBOR key", "\xa2\x00\x6cApp Manifest\x00\x61x", ErrSyntax, ""},
		{"time tag", "\xa2\x00\x6cApp Manifest\x18\x64\xc1\x1a\x69\x55\xb9\x00", ErrNotConvertible, ""},
		{"bignum tag", "\xa2\x00\x6cApp Manifest\x18\x64\xc2\x41\x01", ErrNotConvertible, ""},
		{"CBOR undefined", "\xa2\x00\x6cApp Manifest\x18\x63\xf7", ErrSyntax, ""},
		{"CBOR NaN", "\xa2\x00\x6cApp Manifest\x18\x63\xf9\x7e\x01", ErrSyntax, ""},
		{"invalid UTF-8", "{\"type\":\"App Manifest\",\"x\":\"\xff\"}", ErrSyntax, ""},
		{"deep JSON", `{"type":"App Manifest","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, ErrSyntax, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), "")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.field != "" && !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %q", err, tc.field)
			}
		})
	}
}

func TestDecodeNamesWrongTypedField(t *testing.T) {
	for _, tc := range []struct{ in, field string }{
		{`{"type":"App Manifest","name":"a","version":"1","validity":{"notBefore":7,"notAfter":"x"},"referenceValues":[]}`, "validity.notBefore"},
		{`{"type":"App Manifest","name":"a","version":"1","certificationLevel":"high"}`, "certificationLevel"},
		{`{"type":"App Manifest","referenceValues":[{"type":"SW Reference Value","sha256":"zz"}]}`, "referenceValues[0].sha256"},
		{`{"type":"App Manifest","referenceValues":{}}`, "referenceValues"},
	} {
		d, err := Parse([]byte(tc.in), JSON)
		if err == nil {
			var m AppManifest
			err = d.Decode(&m)
		}
		if !errors.Is(err, ErrField) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: err = %v, want ErrField naming %s", tc.in, err, tc.field)
		}
	}
}

func TestReadReferenceValues(t *testing.T) {
	good := `[{"type":"TPM Reference Value","name":"web","pcr":11,"sha256":"` + strings.Repeat("ab", 32) + `"}]`
	rvs, err := ReadReferenceValues([]byte(good))
	if err != nil || len(rvs) != 1 || *rvs[0].Pcr != 11 || rvs[0].Name != "web" {
		t.Fatalf("%+v %v", rvs, err)
	}
	for _, bad := range []struct{ in, field string }{
		{`[{"type":"TPM Reference Value","sha256":"ab"}]`, "sha256"},
		{`[{"type":"Other","sha256":"` + strings.Repeat("ab", 32) + `"}]`, "type"},
		{`[{"type":"SW Reference Value","sha256":"` + strings.Repeat("ab", 32) + `","pcr":"11"}]`, "pcr"},
		{`[{"type":"SW Reference Value","sha256":"` + strings.Repeat("ab", 32) + `","extra":1}]`, "extra"},
		{`[{"type":"SW Reference Value"}]`, "sha256"},
		{`[{"type":"SW Reference Value","sha256":"` + strings.Repeat("ab", 32) + `","ctrData":{"configSha256":"00","rootfsSha256":"00"}}]`, "configSha256"},
		{good + "x", "after"},
	} {
		if _, err := ReadReferenceValues([]byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.field) {
			t.Errorf("%s: err = %v, want one naming %s", bad.in, err, bad.field)
		}
	}
}

func TestValidity(t *testing.T) {
	nb := time.Date(2026, 3, 1, 12, 30, 15, 999, time.FixedZone("CET", 3600))
	d, _ := ParseDuration("365d")
	v, err := NewValidity(nb, time.Time{}, d)
	if err != nil {
		t.Fatal(err)
	}
	// 2026 is not a leap year: 365 days later is the same date in 2027.
	want := Validity{NotBefore: "2026-03-01T11:30:15Z", NotAfter: "2027-03-01T11:30:15Z"}
	if v != want {
		t.Errorf("got %+v, want %+v", v, want)
	}
	if _, err := NewValidity(time.Time{}, time.Time{}, d); !errors.Is(err, ErrNoTime) {
		t.Errorf("no start: err = %v, want ErrNoTime", err)
	}
	if _, err := NewValidity(nb, nb.Add(-time.Hour), 0); !errors.Is(err, ErrField) {
		t.Errorf("end before start: err = %v", err)
	}
	for _, s := range []string{"0d", "-1d", "d", "1y", "0s"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) accepted", s)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	sde, err := SourceDateEpoch()
	if err != nil || !sde.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("SOURCE_DATE_EPOCH: %v %v", sde, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "soon")
	if _, err := SourceDateEpoch(); err == nil {
		t.Error("SOURCE_DATE_EPOCH=soon accepted")
	}
}

func TestCreateIsDeterministic(t *testing.T) {
	a, _ := Create(goldenOptions(), CBOR)
	b, _ := Create(goldenOptions(), CBOR)
	ab, _ := a.Bytes()
	bb, _ := b.Bytes()
	if !bytes.Equal(ab, bb) {
		t.Error("equal inputs gave different bytes")
	}
	o := goldenOptions()
	o.Validity = Validity{}
	if _, err := Create(o, JSON); err == nil {
		t.Error("manifest without validity created")
	}
}

func mustNumber(s string) any {
	v, err := decodeJSON([]byte(s))
	if err != nil {
		panic(err)
	}
	return v
}

func TestValidityWindow(t *testing.T) {
	for _, tc := range []struct {
		in   string
		f    Format
		want string // notAfter, or "" for an error
	}{
		{`{"type":"App Manifest","validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2026-02-01T00:00:00Z"}}`, JSON, "2026-02-01T00:00:00Z"},
		{`{"type":"Device Description","validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2026-03-01T00:00:00+01:00"}}`, JSON, "2026-02-28T23:00:00Z"},
		{`{"type":"App Manifest"}`, JSON, ""},
		{`{"type":"App Manifest","validity":{"notBefore":"2026-01-01T00:00:00Z"}}`, JSON, ""},
		{`{"type":"App Manifest","validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2025-01-01T00:00:00Z"}}`, JSON, ""},
		{`{"type":"App Manifest","validity":{"notBefore":"2026-01-01","notAfter":"2027-01-01T00:00:00Z"}}`, JSON, ""},
		// CBOR App Manifest with a byte string under an unknown key: the
		// window is still readable.
		{"\xa3\x00\x6cApp Manifest\x07\xa2\x00\x742026-01-01T00:00:00Z\x01\x742026-02-01T00:00:00Z\x18\x63\x41\x00", CBOR, "2026-02-01T00:00:00Z"},
	} {
		d, err := Parse([]byte(tc.in), tc.f)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		_, na, err := d.ValidityWindow()
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q: no error", tc.in)
		case tc.want != "" && (err != nil || na.UTC().Format(time.RFC3339) != tc.want):
			t.Errorf("%q: %v %v, want %s", tc.in, na, err, tc.want)
		}
	}
}
