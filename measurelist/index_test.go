package measurelist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver"
)

// entry09 is entry i for either codec: a CMC 0.9 entry with a spec that
// holds unicode, escapes and HTML characters (json.Marshal escapes those),
// entry 3 a failure marker without spec (their template hash is fixed),
// every 5th with a PCR.
func entry09(i int) Entry {
	if i == 3 {
		return FailureMarker(fmt.Sprintf("marker-%d", i), nil)
	}
	e := entry(fmt.Sprintf("c%d-naïve-☃", i))
	if i%5 == 0 {
		p := driver.PCR(11)
		e.Pcr = &p
	}
	spec := map[string]any{
		"ociVersion": "1.2.0",
		"hostname":   fmt.Sprintf("h%d", i),
		"process": map[string]any{
			"cwd":  "/",
			"args": []string{"sh", "-c", fmt.Sprintf("echo \"%d\" <&> \\ \t\u2028 ☃ 日本", i)},
			"env":  []string{"PATH=/usr/bin", fmt.Sprintf("N=%d", i)},
			"user": map[string]any{"uid": i, "gid": 0},
		},
		"annotations": map[string]string{"io.kubernetes.pod.name": fmt.Sprintf("p-%d", i), "ünïcode": "\x01\u00e9"},
	}
	e.Spec, _ = json.Marshal(spec)
	return e
}

func entries09(n int) []Entry {
	l := make([]Entry, n)
	for i := range l {
		l[i] = entry09(i)
	}
	return l
}

// codecs are the codecs that keep an index.
var codecs = []Codec{JSON, CBOR, Artifact{Format: JSON, Index: 10}, Artifact{Format: CBOR, Index: 10}}

func codecName(c Codec) string { return c.(splicer).indexKey() }

// checkpoint reports whether the list of k entries is compared against
// Encode: both sides of the CBOR head size changes (24, 256 entries) and
// a sample in between (Encode of every length would be quadratic).
func checkpoint(k int) bool {
	switch k {
	case 1, 2, 3, 23, 24, 25, 255, 256, 257:
		return true
	}
	return k%41 == 0
}

// Splicing entry after entry into Encode's output of one entry gives,
// at every checked length, exactly Encode of all entries (the oracle).
func TestSpliceEqualsEncode(t *testing.T) {
	const n = 300
	l := entries09(n)
	for _, c := range codecs {
		t.Run(codecName(c), func(t *testing.T) {
			cur, err := c.Encode(l[:1])
			if err != nil {
				t.Fatal(err)
			}
			for k := 1; k < n; k++ {
				if cur, err = c.(splicer).splice(cur, k, l[k]); err != nil {
					t.Fatalf("splice at %d: %v", k, err)
				}
				if checkpoint(k + 1) {
					want, err := c.Encode(l[:k+1])
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(cur, want) {
						t.Fatalf("%d entries: spliced list differs from Encode (%d vs %d bytes)", k+1, len(cur), len(want))
					}
				}
			}
		})
	}
}

// checkList fails t unless the list at path is Encode(want) and its index
// is valid for it.
func checkList(t *testing.T, path string, c Codec, want []Entry) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, enc) {
		t.Fatalf("%d entries: list differs from Encode (%d vs %d bytes)", len(want), len(got), len(enc))
	}
	if x, ok := validIndex(readIndex(path), c.(splicer), got); !ok || len(x.templates) != len(want) {
		t.Fatalf("%d entries: index not valid for the list", len(want))
	}
}

// N appends through the file (index kept) give Encode of all entries.
func TestAppendIndexedEqualsEncode(t *testing.T) {
	const n = 260
	l := entries09(n)
	for _, c := range codecs {
		t.Run(codecName(c), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "list")
			for k, e := range l {
				if added, err := AppendCodec(path, c, e, nil); err != nil || !added {
					t.Fatalf("append %d: added %v, %v", k, added, err)
				}
				if checkpoint(k + 1) {
					checkList(t, path, c, l[:k+1])
				}
			}
			// Duplicates, found in the index, change nothing.
			before, _ := os.ReadFile(path)
			for _, k := range []int{0, 24, n - 1} {
				if added, err := AppendCodec(path, c, l[k], nil); err != nil || added {
					t.Fatalf("duplicate %d: added %v, %v", k, added, err)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("a duplicate changed the list")
			}
		})
	}
}

// reindent returns the list with extra whitespace after the first colon
// (JSON) — same entries, other bytes than Encode writes.
func reindent(t *testing.T, b []byte) []byte {
	t.Helper()
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		t.Fatal("no colon")
	}
	return append(append(append([]byte{}, b[:i+1]...), "   "...), b[i+1:]...)
}

// The index is used only when it holds the list's hash: a list changed
// behind refval's back (its index now stale) takes the full path and is
// rewritten as Encode writes it; an index whose hash matches is used (the
// extra whitespace, which only splicing keeps, shows it).
func TestAppendIndexOnlyForItsHash(t *testing.T) {
	c := Artifact{Format: JSON, Index: 10}
	l := entries09(4)
	for _, forged := range []bool{false, true} {
		t.Run(fmt.Sprint("forged=", forged), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "list.json")
			for _, e := range l[:3] {
				if _, err := AppendCodec(path, c, e, nil); err != nil {
					t.Fatal(err)
				}
			}
			old, _ := os.ReadFile(path)
			changed := reindent(t, old)
			os.WriteFile(path, changed, 0o644)
			if forged {
				os.WriteFile(indexPath(path), newIndex(c.indexKey(), changed, l[:3]).marshal(), 0o644)
			}
			if _, err := AppendCodec(path, c, l[3], nil); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			want, _ := c.Encode(l)
			if forged {
				want = reindent(t, want)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("list after the append:\n%s\nwant:\n%s", got, want)
			}
			if _, ok := validIndex(readIndex(path), c, got); !ok {
				t.Error("index not valid after the append")
			}
		})
	}
}

// Duplicates are found in the index: a template hash listed there (with
// the list's hash) is not appended again.
func TestAppendDuplicateFromIndex(t *testing.T) {
	c := Artifact{Format: CBOR, Index: 10}
	path := filepath.Join(t.TempDir(), "list.cbor")
	l := entries09(2)
	if _, err := AppendCodec(path, c, l[0], nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	x := newIndex(c.indexKey(), raw, l[:1])
	x.templates = append(x.templates, l[1].TemplateSha256)
	os.WriteFile(indexPath(path), x.marshal(), 0o644)
	if added, err := AppendCodec(path, c, l[1], nil); err != nil || added {
		t.Errorf("entry named by the index: added %v, %v", added, err)
	}
}

// Garbage, truncated, foreign or empty indexes are ignored: the full path
// runs, the result is Encode's, a valid index replaces the bad one.
func TestAppendBadIndex(t *testing.T) {
	l := entries09(3)
	for _, c := range codecs {
		for name, bad := range map[string]func(good []byte) []byte{
			"garbage":   func([]byte) []byte { return []byte("{\"not\": \"an index\"}") },
			"empty":     func([]byte) []byte { return nil },
			"truncated": func(g []byte) []byte { return g[:len(g)-1] },
			"longer":    func(g []byte) []byte { return append(g, 0) },
			"codec": func(g []byte) []byte {
				x, _ := parseIndex(g)
				x.codec = "v0.9/json/11"
				return x.marshal()
			},
			"no entries": func(g []byte) []byte {
				x, _ := parseIndex(g)
				x.templates = nil
				return x.marshal()
			},
		} {
			t.Run(codecName(c)+"/"+name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "list")
				for _, e := range l[:2] {
					AppendCodec(path, c, e, nil)
				}
				good, _ := os.ReadFile(indexPath(path))
				os.WriteFile(indexPath(path), bad(good), 0o644)
				if added, err := AppendCodec(path, c, l[2], nil); err != nil || !added {
					t.Fatalf("added %v, %v", added, err)
				}
				checkList(t, path, c, l)
			})
		}
	}
}

// An index path that is a symbolic link is neither read nor written
// through; the append still works.
func TestAppendIndexSymlink(t *testing.T) {
	d := t.TempDir()
	path := filepath.Join(d, "list.json")
	target := filepath.Join(d, "elsewhere")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Symlink(target, indexPath(path))
	for _, e := range entries09(3) {
		if _, err := AppendCodec(path, JSON, e, nil); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("symlink target rewritten: %q", b)
	}
	if l, err := Read(path, JSON); err != nil || len(l) != 3 {
		t.Errorf("list %d entries, %v", len(l), err)
	}
}

// An unreadable list is never rewritten, even if an index names its hash.
func TestAppendIndexKeepsCorruptList(t *testing.T) {
	for _, c := range codecs {
		path := filepath.Join(t.TempDir(), "list")
		os.WriteFile(path, []byte("[{"), 0o644)
		os.WriteFile(indexPath(path), newIndex(codecName(c), []byte("[{"), nil).marshal(), 0o644)
		if _, err := AppendCodec(path, c, entry09(1), nil); !errors.Is(err, ErrList) {
			t.Errorf("%s: err = %v, want ErrList", codecName(c), err)
		}
		if b, _ := os.ReadFile(path); string(b) != "[{" {
			t.Errorf("%s: corrupt list rewritten: %q", codecName(c), b)
		}
	}
}

// A failed commit restores the list and an index consistent with it; the
// next appends are still exact.
func TestAppendIndexRollback(t *testing.T) {
	boom := errors.New("tpm gone")
	fail := func(Entry) error { return boom }
	l := entries09(4)
	for _, c := range codecs {
		t.Run(codecName(c), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "list")
			if _, err := AppendCodec(path, c, l[0], fail); !errors.Is(err, boom) {
				t.Fatalf("err = %v", err)
			}
			for _, p := range []string{path, indexPath(path)} {
				if _, err := os.Lstat(p); !os.IsNotExist(err) {
					t.Errorf("a failed first append left %s: %v", p, err)
				}
			}
			AppendCodec(path, c, l[0], nil)
			AppendCodec(path, c, l[1], nil)
			before, _ := os.ReadFile(path)
			idxBefore, _ := os.ReadFile(indexPath(path))
			if _, err := AppendCodec(path, c, l[2], fail); !errors.Is(err, boom) {
				t.Fatalf("err = %v", err)
			}
			after, _ := os.ReadFile(path)
			idxAfter, _ := os.ReadFile(indexPath(path))
			if !bytes.Equal(before, after) || !bytes.Equal(idxBefore, idxAfter) {
				t.Error("list or index changed by a failed append")
			}
			checkList(t, path, c, l[:2])
			AppendCodec(path, c, l[2], nil)
			AppendCodec(path, c, l[3], nil)
			checkList(t, path, c, l)
		})
	}
}

// Concurrent appends to a CMC 0.9 list keep list and index exact.
func TestAppendIndexConcurrent(t *testing.T) {
	c := Artifact{Format: JSON, Index: 10}
	path := filepath.Join(t.TempDir(), "list.json")
	const n = 30
	l := entries09(n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				if _, err := AppendCodec(path, c, l[i], nil); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got, err := ReadCodec(path, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d entries, want %d", len(got), n)
	}
	checkList(t, path, c, got)
}

// The CBOR head encoding against RFC 8949 Appendix A.
func TestCBORHead(t *testing.T) {
	for _, tc := range []struct {
		v    uint64
		want []byte
	}{{23, []byte{0x97}}, {24, []byte{0x98, 0x18}}, {255, []byte{0x98, 0xff}}, {256, []byte{0x99, 0x01, 0x00}}, {65535, []byte{0x99, 0xff, 0xff}}, {65536, []byte{0x9a, 0x00, 0x01, 0x00, 0x00}}, {1 << 32, []byte{0x9b, 0, 0, 0, 1, 0, 0, 0, 0}}} {
		got := appendCBORHead(nil, 4, tc.v)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("array(%d): % x, want % x", tc.v, got, tc.want)
		}
		if m, v, next, ok := cborHead(got, 0); !ok || m != 4 || v != tc.v || next != len(got) {
			t.Errorf("read back array(%d): %d %d %d %v", tc.v, m, v, next, ok)
		}
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add(newIndex("v0.9/json/10", []byte("x"), []Entry{entry("a"), entry("b")}).marshal())
	f.Add([]byte(indexMagic + "\x00"))
	f.Add([]byte(indexMagic + "\x01a" + string(make([]byte, 32)) + "\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		x, err := parseIndex(raw)
		if err != nil {
			return
		}
		if !bytes.Equal(x.marshal(), raw) {
			t.Fatalf("accepted index does not re-encode to its bytes")
		}
		if len(x.templates)*len(bundle.Digest{}) > len(raw) {
			t.Fatal("more templates than bytes")
		}
	})
}

// Splicing never panics on bytes that are not Encode's (a forged index
// can name any list's hash), and what it accepts keeps the old bytes.
func FuzzSplice(f *testing.F) {
	for _, c := range codecs {
		b, _ := c.Encode(entries09(2))
		f.Add(b, 2)
	}
	f.Add([]byte{0xa3, 0x00, 0x7b, 0xff}, 1)
	f.Fuzz(func(t *testing.T, old []byte, n int) {
		for _, c := range codecs {
			out, err := c.(splicer).splice(old, n, entry09(1))
			if err == nil && len(out) <= len(old) {
				t.Fatalf("%s: splice gave %d bytes from %d", codecName(c), len(out), len(old))
			}
		}
	})
}

// plantIndex replaces the list's index by one that matches the list's
// bytes and claims the template hashes of claim too, as someone who can
// create files next to the list (but not write the list) could.
func plantIndex(t *testing.T, path string, c Codec, l, claim []Entry) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x := newIndex(codecName(c), raw, l)
	for _, e := range claim {
		x.templates = append(x.templates, e.TemplateSha256)
	}
	os.Remove(indexPath(path))
	if err := os.WriteFile(indexPath(path), x.marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	return x.marshal()
}

// An index that matches the list's hash but that its writer did not
// write alone — owned by another uid, writable by group or others, or
// next to a list of another owner — is ignored: the entry it claims is
// appended and committed, the planted file is replaced by rename (never
// written into) with a fresh index of the effective uid, mode 0644.
func TestAppendIgnoresForeignIndex(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (chown) in CI")
		}
		t.Skip("needs root to chown the planted index")
	}
	l := entries09(3)
	for _, c := range codecs {
		for name, plant := range map[string]func(path string){
			"other-uid":      func(path string) { os.Chown(indexPath(path), 65534, 65534) },
			"other-writable": func(path string) { os.Chmod(indexPath(path), 0o666) },
			"group-writable": func(path string) { os.Chmod(indexPath(path), 0o664) },
			"list-other-uid": func(path string) { os.Chown(path, 65534, 65534) },
		} {
			t.Run(codecName(c)+"/"+name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "list")
				if _, err := AppendCodec(path, c, l[0], nil); err != nil {
					t.Fatal(err)
				}
				planted := plantIndex(t, path, c, l[:1], l[1:])
				plant(path)
				f, err := os.Open(indexPath(path))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				var committed []Entry
				commit := func(e Entry) error { committed = append(committed, e); return nil }
				for _, e := range l[1:] {
					if added, err := AppendCodec(path, c, e, commit); err != nil || !added {
						t.Fatalf("entry claimed by a planted index: added %v, %v", added, err)
					}
				}
				if len(committed) != 2 || committed[0].TemplateSha256 != l[1].TemplateSha256 || committed[1].TemplateSha256 != l[2].TemplateSha256 {
					t.Errorf("committed %d entries, want l[1], l[2]", len(committed))
				}
				checkList(t, path, c, l)
				if b, _ := io.ReadAll(f); !bytes.Equal(b, planted) {
					t.Error("the planted index was written into, not replaced")
				}
				fi, err := os.Lstat(indexPath(path))
				if err != nil {
					t.Fatal(err)
				}
				if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || fi.Mode() != 0o644 {
					t.Errorf("fresh index: uid %d, mode %v; want 0, -rw-r--r--", st.Uid, fi.Mode())
				}
			})
		}
	}
}

// The index written by Append itself is trusted: a duplicate it names is
// not appended again, and the list is not decoded (a list the index
// names but that no longer decodes would fail the full path).
func TestAppendOwnIndexTrusted(t *testing.T) {
	c := Artifact{Format: JSON, Index: 10}
	path := filepath.Join(t.TempDir(), "list.json")
	l := entries09(2)
	for _, e := range l {
		if _, err := AppendCodec(path, c, e, nil); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(path)
	if x, ok := validIndex(trustedIndex(path, mustLstat(t, path)), c, raw); !ok || len(x.templates) != 2 {
		t.Fatalf("own index not trusted: %v", ok)
	}
	called := false
	if added, err := AppendCodec(path, c, l[1], func(Entry) error { called = true; return nil }); err != nil || added || called {
		t.Errorf("duplicate: added %v, committed %v, %v", added, called, err)
	}
}

func mustLstat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// An index path that is a FIFO is neither read (no hang) nor written
// through, and stays a FIFO; the append still works.
func TestAppendIndexFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.json")
	if err := syscall.Mkfifo(indexPath(path), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries09(3) {
		if _, err := AppendCodec(path, JSON, e, nil); err != nil {
			t.Fatal(err)
		}
	}
	if fi := mustLstat(t, indexPath(path)); fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("index FIFO replaced by %v", fi.Mode())
	}
	if l, err := Read(path, JSON); err != nil || len(l) != 3 {
		t.Errorf("list %d entries, %v", len(l), err)
	}
}
