package shim

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
)

func entry(name string) Entry {
	c := sha256.Sum256([]byte("config " + name))
	r := sha256.Sum256([]byte("rootfs " + name))
	th := sha256.Sum256(append(c[:], r[:]...))
	return Entry{TemplateSha256: th[:], Name: name, ConfigSha256: c[:], RootfsSha256: r[:]}
}

func TestListJSON(t *testing.T) {
	pcr := 11
	e := Entry{Pcr: &pcr, TemplateSha256: bytes.Repeat([]byte{0xab}, 32), Name: "web",
		ConfigSha256: bytes.Repeat([]byte{0x01}, 32), RootfsSha256: bytes.Repeat([]byte{0x02}, 32)}
	b, err := EncodeList([]Entry{e}, FormatJSON)
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
	back, err := DecodeList(b, FormatJSON)
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
	pcr := 11
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	e := Entry{Pcr: &pcr, TemplateSha256: h(0xab), Name: "web", ConfigSha256: h(1), RootfsSha256: h(2)}
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
	got, err := EncodeList([]Entry{e}, FormatCBOR)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("CBOR\n got %x\nwant %x", got, want)
	}
	back, err := DecodeList(got, FormatCBOR)
	if err != nil || !cmp.Equal([]Entry{e}, back) {
		t.Errorf("round trip: %v %v", err, cmp.Diff([]Entry{e}, back))
	}
}

func TestDecodeListErrors(t *testing.T) {
	tests := []struct{ format, in string }{
		{FormatJSON, "{"},
		{FormatJSON, `{"name":"x"}`},
		{FormatJSON, `[{"name":"x","templateSha256":"00","configSha256":"00","rootfsSha256":"00"}]`},
		{FormatJSON, `[{"bogus":1}]`},
		{FormatJSON, `[] []`},
		{FormatCBOR, "\xa0"},
		{FormatCBOR, "\x80\x80"},
		{"xml", "<a/>"},
	}
	for _, tt := range tests {
		if _, err := DecodeList([]byte(tt.in), tt.format); !errors.Is(err, ErrList) {
			t.Errorf("DecodeList(%q, %s) = %v, want ErrList", tt.in, tt.format, err)
		}
	}
	if l, err := DecodeList([]byte(" \n"), FormatJSON); err != nil || l != nil {
		t.Errorf("blank list: %v %v", l, err)
	}
}

func TestAppendEntry(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatCBOR} {
		t.Run(format, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "list")
			var recorded []string
			rec := func(e Entry) error { recorded = append(recorded, e.Name); return nil }
			for i, tc := range []struct {
				e     Entry
				added bool
			}{{entry("a"), true}, {entry("b"), true}, {entry("a"), false}} {
				added, err := AppendEntry(path, format, tc.e, rec)
				if err != nil || added != tc.added {
					t.Fatalf("append %d: added %v err %v; want added %v", i, added, err, tc.added)
				}
			}
			l, err := ReadList(path, format)
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
	if _, err := AppendEntry(path, FormatJSON, entry("a"), func(Entry) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed first append left a list: %v", err)
	}
	AppendEntry(path, FormatJSON, entry("a"), nil)
	before, _ := os.ReadFile(path)
	if _, err := AppendEntry(path, FormatJSON, entry("b"), func(Entry) error { return boom }); !errors.Is(err, boom) {
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
	if _, err := AppendEntry(path, FormatJSON, entry("a"), nil); !errors.Is(err, ErrList) {
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
				if _, err := AppendEntry(path, FormatCBOR, entry(fmt.Sprint(i)), nil); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	l, err := ReadList(path, FormatCBOR)
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != n {
		t.Errorf("%d entries, want %d", len(l), n)
	}
}

func FuzzDecodeList(f *testing.F) {
	b, _ := EncodeList([]Entry{entry("a")}, FormatCBOR)
	f.Add(b, true)
	j, _ := EncodeList([]Entry{entry("a")}, FormatJSON)
	f.Add(j, false)
	f.Fuzz(func(t *testing.T, raw []byte, isCBOR bool) {
		format := FormatJSON
		if isCBOR {
			format = FormatCBOR
		}
		l, err := DecodeList(raw, format)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same list.
		b, err := EncodeList(l, format)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := DecodeList(b, format)
		if err != nil || !cmp.Equal(l, l2, cmpopts.EquateEmpty()) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
