package cmd

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refval/refval"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
)

// sigCLI runs refval with args and returns the exit code, stdout, stderr.
func sigCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// sigPKI writes a root and two signers (P-256 SEC 1 key, Ed25519 PKCS #8
// key) under dir and returns the root file and [key, chain] per signer.
func sigPKI(t *testing.T, dir, name string) (root string, signers [][2]string) {
	t.Helper()
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, _ := x509.ParseCertificate(rootDER)
	root = filepath.Join(dir, name+"-root.pem")
	os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), 0o644)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for i, k := range []crypto.Signer{ecKey, edKey} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: name + " signer"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, rootCert, k.Public(), rootKey)
		if err != nil {
			t.Fatal(err)
		}
		var kb *pem.Block
		if ec, ok := k.(*ecdsa.PrivateKey); ok {
			b, _ := x509.MarshalECPrivateKey(ec)
			kb = &pem.Block{Type: "EC PRIVATE KEY", Bytes: b}
		} else {
			b, _ := x509.MarshalPKCS8PrivateKey(k)
			kb = &pem.Block{Type: "PRIVATE KEY", Bytes: b}
		}
		kf := filepath.Join(dir, name+"-signer"+string(rune('0'+i))+".key")
		cf := filepath.Join(dir, name+"-signer"+string(rune('0'+i))+".pem")
		os.WriteFile(kf, pem.EncodeToMemory(kb), 0o600)
		os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		signers = append(signers, [2]string{kf, cf})
	}
	return root, signers
}

const sigRefvals = `[{"type":"TPM Reference Value","name":"web","pcr":11,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]`

func TestCLIManifestSignVerify(t *testing.T) {
	dir := t.TempDir()
	root, signers := sigPKI(t, dir, "ci")
	foreign, _ := sigPKI(t, dir, "foreign")
	m := filepath.Join(dir, "app.manifest.json")

	t.Setenv("SOURCE_DATE_EPOCH", "")
	if code, _, stderr := sigCLI(t, sigRefvals, "manifest", "create", "--cmc-version", "0.7", "--name", "web", "--version", "1", "--refvals", "-"); code != ExitUsage || !strings.Contains(stderr, "SOURCE_DATE_EPOCH") {
		t.Errorf("no validity start: exit %d %s, want usage error naming SOURCE_DATE_EPOCH", code, stderr)
	}
	t.Setenv("SOURCE_DATE_EPOCH", fmtUnix(time.Now().Add(-time.Minute)))
	var first string
	for i := 0; i < 2; i++ {
		code, out, stderr := sigCLI(t, sigRefvals, "manifest", "create", "--cmc-version", "0.7", "--name", "web", "--version", "1", "--refvals", "-", "--valid-for", "1d")
		if code != 0 {
			t.Fatalf("create: %d %s", code, stderr)
		}
		if i == 1 && out != first {
			t.Error("two runs with the same SOURCE_DATE_EPOCH differ")
		}
		first = out
	}
	os.WriteFile(m, []byte(first), 0o644)

	signed := filepath.Join(dir, "signed.json")
	code, _, stderr := sigCLI(t, "", "sign", "--in", m, "--out", signed,
		"--key", signers[0][0], "--cert", signers[0][1], "--key", signers[1][0], "--cert", signers[1][1])
	if code != 0 {
		t.Fatalf("sign: %d %s", code, stderr)
	}
	payload := filepath.Join(dir, "payload.json")
	code, out, stderr := sigCLI(t, "", "verify", "--ca", root, "--min-signatures", "2", "--payload-out", payload, signed)
	var res struct {
		Valid           bool
		ValidSignatures int
		Errors          []struct{ Code string }
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || !res.Valid || res.ValidSignatures != 2 {
		t.Fatalf("verify: exit %d, %s %s", code, out, stderr)
	}
	if b, _ := os.ReadFile(payload); string(b) != first {
		t.Error("--payload-out differs from the signed manifest")
	}

	for _, tc := range []struct {
		name string
		args []string
		code string
	}{
		{"foreign root", []string{"verify", "--ca", foreign, signed}, "untrusted-chain"},
		{"after expiry", []string{"verify", "--ca", root, "--at", fmtRFC(time.Now().Add(48 * time.Hour)), signed}, "cert-expired"},
		{"three signatures wanted", []string{"verify", "--ca", root, "--min-signatures", "3", signed}, "too-few-signatures"},
	} {
		code, out, _ := sigCLI(t, "", tc.args...)
		res.Errors = nil
		json.Unmarshal([]byte(out), &res)
		if code != ExitFailure || res.Valid || len(res.Errors) == 0 || res.Errors[0].Code != tc.code {
			t.Errorf("%s: exit %d, %s; want exit 1 with %s", tc.name, code, out, tc.code)
		}
	}

	// The cmc-signing-tool form, on the CBOR form of the manifest.
	cb := filepath.Join(dir, "app.manifest.cbor")
	if code, _, stderr := sigCLI(t, "", "convert", "--to", "cbor", m, "--out", cb); code != 0 {
		t.Fatalf("convert: %s", stderr)
	}
	legacy := filepath.Join(dir, "signed.cbor")
	code, _, stderr = sigCLI(t, "", "sign", "-in", cb, "-out", legacy,
		"-keys", signers[0][0]+","+signers[1][0], "-x5cs", signers[0][1]+":"+signers[1][1])
	if code != 0 {
		t.Fatalf("legacy sign: %d %s", code, stderr)
	}
	if code, out, _ := sigCLI(t, "", "verify", "--ca", root, "--min-signatures", "2", legacy); code != 0 || !strings.Contains(out, `"envelope": "cose"`) {
		t.Errorf("verify legacy COSE: %d %s", code, out)
	}
	if code, _, _ := sigCLI(t, "", "sign", "--in", cb, "--out", legacy, "--key", signers[0][0], "--cert", signers[1][1]); code != ExitFailure {
		t.Errorf("key/cert mismatch: exit %d, want 1", code)
	}
	// Input verify would reject is refused, and nothing is written.
	for name, in := range map[string]string{"malformed JSON": "{bad\n", "no type": `{"name":"x"}`, "signed envelope": "signed"} {
		p := filepath.Join(dir, "in.json")
		if in == "signed" {
			p = signed
		} else {
			os.WriteFile(p, []byte(in), 0o644)
		}
		out := filepath.Join(dir, "refused-"+strings.ReplaceAll(name, " ", "-")+".json")
		code, stdout, stderr := sigCLI(t, "", "sign", "--in", p, "--out", out, "--key", signers[0][0], "--cert", signers[0][1])
		if _, err := os.Stat(out); code != ExitFailure || stdout != "" || !strings.Contains(stderr, p) || !os.IsNotExist(err) {
			t.Errorf("sign %s: exit %d, stdout %q, stderr %q, output stat %v; want exit 1 naming the file, no output", name, code, stdout, stderr, err)
		}
	}
	if code, _, _ := sigCLI(t, "", "sign", "--in", cb, "--out", legacy, "--key", signers[0][0]); code != ExitUsage {
		t.Errorf("key without cert: exit %d, want 2", code)
	}
	// convert back is the original JSON
	if code, out, _ := sigCLI(t, "", "convert", "--to", "json", cb); code != 0 || out != first {
		t.Errorf("convert back: %d\n%s\nwant\n%s", code, out, first)
	}
}

func TestCLISetRefvalsAndDeviceDescription(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "t.json")
	os.WriteFile(tmpl, []byte(`{"type":"App Manifest","name":"web","version":"3","x-keep":[1],"validity":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2027-01-01T00:00:00Z"},"referenceValues":[]}`), 0o644)
	dd := filepath.Join(dir, "device.json")
	os.WriteFile(dd, []byte(`{"type":"Device Description","name":"dev","version":"1","location":"here","appDescriptions":[]}`), 0o644)
	code, out, stderr := sigCLI(t, sigRefvals, "manifest", "set-refvals", tmpl, "--device-description", dd, "--env", "A=1")
	if code != 0 {
		t.Fatalf("%d %s", code, stderr)
	}
	if !strings.Contains(out, `"x-keep"`) || !strings.Contains(out, `"pcr": 11`) {
		t.Errorf("set-refvals output:\n%s", out)
	}
	b, _ := os.ReadFile(dd)
	var got map[string]any
	json.Unmarshal(b, &got)
	ads, _ := got["appDescriptions"].([]any)
	if got["location"] != "here" || len(ads) != 1 || !strings.Contains(string(b), `"key": "A"`) {
		t.Errorf("device description:\n%s", b)
	}

	// A Device Description that cannot be updated, or App Description flags
	// without one: an error before anything is written.
	outFile := filepath.Join(dir, "out.json")
	t.Setenv("SOURCE_DATE_EPOCH", fmtUnix(time.Now()))
	for _, args := range [][]string{
		{"manifest", "set-refvals", tmpl, "--out", outFile, "--device-description", tmpl},
		{"manifest", "set-refvals", tmpl, "--out", outFile, "--device-description", filepath.Join(dir, "missing.json")},
		{"manifest", "set-refvals", tmpl, "--out", outFile, "--env", "A=1"},
		{"manifest", "create", "--cmc-version", "0.7", "--name", "web", "--version", "1", "--refvals", "-", "--out", outFile, "--device-description", tmpl},
		{"manifest", "create", "--cmc-version", "0.7", "--name", "web", "--version", "1", "--refvals", "-", "--env", "A=1"},
	} {
		code, out, stderr := sigCLI(t, sigRefvals, args...)
		if _, err := os.Stat(outFile); code == 0 || out != "" || !os.IsNotExist(err) {
			t.Errorf("%q: exit %d, stdout %q, output file %v (%s); want an error and nothing written", args, code, out, err, stderr)
		}
	}
}

func TestCLIGenerate(t *testing.T) {
	dir := t.TempDir()
	root, signers := sigPKI(t, dir, "gen")
	old := imageMeasurer
	t.Cleanup(func() { imageMeasurer = old })
	imageMeasurer = func([]oci.Option) refval.MeasureFunc { return fakeMeasure }
	tmpl := filepath.Join(dir, "app.manifest.json")
	os.WriteFile(tmpl, []byte(`{"type":"App Manifest","name":"x","version":"1","developerCommonName":"gen signer","referenceValues":[]}`), 0o644)
	outDir := filepath.Join(dir, "out")
	// The template has no validity and no flag gives one: refused up front.
	t.Setenv("SOURCE_DATE_EPOCH", fmtUnix(time.Now()))
	if code, out, stderr := sigCLI(t, "", "generate", "--cmc-version", "0.7", "oci:/layout:web", "--template", tmpl, "--key", signers[0][0], "--cert", signers[0][1], "--out", outDir); code != ExitFailure || out != "" || !strings.Contains(stderr, tmpl) || !strings.Contains(stderr, "--valid-for") {
		t.Errorf("no validity: exit %d, stdout %q, stderr %q; want exit 1 naming the template and --valid-for", code, out, stderr)
	}
	if _, err := os.Stat(outDir); !os.IsNotExist(err) {
		t.Errorf("no validity: output directory created (%v)", err)
	}
	code, out, stderr := sigCLI(t, "", "generate", "--cmc-version", "0.7", "oci:/layout:web", "oci:/layout:broken", "--template", tmpl,
		"--key", signers[0][0], "--cert", signers[0][1], "--out", outDir, "--not-before", fmtRFC(time.Now().Add(-time.Minute)), "--valid-for", "1d")
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1 (one image failed): %s", code, stderr)
	}
	var sum []refval.GenerateResult
	if err := json.Unmarshal([]byte(out), &sum); err != nil || len(sum) != 2 {
		t.Fatalf("summary: %v\n%s", err, out)
	}
	if sum[0].Name != "web" || sum[0].Error != "" || sum[0].ImageDigest == "" || sum[1].Error == "" || sum[1].Output != "" {
		t.Errorf("summary: %+v", sum)
	}
	if code, vout, _ := sigCLI(t, "", "verify", "--ca", root, sum[0].Output); code != 0 {
		t.Errorf("generated manifest does not verify: %s", vout)
	}
	if _, err := os.Stat(filepath.Join(outDir, "broken.manifest.json")); !os.IsNotExist(err) {
		t.Error("a manifest was written for the failed image")
	}

	batch := filepath.Join(dir, "batch.json")
	os.WriteFile(batch, []byte(`{"images":[{"image":"oci:/layout:web","name":"front","driver":"tpm","env":["A=1"]}]}`), 0o644)
	code, out, stderr = sigCLI(t, "", "generate", "--cmc-version", "0.7", "--batch", batch, "--template", tmpl, "--format", "cbor",
		"--key", signers[1][0], "--cert", signers[1][1], "--out", outDir, "--not-before", fmtRFC(time.Now().Add(-time.Minute)))
	if code != 0 || !strings.Contains(out, "front.manifest.cbor") {
		t.Fatalf("batch: %d %s %s", code, out, stderr)
	}
	if code, vout, _ := sigCLI(t, "", "verify", "--ca", root, filepath.Join(outDir, "front.manifest.cbor")); code != 0 {
		t.Errorf("generated COSE manifest does not verify: %s", vout)
	}
	os.WriteFile(batch, []byte(`{"images":[{"image":"x","nmae":"typo"}]}`), 0o644)
	if code, _, stderr := sigCLI(t, "", "generate", "--cmc-version", "0.7", "--batch", batch, "--template", tmpl, "--key", signers[1][0], "--cert", signers[1][1], "--out", outDir); code != ExitUsage || !strings.Contains(stderr, "nmae") {
		t.Errorf("misspelt batch member: exit %d %s", code, stderr)
	}
}

// fakeMeasure stands in for package oci: images whose reference contains
// "broken" fail, the others get a fixed reference value.
func fakeMeasure(_ context.Context, ref string, o refval.RunOptions) (manifest.ReferenceValue, refval.ImageInfo, error) {
	if strings.Contains(ref, "broken") {
		return manifest.ReferenceValue{}, refval.ImageInfo{}, errors.New("corrupted blob")
	}
	return manifest.ReferenceValue{Type: manifest.TypeSW, Name: o.Name, Sha256: bytes.Repeat([]byte{7}, 32)},
		refval.ImageInfo{Reference: ref, Digest: "sha256:" + strings.Repeat("ab", 32)}, nil
}

func fmtRFC(t time.Time) string { return t.UTC().Format(time.RFC3339) }
func fmtUnix(t time.Time) string {
	return strings.TrimSpace(big.NewInt(t.Unix()).String())
}
