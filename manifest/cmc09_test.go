package manifest

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseCMCVersion(t *testing.T) {
	for in, want := range map[string]CMCVersion{"": CMC09, "0.7": CMC07, "v0.7.2": CMC07, "0.9": CMC09, "0.9.15": CMC09} {
		if got, err := ParseCMCVersion(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"0.8", "1", "0.9.x", "0.90", "07"} {
		if _, err := ParseCMCVersion(in); !errors.Is(err, ErrCMCVersion) {
			t.Errorf("%q accepted: %v", in, err)
		}
	}
	var v CMCVersion
	if err := v.UnmarshalText([]byte("0.6")); err == nil {
		t.Error("UnmarshalText accepted 0.6")
	}
}

func TestCheckVersion(t *testing.T) {
	if err := CheckVersion("2025-01-01T00:00:00Z"); err != nil {
		t.Error(err)
	}
	for _, v := range []string{"1.0.0", "2025-01-01", ""} {
		if err := CheckVersion(v); !errors.Is(err, ErrVersion) {
			t.Errorf("%q: %v", v, err)
		}
	}
}

func TestParseExternalConnection(t *testing.T) {
	c, err := ParseExternalConnection("port=443,interface=eth0,endpoint=web")
	if err != nil || c != (ExternalConnection{Type: TypeExternalInterface, AppEndpoint: "web", Interface: "eth0", Port: 443}) {
		t.Errorf("%+v, %v", c, err)
	}
	for _, s := range []string{"10.0.0.1:443", "interface=eth0", "interface=eth0,port=70000", "interface=a,port=1,port=2", "interface=a,port=1,x=y"} {
		if _, err := ParseExternalConnection(s); !errors.Is(err, ErrField) {
			t.Errorf("%q accepted: %v", s, err)
		}
	}
}

// TestManifest09Convert: a v0.9 Manifest with an ociSpec converts JSON →
// CBOR → JSON unchanged (ociSpec keeps its text key in CBOR, as CMC's).
func TestManifest09Convert(t *testing.T) {
	j := []byte(`{"type":"Manifest","name":"m","version":"2025-01-01T00:00:00Z","validity":{"notBefore":"2025-01-01T00:00:00Z","notAfter":"2026-01-01T00:00:00Z"},` +
		`"sbom":{"bomFormat":"CycloneDX","specVersion":"1.7","version":1,"components":[{"type":"application","name":"c","hashes":[{"alg":"SHA-256","content":"0102"}],` +
		`"properties":[{"name":"cmc.ta","value":"SW"}],"ctrData":{"configSha256":"03","rootfsSha256":"0102","ociSpec":{"ociVersion":"1.2.0","process":{"cwd":"/"}}}}]}}`)
	d, err := Parse(j, JSON)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Convert(CBOR)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := c.Bytes()
	if !bytes.Contains(cb, []byte("ociSpec")) || !bytes.Contains(cb, []byte{0x42, 0x01, 0x02}) {
		t.Errorf("CBOR lacks the text key ociSpec or the byte string hash: %x", cb)
	}
	back, err := c.Convert(JSON)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := d.Bytes()
	got, _ := back.Bytes()
	if !bytes.Equal(got, want) {
		t.Errorf("round trip:\n%s\nwant\n%s", got, want)
	}
	var m Manifest
	if err := back.Decode(&m); err != nil || m.Sbom == nil || len(m.Sbom.Components) != 1 || m.Sbom.Components[0].CtrData.OciSpec.Process.Cwd != "/" {
		t.Errorf("decode: %+v %v", m, err)
	}
	if !IsComponentList([]byte(`[{"type":"application","name":"c","hashes":[]}]`)) || IsComponentList([]byte(`[{"type":"SW Reference Value","sha256":"00"}]`)) {
		t.Error("IsComponentList")
	}
}

func FuzzReadComponents(f *testing.F) {
	f.Add([]byte(`[{"type":"application","name":"c","hashes":[{"alg":"SHA-256","content":"00"}]}]`))
	f.Add([]byte(`{"name":"c","hashes":[{"alg":"sha-256","content":"zz"}],"ctrData":{"ociSpec":{"process":{}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ReadComponents(b)
		if err == nil && len(cs) == 0 {
			// An empty array is fine; nothing else to check.
			return
		}
	})
}
