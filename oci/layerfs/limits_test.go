package layerfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/refval/refval/bundle"
	ti "github.com/refval/refval/internal/testimage"
)

var small = bundle.Limits{LayerBytes: 1 << 20, ImageBytes: 1 << 21, Expansion: 4, ExpansionFloor: 64 << 10, Entries: 64, Depth: 16, NameBytes: 32, PathBytes: 128}

// TestBudget: each limit stops a layer at the entry that exceeds it, with
// a LimitError naming the entry.
func TestBudget(t *testing.T) {
	for name, c := range map[string]struct {
		layers []ti.Layer
		want   bundle.Limit
		path   string
	}{
		"entries over layers": {[]ti.Layer{{ti.File("a", 0o644, "")}, make(ti.Layer, 0, 64)}, bundle.LimitEntries, ""},
		"layer bytes":         {[]ti.Layer{{ti.ZeroFile("a", 1<<19), ti.ZeroFile("b", 1<<19+1)}}, bundle.LimitLayerBytes, "b"},
		"image bytes":         {[]ti.Layer{{ti.ZeroFile("a", 1<<20)}, {ti.ZeroFile("b", 1<<20)}, {ti.ZeroFile("c", 1)}}, bundle.LimitImageBytes, "c"},
		"sparse expansion":    {[]ti.Layer{{ti.Sparse("s", 1<<19)}}, bundle.LimitExpansion, "s"},
		"depth":               {[]ti.Layer{{ti.File(ti.DeepPath(16, "f"), 0o644, "")}}, bundle.LimitDepth, "d/"},
		"name":                {[]ti.Layer{{ti.Dir(strings.Repeat("n", 33), 0o755)}}, bundle.LimitNameBytes, "nnn"},
		"path":                {[]ti.Layer{{ti.File(strings.Repeat("n/", 64)+"f", 0o644, "")}}, bundle.LimitDepth, "n/"},
		"path bytes":          {[]ti.Layer{{ti.File(strings.Repeat(strings.Repeat("n", 30)+"/", 5)+"f", 0o644, "")}}, bundle.LimitPathBytes, "nnn"},
		"symlink grows path":  {[]ti.Layer{{ti.Symlink("l", strings.Repeat(strings.Repeat("n", 30)+"/", 4)), ti.File("l/ffffffffff", 0o644, "")}}, bundle.LimitPathBytes, "/nnn"},
		"hardlink target":     {[]ti.Layer{{ti.Hardlink("h", strings.Repeat("x/", 20)+"f")}}, bundle.LimitDepth, "h"},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "entries over layers" {
				for i := 0; i < 64; i++ {
					c.layers[1] = append(c.layers[1], ti.File(string(rune('a'+i%26))+strings.Repeat("x", i/26), 0o644, ""))
				}
				c.path = c.layers[1][63].Path
			}
			tr := New(WithLimits(small))
			var err error
			for _, b := range ti.LayerTars(t, c.layers) {
				if err = tr.Apply(context.Background(), bytes.NewReader(b)); err != nil {
					break
				}
			}
			var le *bundle.LimitError
			if !errors.As(err, &le) || !errors.Is(err, bundle.ErrLimitExceeded) {
				t.Fatalf("err = %v, want a LimitError", err)
			}
			if le.Limit != c.want || !strings.Contains(le.Path, c.path) {
				t.Errorf("%v: limit %s at %q, want %s at %q", err, le.Limit, le.Path, c.want, c.path)
			}
		})
	}
	// Within every limit: accepted.
	tr := New(WithLimits(small))
	if err := tr.Apply(context.Background(), bytes.NewReader(ti.LayerTars(t, []ti.Layer{{ti.Sparse("s", 32<<10), ti.File(ti.DeepPath(15, "f"), 0o644, "x")}})[0])); err != nil {
		t.Fatal(err)
	}
}

// FuzzBudgetEntries: whatever the layer, reading it through a budget
// stops within the limits: never more entries or content than allowed.
func FuzzBudgetEntries(f *testing.F) {
	for _, layers := range ti.EdgeCases() {
		for end := range []ti.Ending{ti.EndOfArchive, ti.EndUnpadded} {
			for _, b := range ti.LayerTarsEnding(f, layers, ti.Ending(end)) {
				f.Add(b)
			}
		}
	}
	for _, l := range []ti.Layer{{ti.Sparse("s", 1<<60)}, {ti.Sparse("s", 1<<22)}, {ti.File(ti.DeepPath(40, "f"), 0o644, "")}} {
		f.Add(ti.LayerTars(f, []ti.Layer{l})[0])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewBudget(small)
		var entries, content int64
		err := b.Entries(context.Background(), bytes.NewReader(data), func(_ int, hdr *tar.Header, r io.Reader) error {
			entries++
			n, err := io.Copy(io.Discard, r)
			content += n
			return err
		})
		if entries > small.Entries || content > small.LayerBytes {
			t.Fatalf("%d entries, %d content bytes read (err %v)", entries, content, err)
		}
		if content > small.ExpansionFloor+32<<10 && content/small.Expansion > int64(len(data)) {
			t.Fatalf("%d content bytes from %d bytes of layer", content, len(data))
		}
	})
}

// TestRepeatedOpaqueWhiteouts: n entries and n opaque whiteouts of their
// directory in one layer cost O(n) directory sweeps, not n² steps; the
// whiteouts still remove what lower layers put there.
func TestRepeatedOpaqueWhiteouts(t *testing.T) {
	const n = 2000
	upper := ti.Layer{ti.Dir("d", 0o755)}
	for i := 0; i < n; i++ {
		upper = append(upper, ti.Dir(fmt.Sprintf("d/s%d", i), 0o755), ti.Opaque("d"))
	}
	tars := ti.LayerTars(t, []ti.Layer{{ti.Dir("d", 0o755), ti.File("d/lower", 0o644, "x")}, upper})
	tr := New()
	for _, b := range tars {
		if err := tr.Apply(context.Background(), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if v := tr.sweeps; v > 2*n+2 {
		t.Errorf("%d directory sweeps for %d entries", v, 2*n)
	}
	if _, ok, _ := tr.LookupFile("/d/lower"); ok {
		t.Error("the opaque whiteout kept a lower entry")
	}
}
