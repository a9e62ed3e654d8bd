package layerfs

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"path"

	"github.com/refval/refval/bundle"
)

// Budget counts what the layers of one image ask for against
// bundle.Limits: entries and expanded bytes over all layers, expanded
// bytes per layer, and per entry the depth, name and path length. The
// in-memory tree and the unpacker read layers through one Budget per
// image (Budget.Entries), so both refuse exactly the same images. Not safe
// for concurrent use.
type Budget struct {
	lim        bundle.Limits
	entries    int64
	imageBytes int64
}

// NewBudget returns a budget for one image (zero fields of l are their
// defaults, see bundle.Limits.Resolved).
func NewBudget(l bundle.Limits) *Budget { return &Budget{lim: l.Resolved()} }

// Limits returns the (resolved) limits of the budget.
func (b *Budget) Limits() bundle.Limits { return b.lim }

// countReader counts the bytes of a layer's tar stream.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// layerState is the part of a budget that one layer uses.
type layerState struct {
	b       *Budget
	stream  *countReader
	content int64 // file content bytes of the layer read so far
	decl    int64 // declared file sizes of the layer so far
}

// contentReader checks, as a regular file's content is read, that file
// content does not outgrow the layer's tar stream by more than the
// expansion ratio: a sparse file's holes read as zeros that the stream
// does not hold.
type contentReader struct {
	r    io.Reader
	ls   *layerState
	name string
}

func (c *contentReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.ls.content += int64(n)
	if e := c.ls.b.lim.Expansion; e >= 0 && c.ls.content > c.ls.b.lim.ExpansionFloor && c.ls.content/e > c.ls.stream.n {
		return n, &bundle.LimitError{Limit: bundle.LimitExpansion, Value: (c.ls.content + c.ls.stream.n - 1) / max(c.ls.stream.n, 1), Max: e, Path: c.name}
	}
	return n, err
}

// Entries is the package function Entries with the limits of b applied
// before fn sees an entry, and while its content is read. A
// *bundle.LimitError (wrapping bundle.ErrLimitExceeded) names the entry
// and the limit.
func (b *Budget) Entries(ctx context.Context, r io.Reader, fn func(i int, hdr *tar.Header, content io.Reader) error) error {
	ls := &layerState{b: b, stream: &countReader{r: r}}
	return entries(ctx, ls.stream, func(i int, hdr *tar.Header, content io.Reader) error {
		if err := ls.check(hdr); err != nil {
			return err
		}
		if hasContent(hdr) {
			content = &contentReader{r: content, ls: ls, name: hdr.Name}
		}
		return fn(i, hdr, content)
	})
}

// hasContent reports whether the tar reader returns content for the
// entry: every type but those archive/tar reads as header only (a
// regular file, and any type it does not know).
func hasContent(hdr *tar.Header) bool {
	switch hdr.Typeflag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return false
	}
	return true
}

// check applies the limits to one entry's header.
func (ls *layerState) check(hdr *tar.Header) error {
	b := ls.b
	b.entries++
	if err := bundle.CheckLimit(bundle.LimitEntries, b.entries, b.lim.Entries, hdr.Name); err != nil {
		return err
	}
	if hasContent(hdr) {
		if hdr.Size < 0 {
			return invalid("entry %q: negative size %d", hdr.Name, hdr.Size)
		}
		ls.decl += hdr.Size
		b.imageBytes += hdr.Size
		if err := bundle.CheckLimit(bundle.LimitLayerBytes, ls.decl, b.lim.LayerBytes, hdr.Name); err != nil {
			return err
		}
		if err := bundle.CheckLimit(bundle.LimitImageBytes, b.imageBytes, b.lim.ImageBytes, hdr.Name); err != nil {
			return err
		}
	}
	if err := b.CheckPath(splitClean(hdr.Name), hdr.Name); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeLink:
		return b.CheckPath(splitClean(hdr.Linkname), hdr.Name)
	case tar.TypeSymlink:
		if len(hdr.Linkname) > bundle.MaxPathBytes {
			return invalid("entry %q: symlink target of %d bytes (Linux allows %d)", hdr.Name, len(hdr.Linkname), bundle.MaxPathBytes)
		}
	}
	return nil
}

// CheckPath applies Depth, NameBytes and PathBytes to the path made of
// comps (cleaned components below the root); name is the entry reported,
// "" for the path of comps ("/a/b").
func (b *Budget) CheckPath(comps []string, name string) error {
	err := bundle.CheckLimit(bundle.LimitDepth, int64(len(comps)), int64(b.lim.Depth), name)
	total := 0
	for _, c := range comps {
		if err != nil {
			break
		}
		err = bundle.CheckLimit(bundle.LimitNameBytes, int64(len(c)), int64(b.lim.NameBytes), name)
		total += 1 + len(c)
	}
	if err == nil {
		err = bundle.CheckLimit(bundle.LimitPathBytes, int64(total), int64(b.lim.PathBytes), name)
	}
	if le := (*bundle.LimitError)(nil); name == "" && errors.As(err, &le) {
		le.Path = path.Join(append([]string{"/"}, comps...)...)
	}
	return err
}
