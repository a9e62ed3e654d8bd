package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/refval/refval/bundle"
)

func TestConfigs(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want []string // "kind path"
	}{
		{"equal", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, nil},
		{"number kept exact", `{"a":1.0}`, `{"a":1}`, []string{"changed a"}},
		{"scalar change", `{"process":{"cwd":"/"}}`, `{"process":{"cwd":"/tmp"}}`, []string{"changed process.cwd"}},
		{"added and removed keys", `{"a":1}`, `{"b":1}`, []string{"removed a", "added b"}},
		{"odd key", `{"annotations":{"io.x":"1"}}`, `{"annotations":{"io.x":"2"}}`, []string{`changed annotations["io.x"]`}},
		// One inserted element is one addition, later ones are aligned.
		{"insert in array", `{"env":["A=1","C=3","D=4"]}`, `{"env":["A=1","B=2","C=3","D=4"]}`, []string{"added env[1]"}},
		{"remove from array", `{"env":["A=1","B=2","C=3"]}`, `{"env":["A=1","C=3"]}`, []string{"removed env[1]"}},
		{"replace in array", `{"env":["A=1","B=2","C=3"]}`, `{"env":["A=1","B=9","C=3"]}`, []string{"changed env[1]"}},
		// Objects at the same place of an unaligned stretch: field by field.
		{"object in array", `{"mounts":[{"d":"/a","o":["ro"]},{"d":"/b"}]}`, `{"mounts":[{"d":"/a","o":["rw"]},{"d":"/b"}]}`, []string{"changed mounts[0].o[0]"}},
		{"type change", `{"a":[1]}`, `{"a":{"x":1}}`, []string{"changed a"}},
		{"root type", `[]`, `{}`, []string{"changed (root)"}},
		{"longer tail", `{"a":[1]}`, `{"a":[1,2,3]}`, []string{"added a[1]", "added a[2]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Configs([]byte(tc.a), []byte(tc.b))
			if err != nil {
				t.Fatal(err)
			}
			var g []string
			for _, c := range got {
				g = append(g, string(c.Kind)+" "+c.Path)
			}
			if d := cmp.Diff(tc.want, g); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	for _, bad := range []string{"", "{", `{"a":1} x`, "nul"} {
		if _, err := Configs([]byte(bad), []byte("{}")); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Configs(%q): %v, want ErrInvalidInput", bad, err)
		}
	}
}

func TestComparePaths(t *testing.T) {
	// Measurement order: pre-order, children sorted bytewise.
	ordered := []string{"/", "/a", "/a/b", "/a/b/c", "/a-b", "/a0", "/b", "/b\xff"}
	for i := range ordered {
		for j := range ordered {
			c := comparePaths(ordered[i], ordered[j])
			if (i < j) != (c < 0) || (i == j) != (c == 0) {
				t.Errorf("comparePaths(%q, %q) = %d", ordered[i], ordered[j], c)
			}
		}
	}
}

// records renders records as JSON lines with bundle's own encoder.
func records(t *testing.T, rs ...bundle.Record) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	w, flush := bundle.RecordWriter(&b)
	for i := range rs {
		if err := w(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	return &b
}

func TestRecords(t *testing.T) {
	root := bundle.Record{Path: "/", Type: bundle.TypeDir, Mode: 0o755}
	etc := bundle.Record{Path: "/etc", Type: bundle.TypeDir, Mode: 0o755}
	f := bundle.Record{Path: "/etc/f", Type: bundle.TypeFile, Mode: 0o644, Sha256: bundle.Digest{1}}
	f2 := f
	f2.Sha256, f2.Mode, f2.UID, f2.Capability = bundle.Digest{2}, 0o4755, 1000, []byte{1, 2}
	ln := bundle.Record{Path: "/etc/l", Type: bundle.TypeSymlink, Target: "f"}
	ln2 := ln
	ln2.Target = "g"
	dev := bundle.Record{Path: "/etc/l", Type: bundle.TypeChar, DevMajor: 1, DevMinor: 3}
	tests := []struct {
		name string
		a, b []bundle.Record
		want []string
	}{
		{"equal", []bundle.Record{root, etc, f}, []bundle.Record{root, etc, f}, nil},
		{"changed fields", []bundle.Record{root, etc, f}, []bundle.Record{root, etc, f2}, []string{"changed /etc/f content,mode,owner,capability"}},
		{"target", []bundle.Record{root, etc, ln}, []bundle.Record{root, etc, ln2}, []string{"changed /etc/l target"}},
		{"type", []bundle.Record{root, etc, ln}, []bundle.Record{root, etc, dev}, []string{"changed /etc/l type"}},
		{"added subtree", []bundle.Record{root}, []bundle.Record{root, etc, f}, []string{"added /etc", "added /etc/f"}},
		{"removed", []bundle.Record{root, etc, f}, []bundle.Record{root, etc}, []string{"removed /etc/f"}},
		{"empty sides", nil, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := Records(records(t, tc.a...), records(t, tc.b...), func(c EntryChange) error {
				s := string(c.Kind) + " " + c.Path
				if len(c.Fields) > 0 {
					s += " " + strings.Join(c.Fields, ",")
				}
				got = append(got, s)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	// Out of measurement order, relative paths, garbage: errors naming the record.
	for _, bad := range []string{
		`{"path":"/b","type":"dir","mode":"0755","uid":0,"gid":0}` + "\n" + `{"path":"/a","type":"dir","mode":"0755","uid":0,"gid":0}`,
		`{"path":"a","type":"dir","mode":"0755","uid":0,"gid":0}`,
		`{"path":"/","type":"dir","mode":"0755","uid":0,"gid":0}` + "\n{",
		`{"path":"/","type":"rocket","mode":"0755","uid":0,"gid":0}`,
	} {
		err := Records(strings.NewReader(bad), strings.NewReader(""), func(EntryChange) error { return nil })
		if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "record ") {
			t.Errorf("%q: %v, want ErrInvalidInput naming the record", bad, err)
		}
	}
}

// TestRecordsEqualMeansDigestsEqual checks the package guarantee on real
// measurements: no reported change exactly when the rootfs digests match.
func TestRecordsEqualMeansDigestsEqual(t *testing.T) {
	mk := func(mod func(dir string)) (bundle.Digest, *bytes.Buffer) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
		os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(dir, "a-b"), []byte("y"), 0o644)
		os.Symlink("a/b/f", filepath.Join(dir, "ln"))
		if mod != nil {
			mod(dir)
		}
		var buf bytes.Buffer
		w, flush := bundle.RecordWriter(&buf)
		d, _, err := bundle.HashRootfs(t.Context(), dir, bundle.WithRecordFunc(w))
		if err != nil {
			t.Fatal(err)
		}
		flush()
		return d, &buf
	}
	base, baseRecs := mk(nil)
	for name, mod := range map[string]func(string){
		"none":    nil,
		"content": func(d string) { os.WriteFile(filepath.Join(d, "a", "b", "f"), []byte("z"), 0o644) },
		"mode":    func(d string) { os.Chmod(filepath.Join(d, "a-b"), 0o600) },
		"target":  func(d string) { os.Remove(filepath.Join(d, "ln")); os.Symlink("a-b", filepath.Join(d, "ln")) },
		"added":   func(d string) { os.WriteFile(filepath.Join(d, "a", "new"), nil, 0o644) },
	} {
		d, recs := mk(mod)
		n := 0
		if err := Records(bytes.NewReader(baseRecs.Bytes()), recs, func(EntryChange) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if (n == 0) != (d == base) {
			t.Errorf("%s: %d changes, digests equal %v", name, n, d == base)
		}
	}
}

func TestLoadAndCompare(t *testing.T) {
	dir := t.TempDir()
	raw := `{"ociVersion":"1.0.2","hostname":"c1","root":{"path":"rootfs"},"process":{"env":["B=1","A=2"]}}`
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(raw), 0o644)
	_, norm, err := bundle.HashConfig([]byte(raw), bundle.WithContainerID("c1"))
	if err != nil {
		t.Fatal(err)
	}
	gen := t.TempDir()
	os.WriteFile(filepath.Join(gen, "container-config.json"), norm, 0o644)
	r, err := CompareFiles(dir, gen, bundle.WithContainerID("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Equal || !r.ConfigCompared || r.RootfsCompared {
		t.Errorf("report %+v", r)
	}
	var out bytes.Buffer
	json.NewEncoder(&out).Encode(r)
	if !strings.Contains(out.String(), `"config":[]`) {
		t.Errorf("JSON report %s: want empty arrays, not null", out.String())
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("empty dir: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(bad, []byte(`{"process":{"env":"x"}}`), 0o644)
	if _, err := Load(bad); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad config: %v, want ErrInvalidInput naming the file", err)
	}
}

func FuzzConfigs(f *testing.F) {
	f.Add([]byte(`{"a":[1,2,{"b":null}]}`), []byte(`{"a":[2,{"b":true}],"c":"x"}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		changes, err := Configs(a, b)
		if err != nil {
			return
		}
		if same, _ := Configs(a, a); len(same) != 0 {
			t.Fatalf("a differs from itself: %v", same)
		}
		va, _ := decodeJSON(a)
		vb, _ := decodeJSON(b)
		if (len(changes) == 0) != bytes.Equal(raw(va), raw(vb)) {
			t.Fatalf("%d changes, canonical forms equal %v", len(changes), bytes.Equal(raw(va), raw(vb)))
		}
	})
}

func FuzzRecords(f *testing.F) {
	f.Add([]byte(`{"path":"/","type":"dir","mode":"0755","uid":0,"gid":0}`+"\n"), []byte(`{"path":"/","type":"dir","mode":"0700","uid":0,"gid":0}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		n := 0
		err := Records(bytes.NewReader(a), bytes.NewReader(b), func(EntryChange) error { n++; return nil })
		if err != nil {
			return
		}
		if err := Records(bytes.NewReader(a), bytes.NewReader(a), func(c EntryChange) error {
			t.Fatalf("a differs from itself: %+v", c)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}
