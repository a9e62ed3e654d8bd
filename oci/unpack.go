package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/umoci/oci/layer"
	"github.com/opencontainers/umoci/pkg/fseval"
	"golang.org/x/sys/unix"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/internal/staging"
	"github.com/refval/refval/oci/layerfs"
)

// UnpackResult describes a bundle written by Unpack.
type UnpackResult struct {
	Image  *Image `json:"image"`
	Bundle string `json:"bundle"`
	// Rootless is true when the unpack could not chown: owners are kept in
	// user.rootlesscontainers xattrs, the config maps the caller to root.
	Rootless bool `json:"rootless"`
	// Exact is false when the rootfs differs from what the image specifies
	// (and so from MeasureImage); Inexact names the entries and why.
	Exact   bool     `json:"exact"`
	Inexact []string `json:"inexact,omitempty"`
}

// Unpack pulls ref (see Pull; WithPullPolicy(PullNever) to use the store
// only) and unpacks it with umoci's layer extraction into the runtime
// bundle dest: rootfs/ and the config.json of umoci's conversion.
//
// The bundle is assembled in a temporary directory next to dest and
// renamed into place, so dest is either untouched or complete; dest must
// not exist or be an empty directory unless WithForce is given. Not root
// (or WithRootless(true)): a rootless unpack, whose config maps the caller
// to root in a user namespace; entries it cannot reproduce (file
// capabilities without privilege, device nodes, symlink owners) are listed
// in the result and logged as warnings. Entries are extracted with a umask
// of 022 (set for the process while Unpack runs) so that directories the
// layers do not list come out 0755 as the measurement expects.
func Unpack(ctx context.Context, ref, dest string, opts ...Option) (*UnpackResult, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.allPlatforms {
		return nil, errors.New("unpack: one platform only (WithPlatform), not all platforms")
	}
	img, err := o.pullImage(ctx, ref)
	if err != nil {
		return nil, err
	}
	s := o.readStore()
	defer s.wait()
	rootless := os.Geteuid() != 0
	if o.rootless != nil {
		rootless = *o.rootless
	}
	inexact, err := unpackBundle(ctx, s, &img.Manifests[0], dest, rootless, o.force, o.runtimeConfigFor, o.topLayer)
	if err != nil {
		return nil, err
	}
	for _, w := range inexact {
		slog.Warn("rootless unpack is not exact", "entry", w)
	}
	abs, _ := filepath.Abs(dest)
	return &UnpackResult{Image: img, Bundle: abs, Rootless: rootless, Exact: len(inexact) == 0, Inexact: inexact}, nil
}

// checkDest reports whether dest may be written.
func checkDest(dest string, force bool) error {
	fi, err := os.Lstat(dest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	if force {
		return nil
	}
	if fi.IsDir() {
		f, err := os.Open(dest)
		if err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		names, _ := f.Readdirnames(1)
		f.Close()
		if len(names) == 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: %s (use --force to replace it)", ErrDestinationNotEmpty, dest)
}

func mapOptions(rootless bool) layer.MapOptions {
	if !rootless {
		return layer.MapOptions{}
	}
	// As umoci --rootless: the caller becomes root of a user namespace.
	return layer.MapOptions{
		Rootless:    true,
		UIDMappings: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}},
		GIDMappings: []rspec.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}},
	}
}

// removeStaged removes a staging directory a killed run left: as root
// with os.RemoveAll, else as a rootless unpack wrote it.
func removeStaged(p string) error { return removeTree(p, os.Geteuid() != 0) }

func removeTree(p string, rootless bool) error {
	if rootless {
		return fseval.Rootless.RemoveAll(p)
	}
	return os.RemoveAll(p)
}

// unpackBundle writes the bundle of m to dest (atomically) and returns what
// a rootless unpack could not reproduce.
func unpackBundle(ctx context.Context, s *store, m *Manifest, dest string, rootless, force bool, runtimeConfig configFunc, top TopLayerFunc) (inexact []string, err error) {
	if err := checkDest(dest, force); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("unpack: %w", err)
	}
	// The bundle is built in a staging directory that a later unpack into
	// the same parent removes if this process dies without removing it
	// (internal/staging); on an error or a cancelled context it is removed
	// here.
	sd, err := staging.Create(parent, ".refval-unpack-", removeStaged)
	if err != nil {
		return nil, fmt.Errorf("unpack: %w", err)
	}
	defer sd.Close()
	tmp := sd.Path
	defer func() {
		if err != nil {
			removeTree(tmp, rootless)
		}
	}()
	// As umoci: the bundle is 0700 so that nobody can reach setuid
	// binaries of the image through it.
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("unpack: %w", err)
	}
	rootfs := filepath.Join(tmp, layer.RootfsName)
	mo := mapOptions(rootless)
	if inexact, err = extract(ctx, s, m, rootfs, mo); err != nil {
		return nil, fmt.Errorf("unpack %s: %w", m.Digest, err)
	}
	if err := applyTopLayerDir(ctx, top, m.config, rootfs, mo); err != nil {
		return nil, fmt.Errorf("unpack %s: %w", m.Digest, err)
	}
	// The config is converted with the unpacked rootfs as the image's
	// file system (symlinks resolved inside it, nothing outside reached).
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, fmt.Errorf("unpack: %w", err)
	}
	cfg, err := runtimeConfig(m.config, root.FS().(fs.ReadLinkFS), mo)
	root.Close()
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, "config.json"), cfg, 0o644); err != nil {
		return nil, fmt.Errorf("unpack: %w", err)
	}
	if err := sd.Unlock(); err != nil { // the lock file is no part of the bundle
		return nil, fmt.Errorf("unpack: %w", err)
	}
	if err := install(tmp, abs, rootless); err != nil {
		return nil, err
	}
	return inexact, nil
}

// install renames the finished bundle tmp to dest, replacing what is
// there (checkDest allowed it).
func install(tmp, dest string, rootless bool) error {
	var old string
	if fi, err := os.Lstat(dest); err == nil {
		empty := false
		if fi.IsDir() {
			if names, err := readDirNames(dest); err == nil && len(names) == 0 {
				empty = true
			}
		}
		if !empty {
			o, err := os.MkdirTemp(filepath.Dir(dest), ".refval-old-")
			if err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
			if err := os.Remove(o); err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
			if err := os.Rename(dest, o); err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
			old = o
		}
	}
	if err := os.Rename(tmp, dest); err != nil {
		if old != "" {
			os.Rename(old, dest)
		}
		return fmt.Errorf("unpack: %w", err)
	}
	if old != "" {
		if err := removeTree(old, rootless); err != nil {
			slog.Warn("unpack: could not remove the replaced bundle", "path", old, "err", err)
		}
	}
	return atomicfile.SyncDir(filepath.Dir(dest))
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// readScoped reads the regular file at p inside rootfs, resolving symlinks
// within rootfs; nil when there is none. A file larger than maxUserFile is
// an error (ErrInvalidImage), as in the stream measurement.
func readScoped(rootfs, p string) ([]byte, error) {
	full, err := securejoin.SecureJoin(rootfs, p)
	if err != nil {
		return nil, nil
	}
	fi, err := os.Lstat(full)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, nil
	}
	if fi.Size() > maxUserFile {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrInvalidImage, p, fi.Size(), maxUserFile)
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return nil, nil
	}
	return b, nil
}

// extract unpacks the layers of m into rootfs with umoci's TarExtractor,
// entry by entry, so that refval's checks run before umoci sees an entry.
func extract(ctx context.Context, s *store, m *Manifest, rootfs string, mo layer.MapOptions) ([]string, error) {
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(rootfs, 0o755); err != nil {
		return nil, err
	}
	if !mo.Rootless {
		if err := os.Lchown(rootfs, 0, 0); err != nil {
			return nil, err
		}
	}
	opt := &layer.UnpackOptions{OnDiskFormat: layer.DirRootfs{MapOptions: mo}}
	lossy := map[string]string{} // clean path → what a rootless unpack loses
	privileged := os.Geteuid() == 0
	budget := layerfs.NewBudget(s.limits) // resolves zero fields to the defaults
	for i, l := range m.Layers {
		err := s.withLayer(l, func(r io.Reader) error {
			te := layer.NewTarExtractor(opt)
			return budget.Entries(ctx, r, func(_ int, hdr *tar.Header, content io.Reader) error {
				if err := checkResolved(budget, rootfs, hdr.Name); err != nil {
					return err
				}
				if mo.Rootless {
					trackLossy(lossy, hdr, privileged)
				}
				return te.UnpackEntry(rootfs, hdr, content)
			})
		})
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, l.Digest, err)
		}
	}
	paths := make([]string, 0, len(lossy))
	for p := range lossy {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out []string
	for _, p := range paths {
		out = append(out, p+": "+lossy[p])
	}
	return out, nil
}

// checkResolved applies the path limits to the path an entry creates
// after symlinks in its parent are resolved inside rootfs (as umoci
// resolves it, and as layerfs checks it in the stream measurement), and
// refuses a path the kernel cannot reach under this rootfs (PATH_MAX).
func checkResolved(b *layerfs.Budget, rootfs, name string) error {
	clean := path.Clean("/" + name)
	if clean == "/" {
		return nil
	}
	dir, file := path.Split(clean)
	host, err := securejoin.SecureJoin(rootfs, dir)
	if errors.Is(err, unix.ENAMETOOLONG) {
		return fmt.Errorf("%w: %s: its parent resolves beyond PATH_MAX (%d) under the rootfs %s", bundle.ErrLimitExceeded, clean, unix.PathMax, rootfs)
	}
	if err != nil {
		return err
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(host, rootfs), "/")
	var comps []string
	if rel != "" {
		comps = strings.Split(rel, "/")
	}
	if err := b.CheckPath(append(comps, file), ""); err != nil {
		return err
	}
	if n := len(host) + 1 + len(file); n >= unix.PathMax {
		return fmt.Errorf("%w: %s: the path is %d bytes under the rootfs %s, beyond PATH_MAX (%d); unpack to a shorter destination",
			bundle.ErrLimitExceeded, path.Join("/", rel, file), n-len(rootfs), rootfs, unix.PathMax)
	}
	return nil
}

// trackLossy keeps, per path, what a rootless extraction of the latest
// entry there cannot reproduce; whiteouts forget what they delete.
func trackLossy(lossy map[string]string, hdr *tar.Header, privileged bool) {
	p := path.Clean("/" + hdr.Name)
	dir, file := path.Split(p)
	if wo, ok := strings.CutPrefix(file, ".wh."); ok {
		target := path.Join(dir, wo)
		if file == ".wh..wh..opq" {
			target = path.Clean(dir)
		}
		for k := range lossy {
			if k == target || strings.HasPrefix(k, strings.TrimSuffix(target, "/")+"/") {
				delete(lossy, k)
			}
		}
		return
	}
	delete(lossy, p)
	switch {
	case hdr.Typeflag == tar.TypeLink:
		// A hardlink shares its target's inode, and what it lacks.
		if why, ok := lossy[path.Clean("/"+hdr.Linkname)]; ok {
			lossy[p] = why
		}
	case hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock:
		lossy[p] = "device node written as an empty file"
	case hdr.PAXRecords["SCHILY.xattr."+bundle.CapabilityXattr] != "" && !privileged:
		lossy[p] = "security.capability not set (needs CAP_SETFCAP)"
	case (hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeFifo) && (hdr.Uid != 0 || hdr.Gid != 0):
		lossy[p] = "owner not recorded (user.rootlesscontainers can only be set on files and directories)"
	}
}
