package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// bufferedCMCRootfs is the original tool's approach, written out plainly:
// the whole tar archive in a memory buffer, then hashed. The streaming
// implementation must give the same bytes.
func bufferedCMCRootfs(t *testing.T, root string) Digest {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.Walk(root, func(path string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(path)
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.ModTime = time.Unix(0, 0)
		hdr.Name, _ = filepath.Rel(root, path)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			tw.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	return sha256.Sum256(buf.Bytes())
}

func TestCMCRootfsStreamingEqualsBuffered(t *testing.T) {
	root := t.TempDir()
	es := richTree()
	var keep []entry
	for _, e := range es {
		if e.kind != TypeSocket { // archive/tar cannot represent sockets
			keep = append(keep, e)
		}
	}
	makeTree(t, root, keep)
	os.WriteFile(root+"/big", bytes.Repeat([]byte("0123456789"), 100000), 0o644)
	got, n, err := HashRootfs(context.Background(), root, WithScheme(SchemeCMC))
	if err != nil {
		t.Fatal(err)
	}
	if want := bufferedCMCRootfs(t, root); got != want {
		t.Errorf("streaming %s != buffered %s", got, want)
	}
	if n != len(keep)+2 {
		t.Errorf("entries = %d; want %d", n, len(keep)+2)
	}
	// The tar stream carries mtimes as 0: touching a file changes nothing.
	os.Chtimes(root+"/big", time.Now(), time.Now().Add(-time.Hour))
	if again, _, _ := HashRootfs(context.Background(), root, WithScheme(SchemeCMC)); again != got {
		t.Error("cmc rootfs digest depends on mtime")
	}
	os.WriteFile(root+"/big", []byte("changed"), 0o644)
	if again, _, _ := HashRootfs(context.Background(), root, WithScheme(SchemeCMC)); again == got {
		t.Error("cmc rootfs digest does not depend on content")
	}
}

func TestCMCRootfsSocketFails(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, []entry{{path: "s", kind: TypeSocket, mode: 0o644, uid: -1}})
	_, _, err := HashRootfs(context.Background(), root, WithScheme(SchemeCMC))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(root+"/s")) {
		t.Errorf("socket in cmc scheme: %v; want an error naming it", err)
	}
}

func TestCMCConfig(t *testing.T) {
	const id = "0123456789abcdef0123"
	in := `{"ociVersion":"1.0.2","unknownField":1,"annotations":{"a":"b"},"root":{"path":"rootfs"},
"hostname":"0123456789ab",
"process":{"terminal":true,"consoleSize":{"height":1,"width":1},"cwd":"/","env":["Z=1","A=0123456789abcdef0123"],"user":{"uid":0,"gid":0}},
"mounts":[{"destination":"/b","source":"y"},{"destination":"/a","source":"y"},{"destination":"/c","source":"x"}],
"hooks":{"prestart":[{"path":"/nonexistent/hook","args":["hook","aabbccddeeff","aabbccddeef","AABBCCDDEEFF"]}]}}`
	_, got, err := HashConfig([]byte(in), WithScheme(SchemeCMC), WithContainerID(id))
	if err != nil {
		t.Fatal(err)
	}
	// Expected by applying the steps of docs/measurement.md by hand: ID
	// replaced in the text, unknown field and annotations/root/terminal/
	// consoleSize gone, env and mounts sorted, 12-hex hook args replaced,
	// members in JCS order, and the zero-valued struct fields encoding/json
	// keeps (process.user uid/gid) present.
	want := `{"hooks":{"prestart":[{"args":["hook","<docker-network-controller-id>","aabbccddeef","<docker-network-controller-id>"],"path":"/nonexistent/hook"}]},"hostname":"<container-id>",` +
		`"mounts":[{"destination":"/c","source":"x"},{"destination":"/a","source":"y"},{"destination":"/b","source":"y"}],` +
		`"ociVersion":"1.0.2","process":{"cwd":"/","env":["A=<container-id>","Z=1"],"user":{"gid":0,"uid":0}}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("normalized (-want +got):\n%s", diff)
	}
	if _, _, err := HashConfig([]byte(`{"process":{"env":"x"}}`), WithScheme(SchemeCMC)); err == nil {
		t.Error("cmc: wrong-typed env accepted")
	}
}

func TestMeasureBundle(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(dir+"/rootfs/etc", 0o755)
	os.WriteFile(dir+"/rootfs/etc/hello", []byte("hi\n"), 0o644)
	cfg := `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"hostname":"ctr1"}`
	os.WriteFile(dir+"/config.json", []byte(cfg), 0o644)
	ctx := context.Background()
	for _, scheme := range Schemes {
		t.Run(string(scheme), func(t *testing.T) {
			r, err := Measure(ctx, dir, WithScheme(scheme), WithContainerID("ctr1"))
			if err != nil {
				t.Fatal(err)
			}
			c, norm, _ := HashConfig([]byte(cfg), WithScheme(scheme), WithContainerID("ctr1"))
			rf, _, _ := HashRootfs(ctx, dir+"/rootfs", WithScheme(scheme))
			tmpl := sha256.Sum256(append(c[:], rf[:]...))
			want := &Result{Scheme: scheme, ConfigSha256: c, RootfsSha256: rf, TemplateSha256: tmpl, NormalizedConfig: norm, Entries: 3}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Explicit paths give the same result.
			r2, err := Measure(ctx, "", WithScheme(scheme), WithContainerID("ctr1"), WithConfigPath(dir+"/config.json"), WithRootfsPath(dir+"/rootfs"))
			if err != nil || r2.TemplateSha256 != r.TemplateSha256 {
				t.Errorf("explicit paths: %v, %v", r2, err)
			}
		})
	}
}

func TestMeasureErrors(t *testing.T) {
	ctx := context.Background()
	write := func(cfg string) string {
		dir := t.TempDir()
		os.Mkdir(dir+"/rootfs", 0o755)
		os.WriteFile(dir+"/config.json", []byte(cfg), 0o644)
		return dir
	}
	tests := []struct {
		name, cfg, want string
	}{
		{"not-json", `{`, "config.json"},
		{"not-object", `[1]`, "top level is an array"},
		{"no-root-path", `{"root":{}}`, "field root.path"},
		{"root-path-wrong-type", `{"root":{"path":1}}`, "field root.path"},
		{"root-path-missing-dir", `{"root":{"path":"nope"}}`, "invalid rootfs"},
		{"bad-mapping", `{"root":{"path":"rootfs"},"linux":{"uidMappings":[{"containerID":0,"hostID":1,"size":0}]}}`, "linux.uidMappings[0].size"},
		{"mapping-wrong-type", `{"root":{"path":"rootfs"},"linux":{"uidMappings":{}}}`, "linux.uidMappings"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Measure(ctx, write(tc.cfg))
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("err = %v; want mention of %q", err, tc.want)
			}
		})
	}
	if _, err := Measure(ctx, t.TempDir()); err == nil || !bytes.Contains([]byte(err.Error()), []byte("config.json")) {
		t.Errorf("missing config.json: %v", err)
	}
	if _, err := Measure(ctx, "", WithScheme("v0")); err == nil {
		t.Error("unknown scheme accepted")
	}
}

var _ = io.EOF
