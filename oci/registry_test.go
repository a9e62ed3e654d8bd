package oci

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/bundle"
	ti "github.com/refval/refval/internal/testimage"
)

// needTool returns the path of a Debian tool the real-part tests use:
// missing, they fail in CI (scripts/deps.sh installs them) and skip
// elsewhere.
func needTool(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("service test (-short)")
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (scripts/deps.sh installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

type registry struct {
	host       string // 127.0.0.1:PORT
	user, pass string
}

// startRegistry runs Debian's docker-registry (the distribution registry)
// on a free loopback port, plain HTTP, with an htpasswd user when auth is
// set; the process is stopped when the test ends.
func startRegistry(t *testing.T, auth bool) *registry {
	return startRegistryTLS(t, auth, "")
}

// startRegistryTLS is startRegistry serving HTTPS with the certificate
// and key in certDir (server.crt, server.key) when certDir is set.
func startRegistryTLS(t *testing.T, auth bool, certDir string) *registry {
	t.Helper()
	bin := needTool(t, "docker-registry")
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	r := &registry{host: host}
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), host)
	if certDir != "" {
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", filepath.Join(certDir, "server.crt"), filepath.Join(certDir, "server.key"))
	}
	if auth {
		htpasswd := needTool(t, "htpasswd")
		r.user, r.pass = "refval", "s3cret-pass"
		out, err := exec.Command(htpasswd, "-Bbn", r.user, r.pass).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), out, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: refval-test\n    path: %s\n", filepath.Join(dir, "htpasswd"))
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("registry log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	client, scheme := http.DefaultClient, "http"
	if certDir != "" {
		client, scheme = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}, "https"
	}
	for {
		resp, err := client.Get(scheme + "://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 || resp.StatusCode == 401 {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s did not start: %v\n%s", host, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *registry) creds() string { return r.user + ":" + r.pass }

// skopeo runs the skopeo CLI (the independent client) and returns stdout.
func skopeo(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := needTool(t, "skopeo")
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func (r *registry) push(t *testing.T, repoTag string, imgs ...ti.Image) string {
	t.Helper()
	src := layoutRef(t, imgs...)
	dst := "docker://" + r.host + "/" + repoTag
	args := []string{"copy", "--quiet", "--all", "--dest-tls-verify=false"}
	if r.user != "" {
		args = append(args, "--dest-creds", r.creds())
	}
	skopeo(t, append(args, src, dst)...)
	return dst
}

// skopeoDigests returns the digest of the raw top-level manifest and the
// layer digests skopeo reports for ref (with the host's platform).
func (r *registry) skopeoDigests(t *testing.T, ref string) (top digest.Digest, layers []digest.Digest) {
	t.Helper()
	args := []string{"inspect", "--tls-verify=false"}
	if r.user != "" {
		args = append(args, "--creds", r.creds())
	}
	raw := skopeo(t, append(append(args, "--raw"), ref)...)
	var info struct{ Layers []digest.Digest }
	if err := json.Unmarshal(skopeo(t, append(args, ref)...), &info); err != nil {
		t.Fatal(err)
	}
	return digest.FromBytes(raw), info.Layers
}

func layerDigests(m Manifest) []digest.Digest {
	var out []digest.Digest
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// TestRegistryPull pulls from a real registry, images pushed by skopeo,
// and checks the digests refval records against skopeo's.
func TestRegistryPull(t *testing.T) {
	ctx := context.Background()
	open := startRegistry(t, false)
	ref := open.push(t, "test/crafted:v1", ti.Crafted(true))
	store := filepath.Join(t.TempDir(), "store")
	img, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy(), WithTLSVerify(false))
	if err != nil {
		t.Fatal(err)
	}
	top, layers := open.skopeoDigests(t, ref)
	if img.Manifests[0].Digest != top || img.IndexDigest != "" || img.Manifests[0].SourceDigest != "" {
		t.Errorf("refval: manifest %s index %q source %q; skopeo: %s", img.Manifests[0].Digest, img.IndexDigest, img.Manifests[0].SourceDigest, top)
	}
	if diff := cmp.Diff(layers, layerDigests(img.Manifests[0])); diff != "" {
		t.Errorf("layers (-skopeo +refval):\n%s", diff)
	}

	// Uncompressed layers stay uncompressed in the store (same digests).
	pref := open.push(t, "test/plain:v1", ti.Crafted(false))
	plain, err := Pull(ctx, pref, WithLayout(store), WithInsecurePolicy(), WithTLSVerify(false))
	if err != nil {
		t.Fatal(err)
	}
	top, layers = open.skopeoDigests(t, pref)
	if plain.Manifests[0].Digest != top {
		t.Errorf("uncompressed image: refval %s, skopeo %s", plain.Manifests[0].Digest, top)
	}
	if diff := cmp.Diff(layers, layerDigests(plain.Manifests[0])); diff != "" {
		t.Errorf("uncompressed layers (-skopeo +refval):\n%s", diff)
	}

	// A multi-platform image: the index digest and the host's manifest.
	arm := ti.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, Layers: []ti.Layer{{ti.File("arm", 0o644, "arm\n")}}}
	mref := open.push(t, "test/multi:v1", ti.Crafted(true), arm)
	img, err = Pull(ctx, mref, WithLayout(store), WithInsecurePolicy(), WithTLSVerify(false))
	if err != nil {
		t.Fatal(err)
	}
	top, layers = open.skopeoDigests(t, mref)
	if img.IndexDigest != top {
		t.Errorf("index: refval %s, skopeo %s", img.IndexDigest, top)
	}
	if diff := cmp.Diff(layers, layerDigests(img.Manifests[0])); diff != "" {
		t.Errorf("layers (-skopeo +refval):\n%s", diff)
	}
	all, err := Pull(ctx, mref, WithLayout(store), WithInsecurePolicy(), WithTLSVerify(false), WithAllPlatforms())
	if err != nil {
		t.Fatal(err)
	}
	if all.IndexDigest != top || len(all.Manifests) != 2 || all.Manifests[1].Platform.Architecture != "arm64" {
		t.Errorf("all platforms: %+v", all)
	}
	// The measurement of the pulled image equals the one of its source.
	want, err := MeasureImage(ctx, layoutRef(t, ti.Crafted(true)), WithLayout(store), WithInsecurePolicy())
	if err != nil {
		t.Fatal(err)
	}
	got, err := MeasureImage(ctx, mref, WithLayout(store), WithPullPolicy(PullNever))
	if err != nil {
		t.Fatal(err)
	}
	if got.Results[0].Result.TemplateSha256 != want.Results[0].Result.TemplateSha256 {
		t.Errorf("measure from registry %s, from layout %s", got.Results[0].Result.TemplateSha256, want.Results[0].Result.TemplateSha256)
	}
}

// TestRegistryAuth: an htpasswd registry refuses anonymous pulls and wrong
// passwords (leaving the store as it was) and accepts --creds and auth
// files.
func TestRegistryAuth(t *testing.T) {
	ctx := context.Background()
	reg := startRegistry(t, true)
	ref := reg.push(t, "private/app:1", ti.Image{Layers: []ti.Layer{{ti.File("secret", 0o600, "s")}}})
	store := filepath.Join(t.TempDir(), "store")
	base := []Option{WithLayout(store), WithInsecurePolicy(), WithTLSVerify(false), WithAuthFile(filepath.Join(t.TempDir(), "none.json"))}

	if _, err := Pull(ctx, ref, base...); err == nil || !strings.Contains(err.Error(), "authentication required") {
		t.Errorf("anonymous pull: %v", err)
	}
	if _, err := Pull(ctx, ref, append(base, WithCredentials(reg.user+":wrong"))...); err == nil || !strings.Contains(err.Error(), "authentication required") {
		t.Errorf("wrong password: %v", err)
	}
	assertStoreEmpty(t, store)

	img, err := Pull(ctx, ref, append(base, WithCredentials(reg.creds()))...)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := reg.skopeoDigests(t, ref)
	if img.Manifests[0].Digest != top {
		t.Errorf("manifest %s, skopeo %s", img.Manifests[0].Digest, top)
	}

	auth := filepath.Join(t.TempDir(), "auth.json")
	doc := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.host, base64.StdEncoding.EncodeToString([]byte(reg.creds())))
	if err := os.WriteFile(auth, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REGISTRY_AUTH_FILE", auth)
	if _, err := Pull(ctx, ref, WithLayout(store), WithInsecurePolicy(), WithTLSVerify(false)); err != nil {
		t.Errorf("pull with REGISTRY_AUTH_FILE: %v", err)
	}
}

// assertStoreEmpty checks that failed pulls named nothing and left no
// staging directory behind.
func assertStoreEmpty(t *testing.T, store string) {
	t.Helper()
	if raw, err := os.ReadFile(filepath.Join(store, "index.json")); err == nil {
		var idx ocispec.Index
		if json.Unmarshal(raw, &idx) != nil || len(idx.Manifests) != 0 {
			t.Errorf("index.json after failed pulls: %s", raw)
		}
	}
	assertNoTemp(t, store)
}

// TestUmociCLI unpacks with Debian's umoci binary, a second unpacker, and
// compares its rootfs with refval's unpack and stream measurement.
func TestUmociCLI(t *testing.T) {
	umoci := needTool(t, "umoci")
	needRoot(t)
	ctx := context.Background()
	for name, imgs := range testImages(t) {
		if len(imgs) > 1 {
			continue // umoci unpacks manifests, not indexes
		}
		if name == "passwd via symlink" {
			// umoci opens rootfs/etc/passwd by host path, following the
			// absolute symlink to the host's /usr/lib/passwd (refval resolves
			// it inside the image; docs/images.md).
			continue
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "src")
			if _, err := ti.WriteLayout(dir, "v1", imgs...); err != nil {
				t.Fatal(err)
			}
			ub := filepath.Join(t.TempDir(), "umoci-bundle")
			if out, err := exec.Command(umoci, "--log", "error", "unpack", "--image", dir+":v1", ub).CombinedOutput(); err != nil {
				t.Fatalf("umoci unpack: %v\n%s", err, out)
			}
			want, _, err := bundle.HashRootfs(ctx, filepath.Join(ub, "rootfs"))
			if err != nil {
				t.Fatal(err)
			}
			opts := []Option{WithLayout(filepath.Join(t.TempDir(), "store")), WithInsecurePolicy()}
			rb := filepath.Join(t.TempDir(), "refval-bundle")
			if _, err := Unpack(ctx, "oci:"+dir+":v1", rb, append(opts, WithRootless(false))...); err != nil {
				t.Fatal(err)
			}
			got, _, err := bundle.HashRootfs(ctx, filepath.Join(rb, "rootfs"))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("rootfs: refval unpack %s, umoci CLI %s", got, want)
			}
			m, err := MeasureImage(ctx, "oci:"+dir+":v1", append(opts, WithPullPolicy(PullNever))...)
			if err != nil {
				t.Fatal(err)
			}
			if m.Results[0].Result.RootfsSha256 != want {
				t.Errorf("rootfs: refval measure %s, umoci CLI %s", m.Results[0].Result.RootfsSha256, want)
			}
		})
	}
}

// writeTestCA writes a throwaway CA (ca.crt) and a server certificate for
// 127.0.0.1 signed by it (server.crt, server.key) into dir.
func writeTestCA(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "refval test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	for name, block := range map[string]*pem.Block{
		"ca.crt":     {Type: "CERTIFICATE", Bytes: caDER},
		"server.crt": {Type: "CERTIFICATE", Bytes: der},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRegistryTLS: an HTTPS registry with a private CA is refused by
// default, accepted with --cert-dir holding the CA, and with
// --tls-verify=false.
func TestRegistryTLS(t *testing.T) {
	ctx := context.Background()
	certs := t.TempDir()
	writeTestCA(t, certs)
	reg := startRegistryTLS(t, false, certs)
	ref := reg.push(t, "tls/app:1", ti.Image{Layers: []ti.Layer{{ti.File("f", 0o644, "tls")}}})
	caDir := t.TempDir()
	ca, _ := os.ReadFile(filepath.Join(certs, "ca.crt"))
	os.WriteFile(filepath.Join(caDir, "ca.crt"), ca, 0o644)
	store := filepath.Join(t.TempDir(), "store")
	base := []Option{WithLayout(store), WithInsecurePolicy()}
	if _, err := Pull(ctx, ref, base...); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown CA: %v", err)
	}
	assertStoreEmpty(t, store)
	if _, err := Pull(ctx, ref, append(base, WithCertDir(caDir))...); err != nil {
		t.Errorf("--cert-dir: %v", err)
	}
	if _, err := Pull(ctx, ref, append(base, WithTLSVerify(false))...); err != nil {
		t.Errorf("--tls-verify=false: %v", err)
	}
}

// TestOtherTransports: the same image through dir: (written by skopeo) and
// docker-archive: measures like its OCI layout; docker-archive records the
// converted manifest and the source's.
func TestOtherTransports(t *testing.T) {
	ctx := context.Background()
	img := ti.Crafted(false)
	ref := layoutRef(t, img)
	dirRef := "dir:" + filepath.Join(t.TempDir(), "dir")
	skopeo(t, "copy", "--quiet", ref, dirRef)
	da := filepath.Join(t.TempDir(), "da.tar")
	if _, err := ti.WriteDockerArchive(da, "example.com/crafted:1", img); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(t.TempDir(), "store")
	opts := []Option{WithLayout(store), WithInsecurePolicy()}
	want, err := MeasureImage(ctx, ref, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{dirRef, "docker-archive:" + da} {
		got, err := MeasureImage(ctx, r, opts...)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if got.Results[0].Result.TemplateSha256 != want.Results[0].Result.TemplateSha256 {
			t.Errorf("%s: %s, layout %s", r, got.Results[0].Result.TemplateSha256, want.Results[0].Result.TemplateSha256)
		}
	}
	img2, err := Pull(ctx, "docker-archive:"+da, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if m := img2.Manifests[0]; m.SourceDigest == "" || m.SourceDigest == m.Digest {
		t.Errorf("docker-archive: manifest %s, source %s (want a converted manifest and its source)", m.Digest, m.SourceDigest)
	}
}
