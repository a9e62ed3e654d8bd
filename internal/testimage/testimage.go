package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ModTime is the modification time of every entry written by this package
// (fixed, so that output is deterministic).
var ModTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Entry is one tar header (plus content) of a layer. Path is written
// verbatim as the header name; Type is a tar typeflag (tar.TypeReg,
// tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock,
// tar.TypeFifo); Mode is written verbatim (permission bits including
// 04000 setuid, 02000 setgid, 01000 sticky); Linkname is the symlink target
// or the hardlink's target path; Xattrs become PAX SCHILY.xattr.KEY records
// (values are raw bytes in a string). Content is written for TypeReg only.
type Entry struct {
	Path               string
	Type               byte
	Mode               int64
	UID, GID           int
	Content            []byte
	Linkname           string
	Devmajor, Devminor int64
	Xattrs             map[string]string
	// RawPAX records are written verbatim, by hand, in a PAX extended
	// header of their own before the entry: Go's tar writer refuses
	// records such as GNU.sparse.* (see Sparse). Not combined with Xattrs
	// or non-ASCII names, which make Go write a PAX header of its own.
	RawPAX map[string]string
}

// Layer is the ordered list of entries of one layer tarball.
type Layer []Entry

// Image describes one single-platform image.
type Image struct {
	// Config is the execution config (config.config in the image config).
	Config ocispec.ImageConfig
	// Layers, bottom first.
	Layers []Layer
	// Platform of the image; OS and Architecture default to the host's.
	Platform ocispec.Platform
	// Compress writes gzip layers (tar+gzip); otherwise plain tar.
	Compress bool
	// Annotations go into the image manifest.
	Annotations map[string]string
	// Ending is how every layer tarball ends (default EndOfArchive).
	Ending Ending
}

// Ending says how a layer tarball ends. Real layers differ here: Go's
// archive/tar and containerd write the two zero blocks of the
// end-of-archive marker, GNU tar pads them to a 10 KiB record, umoci
// insert (0.4.7) writes none at all. Readers must take all of them alike.
type Ending int

const (
	// EndOfArchive: the two 512-byte zero blocks (archive/tar's Close).
	EndOfArchive Ending = iota
	// EndNone: no end-of-archive blocks; the last entry's content is
	// padded to a block, then EOF.
	EndNone
	// EndUnpadded: what umoci insert (0.4.7) writes: no end-of-archive
	// blocks and no padding after the last entry's content (GNU tar calls
	// it "Unexpected EOF"; Go's archive/tar, umoci and CMC read it).
	EndUnpadded
	// EndOneBlock: a single zero block, then EOF (tar readers accept it).
	EndOneBlock
	// EndPadded: end-of-archive blocks padded with zero blocks to a
	// 10240-byte record, as GNU tar writes, plus one more record.
	EndPadded
	// EndTruncated: the stream stops in the middle of the last entry's
	// content (or header): a broken layer every reader must refuse.
	EndTruncated
)

// Endings lists the endings an image reader must accept.
var Endings = map[string]Ending{
	"end-of-archive":        EndOfArchive,
	"no end-of-archive":     EndNone,
	"umoci insert":          EndUnpadded,
	"one zero block":        EndOneBlock,
	"padded end-of-archive": EndPadded,
}

// Dir returns a directory entry owned by root.
func Dir(path string, mode int64) Entry {
	return Entry{Path: path, Type: tar.TypeDir, Mode: mode}
}

// File returns a regular file entry owned by root.
func File(path string, mode int64, content string) Entry {
	return Entry{Path: path, Type: tar.TypeReg, Mode: mode, Content: []byte(content)}
}

// Symlink returns a symlink entry (mode 0777, as Linux reports symlinks).
func Symlink(path, target string) Entry {
	return Entry{Path: path, Type: tar.TypeSymlink, Mode: 0o777, Linkname: target}
}

// Hardlink returns a hardlink entry to target (a path in the same image).
func Hardlink(path, target string) Entry {
	return Entry{Path: path, Type: tar.TypeLink, Linkname: target}
}

// Whiteout returns the OCI whiteout that deletes path in lower layers.
func Whiteout(path string) Entry {
	dir, base := filepath.Split(path)
	return Entry{Path: dir + ".wh." + base, Type: tar.TypeReg, Mode: 0o644}
}

// Opaque returns the OCI opaque-directory marker for dir: lower layers'
// children of dir are hidden.
func Opaque(dir string) Entry {
	return Entry{Path: strings.TrimSuffix(dir, "/") + "/.wh..wh..opq", Type: tar.TypeReg, Mode: 0o644}
}

// CharDev returns a character device entry.
func CharDev(path string, mode, major, minor int64) Entry {
	return Entry{Path: path, Type: tar.TypeChar, Mode: mode, Devmajor: major, Devminor: minor}
}

// BlockDev returns a block device entry.
func BlockDev(path string, mode, major, minor int64) Entry {
	return Entry{Path: path, Type: tar.TypeBlock, Mode: mode, Devmajor: major, Devminor: minor}
}

// Fifo returns a named pipe entry.
func Fifo(path string, mode int64) Entry {
	return Entry{Path: path, Type: tar.TypeFifo, Mode: mode}
}

// Owned returns e with its owner set.
func (e Entry) Owned(uid, gid int) Entry { e.UID, e.GID = uid, gid; return e }

// WithXattr returns e with the extended attribute key set to value.
func (e Entry) WithXattr(key, value string) Entry {
	m := make(map[string]string, len(e.Xattrs)+1)
	for k, v := range e.Xattrs {
		m[k] = v
	}
	m[key] = value
	e.Xattrs = m
	return e
}

// Capability returns a version-2 security.capability xattr value (struct
// vfs_cap_data, little-endian) granting the given capability numbers
// (< 64) as permitted, with the effective bit set.
func Capability(caps ...uint) string {
	var perm [2]uint32
	for _, c := range caps {
		perm[c/32] |= 1 << (c % 32)
	}
	b := make([]byte, 20)
	le := func(off int, v uint32) {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	le(0, 0x02000000|0x000001) // VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE
	le(4, perm[0])             // permitted[0]
	le(8, 0)                   // inheritable[0]
	le(12, perm[1])            // permitted[1]
	le(16, 0)                  // inheritable[1]
	return string(b)
}

// LayerTars returns the uncompressed tarball of every layer, failing tb
// on error (for tests that feed layers to an applier).
func LayerTars(tb testing.TB, layers []Layer) [][]byte {
	tb.Helper()
	return LayerTarsEnding(tb, layers, EndOfArchive)
}

// LayerTar returns the uncompressed tarball of l.
func LayerTar(l Layer) ([]byte, error) { return LayerTarEnding(l, EndOfArchive) }

// LayerTarsEnding is LayerTars with every layer ending as end says.
func LayerTarsEnding(tb testing.TB, layers []Layer, end Ending) [][]byte {
	tb.Helper()
	out := make([][]byte, 0, len(layers))
	for _, l := range layers {
		b, err := LayerTarEnding(l, end)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// LayerTarEnding returns the uncompressed tarball of l ending as end says.
func LayerTarEnding(l Layer, end Ending) ([]byte, error) {
	b, err := layerTar(l)
	if err != nil {
		return nil, err
	}
	const block, eoa = 512, 1024
	body := b[:len(b)-eoa] // archive/tar's Close wrote exactly two zero blocks
	switch end {
	case EndOfArchive:
		return b, nil
	case EndNone:
		return body, nil
	case EndUnpadded:
		if len(l) > 0 {
			if e := l[len(l)-1]; e.Type == tar.TypeReg {
				body = body[:len(body)-(block-len(e.Content)%block)%block]
			}
		}
		return body, nil
	case EndOneBlock:
		return b[:len(b)-block], nil
	case EndPadded:
		n := (len(b)+10239)/10240*10240 + 10240
		return append(b, make([]byte, n-len(b))...), nil
	case EndTruncated:
		if len(l) == 0 {
			return nil, errors.New("testimage: an empty layer cannot be truncated")
		}
		// Cut the last entry in half: its content when it has any, its
		// header otherwise (a cut in the padding would go unnoticed).
		e := l[len(l)-1]
		if e.Type == tar.TypeReg && len(e.Content) > 0 {
			start := len(body) - (len(e.Content)+block-1)/block*block
			return body[:start+len(e.Content)/2], nil
		}
		return body[:len(body)-block/2], nil
	}
	return nil, fmt.Errorf("testimage: unknown ending %d", end)
}

func layerTar(l Layer) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range l {
		hdr := &tar.Header{
			Typeflag: e.Type,
			Name:     e.Path,
			Linkname: e.Linkname,
			Mode:     e.Mode,
			Uid:      e.UID,
			Gid:      e.GID,
			ModTime:  ModTime,
			Devmajor: e.Devmajor,
			Devminor: e.Devminor,
		}
		if e.Type == tar.TypeReg || e.Type == tar.TypeRegA {
			hdr.Size = int64(len(e.Content))
		}
		if len(e.Xattrs) > 0 {
			hdr.PAXRecords = map[string]string{}
			for k, v := range e.Xattrs {
				hdr.PAXRecords["SCHILY.xattr."+k] = v
			}
			hdr.Format = tar.FormatPAX
		}
		if !isASCII(e.Path) || !isASCII(e.Linkname) {
			// PAX path records may carry any bytes but NUL; Go only writes
			// them when asked for PAX, and USTAR cannot hold non-ASCII.
			hdr.Format = tar.FormatPAX
		}
		if len(e.RawPAX) > 0 {
			if err := writeRawPAX(tw, &buf, e.RawPAX); err != nil {
				return nil, fmt.Errorf("layer entry %q: %w", e.Path, err)
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("layer entry %q: %w", e.Path, err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write(e.Content); err != nil {
				return nil, fmt.Errorf("layer entry %q: %w", e.Path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeRawPAX writes a PAX extended header ('x') holding recs: the tar
// writer writes it as a regular file, then its typeflag and checksum are
// patched in buf, which holds everything tw wrote.
func writeRawPAX(tw *tar.Writer, buf *bytes.Buffer, recs map[string]string) error {
	keys := make([]string, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var data []byte
	for _, k := range keys {
		rec := " " + k + "=" + recs[k] + "\n"
		n := len(rec)
		for len(fmt.Sprint(n))+len(rec) != n {
			n = len(fmt.Sprint(n)) + len(rec)
		}
		data = append(data, fmt.Sprint(n)+rec...)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	off := buf.Len()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "PaxHeaders/entry", Mode: 0o644, Size: int64(len(data)), ModTime: ModTime, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	h := buf.Bytes()[off : off+512]
	h[156] = tar.TypeXHeader
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // zero header: no name, no mtime
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Built is an image rendered into blobs.
type Built struct {
	Manifest     []byte
	ManifestDesc ocispec.Descriptor // with Platform set
	Config       []byte
	ConfigDesc   ocispec.Descriptor
	Layers       [][]byte             // blobs as stored (gzip when Compress)
	LayerDescs   []ocispec.Descriptor // descriptors of Layers
	DiffIDs      []digest.Digest      // digests of the uncompressed tars
	LayerTars    [][]byte             // uncompressed tars
}

// Build renders img into its blobs (manifest, config, layers).
func Build(img Image) (*Built, error) {
	p := img.Platform
	if p.OS == "" {
		p.OS = runtime.GOOS
	}
	if p.Architecture == "" {
		p.Architecture = runtime.GOARCH
	}
	b := &Built{}
	cfg := ocispec.Image{
		Created:  &ModTime,
		Platform: p,
		Config:   img.Config,
		RootFS:   ocispec.RootFS{Type: "layers"},
	}
	for i, l := range img.Layers {
		raw, err := LayerTarEnding(l, img.Ending)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		diffID := digest.FromBytes(raw)
		blob, mt := raw, ocispec.MediaTypeImageLayer
		if img.Compress {
			if blob, err = gzipBytes(raw); err != nil {
				return nil, err
			}
			mt = ocispec.MediaTypeImageLayerGzip
		}
		b.LayerTars = append(b.LayerTars, raw)
		b.Layers = append(b.Layers, blob)
		b.DiffIDs = append(b.DiffIDs, diffID)
		b.LayerDescs = append(b.LayerDescs, ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(blob), Size: int64(len(blob))})
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
		cfg.History = append(cfg.History, ocispec.History{Created: &ModTime, CreatedBy: fmt.Sprintf("testimage layer %d", i)})
	}
	var err error
	if b.Config, err = json.Marshal(cfg); err != nil {
		return nil, err
	}
	b.ConfigDesc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(b.Config), Size: int64(len(b.Config))}
	m := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageManifest,
		Config:      b.ConfigDesc,
		Layers:      b.LayerDescs,
		Annotations: img.Annotations,
	}
	if m.Layers == nil {
		m.Layers = []ocispec.Descriptor{}
	}
	if b.Manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	b.ManifestDesc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(b.Manifest), Size: int64(len(b.Manifest)), Platform: &p}
	return b, nil
}

// blobSet collects blobs by digest, deduplicated.
type blobSet map[digest.Digest][]byte

func (s blobSet) add(b []byte) digest.Digest {
	d := digest.FromBytes(b)
	s[d] = b
	return d
}

// render builds the blobs of imgs and returns the top-level descriptor:
// the manifest for one image, an image index for several.
func render(imgs []Image) (ocispec.Descriptor, blobSet, error) {
	if len(imgs) == 0 {
		return ocispec.Descriptor{}, nil, errors.New("testimage: no image")
	}
	blobs := blobSet{}
	var descs []ocispec.Descriptor
	for i, img := range imgs {
		b, err := Build(img)
		if err != nil {
			return ocispec.Descriptor{}, nil, fmt.Errorf("image %d: %w", i, err)
		}
		blobs.add(b.Config)
		for _, l := range b.Layers {
			blobs.add(l)
		}
		blobs.add(b.Manifest)
		descs = append(descs, b.ManifestDesc)
	}
	if len(imgs) == 1 {
		d := descs[0]
		d.Platform = nil
		return d, blobs, nil
	}
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: descs,
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: blobs.add(raw), Size: int64(len(raw))}, blobs, nil
}

// WriteLayout writes imgs into the OCI image layout at dir (created if
// needed; an existing layout is added to) and tags the result as tag in
// index.json (replacing an earlier descriptor with the same tag). One image
// is tagged as its manifest; several become an image index (a
// multi-platform image) that is tagged. It returns the tagged descriptor
// (without the ref.name annotation).
func WriteLayout(dir, tag string, imgs ...Image) (ocispec.Descriptor, error) {
	top, blobs, err := render(imgs)
	if err != nil {
		return top, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return top, err
	}
	for d, b := range blobs {
		if err := os.WriteFile(filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()), b, 0o644); err != nil {
			return top, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ocispec.ImageLayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return top, err
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	if raw, err := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile)); err == nil {
		if err := json.Unmarshal(raw, &idx); err != nil {
			return top, fmt.Errorf("existing index.json: %w", err)
		}
	}
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] != tag {
			kept = append(kept, d)
		}
	}
	tagged := top
	tagged.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
	idx.Manifests = append(kept, tagged)
	raw, err := json.Marshal(idx)
	if err != nil {
		return top, err
	}
	return top, os.WriteFile(filepath.Join(dir, ocispec.ImageIndexFile), raw, 0o644)
}

// WriteOCIArchive writes imgs as an oci-archive (a tarball of an OCI image
// layout, as `skopeo copy ... oci-archive:PATH:TAG` reads it) to path.
func WriteOCIArchive(path, tag string, imgs ...Image) (ocispec.Descriptor, error) {
	tmp, err := os.MkdirTemp("", "testimage-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.RemoveAll(tmp)
	desc, err := WriteLayout(tmp, tag, imgs...)
	if err != nil {
		return desc, err
	}
	return desc, TarDir(path, tmp)
}

// TarDir writes the regular files and directories under dir into a
// deterministic tarball at path (sorted names, fixed mtimes, root owner).
// FIFOs and symlinks are written as such, so that
// tests can build hostile archives from a layout they altered.
func TarDir(path, dir string) error {
	var names []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: ModTime, Mode: 0o644, Typeflag: tar.TypeReg}
		var data []byte
		switch m := fi.Mode(); {
		case m.IsDir():
			hdr.Typeflag, hdr.Mode, hdr.Name = tar.TypeDir, 0o755, hdr.Name+"/"
		case m&os.ModeNamedPipe != 0:
			hdr.Typeflag = tar.TypeFifo
		case m&os.ModeSymlink != 0:
			hdr.Typeflag, hdr.Mode = tar.TypeSymlink, 0o777
			if hdr.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		hdr.Size = int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// WriteDockerArchive writes img as a docker-archive (the `docker save`
// format: manifest.json, the config as HEX.json and uncompressed layers as
// HEX/layer.tar) tagged repoTag (e.g. "example.com/app:1"; empty for none).
// It returns the config digest, which docker-archive uses as image ID.
func WriteDockerArchive(path, repoTag string, img Image) (digest.Digest, error) {
	img.Compress = false // docker save writes plain tar layers
	b, err := Build(img)
	if err != nil {
		return "", err
	}
	type entry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	e := entry{Config: b.ConfigDesc.Digest.Encoded() + ".json", RepoTags: []string{}}
	if repoTag != "" {
		e.RepoTags = []string{repoTag}
	}
	files := map[string][]byte{e.Config: b.Config}
	for i, d := range b.DiffIDs {
		name := d.Encoded() + "/layer.tar"
		e.Layers = append(e.Layers, name)
		files[name] = b.LayerTars[i]
	}
	mj, err := json.Marshal([]entry{e})
	if err != nil {
		return "", err
	}
	files["manifest.json"] = mj
	tmp, err := os.MkdirTemp("", "testimage-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for name, data := range files {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", err
		}
	}
	return b.ConfigDesc.Digest, TarDir(path, tmp)
}

// BusyboxPath is the static busybox binary Busybox copies into images.
var BusyboxPath = "/bin/busybox"

// BusyboxApplets are the applets Busybox links into /bin.
var BusyboxApplets = []string{"sh", "echo", "cat", "env", "id", "ls", "sleep", "true", "false"}

// ErrNoBusybox is returned (wrapped) by BusyboxImage when BusyboxPath is
// missing; install Debian's busybox-static.
var ErrNoBusybox = errors.New("static busybox not found (install busybox-static)")

// BusyboxImage returns a runnable image for the host platform: a base
// layer with /bin/busybox, applet symlinks, /etc/passwd, /etc/group, /root,
// /tmp, and the mount points runtimes expect, then the extra layers.
// Cmd is ["/bin/sh"]; PATH is set.
func BusyboxImage(extra ...Layer) (Image, error) {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return Image{}, fmt.Errorf("%w: %v", ErrNoBusybox, err)
	}
	base := Layer{
		Dir("bin", 0o755),
		Entry{Path: "bin/busybox", Type: tar.TypeReg, Mode: 0o755, Content: bb},
	}
	for _, a := range BusyboxApplets {
		base = append(base, Symlink("bin/"+a, "busybox"))
	}
	base = append(base,
		Dir("dev", 0o755),
		Dir("etc", 0o755),
		File("etc/group", 0o644, "root:x:0:\nnogroup:x:65534:\n"),
		File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
		Dir("proc", 0o555),
		Dir("root", 0o700),
		Dir("sys", 0o555),
		Dir("tmp", 0o1777),
	)
	return Image{
		Config: ocispec.ImageConfig{
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd:        []string{"/bin/sh"},
			WorkingDir: "/",
		},
		Layers:   append([]Layer{base}, extra...),
		Compress: true,
	}, nil
}

// Busybox is BusyboxImage that panics when busybox is missing; for tests
// that have already checked (or want a loud failure).
func Busybox(extra ...Layer) Image {
	img, err := BusyboxImage(extra...)
	if err != nil {
		panic(err)
	}
	return img
}
