package measurelist

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver"
)

func entry(name string) Entry {
	c := sha256.Sum256([]byte("config " + name))
	r := sha256.Sum256([]byte("rootfs " + name))
	th := sha256.Sum256(append(c[:], r[:]...))
	return Entry{TemplateSha256: th, Name: name, ConfigSha256: c, RootfsSha256: r}
}

// digest is 32 bytes of b.
func digest(b byte) (d bundle.Digest) {
	copy(d[:], bytes.Repeat([]byte{b}, len(d)))
	return d
}

func TestListJSON(t *testing.T) {
	pcr := driver.PCR(11)
	e := Entry{Pcr: &pcr, TemplateSha256: digest(0xab), Name: "web",
		ConfigSha256: digest(0x01), RootfsSha256: digest(0x02)}
	b, err := Encode([]Entry{e}, JSON)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`[
  {
    "pcr": 11,
    "templateSha256": "%s",
    "name": "web",
    "configSha256": "%s",
    "rootfsSha256": "%s"
  }
]
`, bytes.Repeat([]byte("ab"), 32), bytes.Repeat([]byte("01"), 32), bytes.Repeat([]byte("02"), 32))
	if string(b) != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", b, want)
	}
	back, err := Decode(b, JSON)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Entry{e}, back); d != "" {
		t.Error(d)
	}
}

// TestListCBOR pins the encoding against bytes written by hand from RFC
// 8949: an array of maps with integer keys 0-4, byte strings for hashes.
func TestListCBOR(t *testing.T) {
	pcr := driver.PCR(11)
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	e := Entry{Pcr: &pcr, TemplateSha256: digest(0xab), Name: "web", ConfigSha256: digest(1), RootfsSha256: digest(2)}
	var want []byte
	want = append(want, 0x81, 0xa5) // array(1), map(5)
	want = append(want, 0x00, 0x0b) // 0: 11
	want = append(want, 0x01, 0x58, 0x20)
	want = append(want, h(0xab)...) // 1: bytes(32)
	want = append(want, 0x02, 0x63, 'w', 'e', 'b')
	want = append(want, 0x03, 0x58, 0x20)
	want = append(want, h(1)...)
	want = append(want, 0x04, 0x58, 0x20)
	want = append(want, h(2)...)
	got, err := Encode([]Entry{e}, CBOR)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("CBOR\n got %x\nwant %x", got, want)
	}
	back, err := Decode(got, CBOR)
	if err != nil || !cmp.Equal([]Entry{e}, back) {
		t.Errorf("round trip: %v %v", err, cmp.Diff([]Entry{e}, back))
	}
}

func TestDecodeListErrors(t *testing.T) {
	tests := []struct {
		format Format
		in     string
	}{
		{JSON, "{"},
		{JSON, `{"name":"x"}`},
		{JSON, `[{"name":"x","templateSha256":"00","configSha256":"00","rootfsSha256":"00"}]`},
		{JSON, `[{"bogus":1}]`},
		{JSON, `[] []`},
		{CBOR, "\xa0"},
		{CBOR, "\x80\x80"},
		{"xml", "<a/>"},
	}
	for _, tt := range tests {
		if _, err := Decode([]byte(tt.in), tt.format); !errors.Is(err, ErrList) {
			t.Errorf("Decode(%q, %s) = %v, want ErrList", tt.in, tt.format, err)
		}
	}
	if l, err := Decode([]byte(" \n"), JSON); err != nil || l != nil {
		t.Errorf("blank list: %v %v", l, err)
	}
}

func TestAppend(t *testing.T) {
	for _, format := range []Format{JSON, CBOR} {
		t.Run(string(format), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "list")
			var recorded []string
			rec := func(e Entry) error { recorded = append(recorded, e.Name); return nil }
			for i, tc := range []struct {
				e     Entry
				added bool
			}{{entry("a"), true}, {entry("b"), true}, {entry("a"), false}} {
				added, err := Append(path, format, tc.e, rec)
				if err != nil || added != tc.added {
					t.Fatalf("append %d: added %v err %v; want added %v", i, added, err, tc.added)
				}
			}
			l, err := Read(path, format)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]Entry{entry("a"), entry("b")}, l); d != "" {
				t.Error(d)
			}
			if d := cmp.Diff([]string{"a", "b"}, recorded); d != "" {
				t.Errorf("driver calls: %s", d)
			}
		})
	}
}

// A driver failure restores the previous list, so list and PCR agree.
func TestAppendEntryRollback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.json")
	boom := errors.New("tpm gone")
	if _, err := Append(path, JSON, entry("a"), func(Entry) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed first append left a list: %v", err)
	}
	Append(path, JSON, entry("a"), nil)
	before, _ := os.ReadFile(path)
	if _, err := Append(path, JSON, entry("b"), func(Entry) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Errorf("list changed by a failed append:\n%s\n->\n%s", before, after)
	}
}

// An unreadable list is evidence: never overwrite it.
func TestAppendEntryKeepsCorruptList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.json")
	os.WriteFile(path, []byte("[{"), 0o644)
	if _, err := Append(path, JSON, entry("a"), nil); !errors.Is(err, ErrList) {
		t.Fatalf("err = %v, want ErrList", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "[{" {
		t.Errorf("corrupt list rewritten: %q", b)
	}
}

// Concurrent appends (separate lock descriptions, as separate processes
// have) lose nothing.
func TestAppendEntryConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.cbor")
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every entry twice: duplicates must collapse.
			for range 2 {
				if _, err := Append(path, CBOR, entry(fmt.Sprint(i)), nil); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	l, err := Read(path, CBOR)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != n {
		t.Errorf("%d entries, want %d", len(l), n)
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := Encode([]Entry{entry("a")}, CBOR)
	f.Add(b, true)
	j, _ := Encode([]Entry{entry("a")}, JSON)
	f.Add(j, false)
	f.Fuzz(func(t *testing.T, raw []byte, isCBOR bool) {
		format := JSON
		if isCBOR {
			format = CBOR
		}
		l, err := Decode(raw, format)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same list.
		b, err := Encode(l, format)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := Decode(b, format)
		if err != nil || !cmp.Equal(l, l2, cmpopts.EquateEmpty()) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
