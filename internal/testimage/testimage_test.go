package testimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (scripts/deps.sh installs it)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func TestDeterministic(t *testing.T) {
	a, err := Build(Crafted(true))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(Crafted(true))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Manifest, b.Manifest) || a.ManifestDesc.Digest != b.ManifestDesc.Digest {
		t.Fatal("two builds of the same image differ")
	}
}

// TestLayerTarGNU reads the written tar back with GNU tar (an
// independent reader) and checks names, types and xattrs.
func TestLayerTarGNU(t *testing.T) {
	gnutar := needTool(t, "tar")
	l := Layer{
		Dir("d", 0o755),
		File("d/"+NonUTF8Name, 0o4755, "x"),
		File("d/cap", 0o755, "y").WithXattr("security.capability", CapNetRaw),
		CharDev("d/null", 0o666, 1, 3),
		Hardlink("d/hl", "d/cap"),
		Symlink("d/sym", "../etc"),
	}
	raw, err := LayerTar(l)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "l.tar")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gnutar, "--quoting-style=escape", "-tvf", p).CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	got := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range []string{
		"drwxr-xr-x 0/0 0 2020-01-01 00:00 d ", `-rwsr-xr-x 0/0 1 2020-01-01 00:00 d/caf\351-\377\376`,
		"crw-rw-rw- 0/0 1,3 2020-01-01 00:00 d/null", "d/hl link to d/cap", "d/sym -> ../etc",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("GNU tar listing lacks %q:\n%s", want, got)
		}
	}
	// The capability must be a PAX xattr record with the raw bytes.
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "d/cap" && h.PAXRecords["SCHILY.xattr.security.capability"] != CapNetRaw {
			t.Errorf("d/cap: PAX records %q", h.PAXRecords)
		}
	}
}

// TestSkopeoReads checks with skopeo, an independent client, that layouts
// and archives are valid and carry the digests Build computed.
func TestSkopeoReads(t *testing.T) {
	skopeo := needTool(t, "skopeo")
	dir := t.TempDir()
	inspect := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(skopeo, append([]string{"inspect"}, args...)...).Output()
		if err != nil {
			t.Fatalf("skopeo inspect %v: %v", args, err)
		}
		return out
	}
	img := Crafted(true)
	b, err := Build(img)
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "layout")
	desc, err := WriteLayout(layout, "crafted", img)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != b.ManifestDesc.Digest {
		t.Errorf("descriptor %s, built manifest %s", desc.Digest, b.ManifestDesc.Digest)
	}
	if got := digest.FromBytes(inspect("--raw", "oci:"+layout+":crafted")); got != desc.Digest {
		t.Errorf("skopeo raw manifest digest %s, want %s", got, desc.Digest)
	}

	arm := Image{Platform: ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, Layers: []Layer{{File("f", 0o644, "arm")}}}
	idx, err := WriteLayout(layout, "multi", img, arm)
	if err != nil {
		t.Fatal(err)
	}
	if idx.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("two images: media type %s", idx.MediaType)
	}
	if got := digest.FromBytes(inspect("--raw", "oci:"+layout+":multi")); got != idx.Digest {
		t.Errorf("skopeo raw index digest %s, want %s", got, idx.Digest)
	}
	armBuilt, _ := Build(arm)
	// skopeo's "Digest" names the index; the selected instance shows in
	// its layers.
	var info struct{ Layers []digest.Digest }
	if err := json.Unmarshal(inspect("--override-arch", "arm64", "--override-variant", "v8", "oci:"+layout+":multi"), &info); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]digest.Digest{armBuilt.LayerDescs[0].Digest}, info.Layers); diff != "" {
		t.Errorf("skopeo arm64 instance layers (-want +got):\n%s", diff)
	}
	// The first tag survives the second write.
	inspect("--raw", "oci:"+layout+":crafted")

	oa := filepath.Join(dir, "oa.tar")
	if _, err := WriteOCIArchive(oa, "t", img); err != nil {
		t.Fatal(err)
	}
	if got := digest.FromBytes(inspect("--raw", "oci-archive:"+oa+":t")); got != desc.Digest {
		t.Errorf("oci-archive manifest %s, want %s", got, desc.Digest)
	}

	da := filepath.Join(dir, "da.tar")
	if _, err := WriteDockerArchive(da, "example.com/crafted:1", img); err != nil {
		t.Fatal(err)
	}
	var dinfo struct {
		Layers   []digest.Digest
		RepoTags []string
	}
	if err := json.Unmarshal(inspect("docker-archive:"+da), &dinfo); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b.DiffIDs, dinfo.Layers); diff != "" {
		t.Errorf("docker-archive layers (-built +skopeo):\n%s", diff)
	}
}

func TestBusybox(t *testing.T) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	img := Busybox(Layer{File("hello", 0o644, "hi\n")})
	b, err := Build(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Layers) != 2 || b.LayerDescs[0].MediaType != ocispec.MediaTypeImageLayerGzip {
		t.Fatalf("layers: %+v", b.LayerDescs)
	}
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(b.LayerTars[0]))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
	for _, n := range []string{"bin/busybox", "bin/sh", "etc/passwd", "etc/group", "tmp"} {
		if !names[n] {
			t.Errorf("busybox base layer lacks %s", n)
		}
	}
}

// TestEndings: each ending has the layout its doc states, every accepted
// one reads back as the same entries, a truncated one does not read.
func TestEndings(t *testing.T) {
	l := Layer{Dir("d", 0o755), File("d/f", 0o644, "hi\n")}
	full, err := LayerTarEnding(l, EndOfArchive)
	if err != nil {
		t.Fatal(err)
	}
	wantLen := map[Ending]int{EndOfArchive: 3*512 + 1024, EndNone: 3 * 512, EndUnpadded: 2*512 + 3, EndOneBlock: 3*512 + 512, EndPadded: 2 * 10240}
	for name, end := range Endings {
		b, err := LayerTarEnding(l, end)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != wantLen[end] || !bytes.Equal(b[:2*512+3], full[:2*512+3]) {
			t.Errorf("%s: %d bytes, want %d", name, len(b), wantLen[end])
		}
		var names []string
		tr := tar.NewReader(bytes.NewReader(b))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			c, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			names = append(names, h.Name+"="+string(c))
		}
		if strings.Join(names, ",") != "d=,d/f=hi\n" {
			t.Errorf("%s: entries %q", name, names)
		}
	}
	b, err := LayerTarEnding(l, EndTruncated)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	tr.Next()
	tr.Next()
	if _, err := io.ReadAll(tr); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated: %v", err)
	}
}

// TestSparse: Go's tar reader (as umoci's and containerd's) reads the
// hand-written PAX sparse header as one file of the real size.
func TestSparse(t *testing.T) {
	b, err := LayerTar(Layer{Sparse("hole", 1<<40), File("after", 0o644, "x")})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	h, err := tr.Next()
	if err != nil || h.Name != "hole" || h.Size != 1<<40 || h.Typeflag != tar.TypeReg {
		t.Fatalf("%+v, %v", h, err)
	}
	buf := make([]byte, 4096)
	if n, err := io.ReadFull(tr, buf); n != len(buf) || err != nil || !bytes.Equal(buf, make([]byte, 4096)) {
		t.Fatalf("hole content: %d %v", n, err)
	}
	if len(b) > 6*512+1024 { // PAX header and records, header and map, "after", end
		t.Errorf("layer of %d bytes", len(b))
	}
}
