package engine

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// What Docker changes in the rootfs before the container starts, as a
// layer on top of the image's: the init layer (daemon/initlayer of moby
// v20.10.24, setupInitLayer) and the working directory dockerd creates
// (container.SetupWorkingDirectory).

// dockerInitPaths is setupInitLayer's list: a directory, an empty file, or
// a symlink to the target given.
var dockerInitPaths = []struct {
	path, typ string
}{
	{"dev/pts", "dir"}, {"dev/shm", "dir"}, {"proc", "dir"}, {"sys", "dir"},
	{".dockerenv", "file"}, {"etc/resolv.conf", "file"}, {"etc/hosts", "file"},
	{"etc/hostname", "file"}, {"dev/console", "file"}, {"etc/mtab", "/proc/mounts"},
}

// TopLayer returns the layer the predicted engine puts on top of the
// image before the container starts (an uncompressed tar, nil for none):
// for the docker engine, its init layer and the working directory it
// creates. rootfs is the image's root filesystem.
func (p *Predictor) TopLayer(image ocispec.Image, rootfs fs.ReadLinkFS) ([]byte, error) {
	if p.Profile.Kind != Docker {
		return nil, nil
	}
	workdir := image.Config.WorkingDir
	if p.Run.Docker != nil && p.Run.Docker.Workdir != "" {
		workdir = p.Run.Docker.Workdir
	}
	return dockerTopLayer(rootfs, workdir)
}

// AddsLayer reports whether the engine adds a layer of its own on top of
// the image (TopLayer), which a measurement must apply.
func (p *Predictor) AddsLayer() bool { return p.Profile.Kind == Docker }

// layerWriter writes tar entries once each, all owned by root.
type layerWriter struct {
	tw   *tar.Writer
	done map[string]bool
}

func (w *layerWriter) add(name string, typ byte, mode int64, target string) error {
	if w.done[name] {
		return nil
	}
	w.done[name] = true
	return w.tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: mode, Linkname: target,
		ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatPAX})
}

func dockerTopLayer(rootfs fs.ReadLinkFS, workdir string) ([]byte, error) {
	var buf bytes.Buffer
	w := &layerWriter{tw: tar.NewWriter(&buf), done: map[string]bool{}}
	for _, e := range dockerInitPaths {
		if err := initLayerPath(rootfs, w, e.path, e.typ); err != nil {
			return nil, fmt.Errorf("docker init layer: /%s: %w", e.path, err)
		}
	}
	if workdir != "" {
		if err := workdirPath(rootfs, w, workdir); err != nil {
			return nil, err
		}
	}
	if err := w.tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// initLayerPath is one entry of setupInitLayer: every component of p that
// is not a directory is unlinked (a symlink too, even to a directory);
// then, unless p is still there (a directory of the image), the missing
// parents are created as 0755 directories and p as an empty 0755 file, a
// 0755 directory or a symlink. A directory of the image keeps its own
// owner and mode.
func initLayerPath(rootfs fs.ReadLinkFS, w *layerWriter, p, typ string) error {
	comps := strings.Split(p, "/")
	gone := false // an ancestor was missing or unlinked
	for i := range comps {
		q := strings.Join(comps[:i+1], "/")
		if !gone {
			fi, err := rootfs.Lstat(q)
			switch {
			case err == nil && fi.IsDir():
				continue
			case err == nil:
				// unlinked: replaced below
			case errors.Is(err, fs.ErrNotExist):
			default:
				return err
			}
			gone = true
		}
		if i < len(comps)-1 {
			if err := w.add(q, tar.TypeDir, 0o755, ""); err != nil {
				return err
			}
			continue
		}
		switch typ {
		case "dir":
			return w.add(q, tar.TypeDir, 0o755, "")
		case "file":
			return w.add(q, tar.TypeReg, 0o755, "")
		default:
			return w.add(q, tar.TypeSymlink, 0o777, typ)
		}
	}
	return nil
}

// workdirPath is SetupWorkingDirectory: the working directory, resolved
// inside the rootfs, is created with its missing parents as 0755
// directories owned by root.
func workdirPath(rootfs fs.ReadLinkFS, w *layerWriter, workdir string) error {
	// dockerd creates it after the init layer, which may have replaced a
	// non-directory on its way (a symlinked /etc): resolving it in the
	// image alone would then be wrong.
	clean := path.Clean(workdir)
	for _, e := range dockerInitPaths {
		comps := strings.Split(e.path, "/")
		for i := range comps {
			q := "/" + strings.Join(comps[:i+1], "/")
			if clean != q && !strings.HasPrefix(clean, q+"/") {
				continue
			}
			if fi, err := rootfs.Lstat(q[1:]); err == nil && !fi.IsDir() {
				return fmt.Errorf("%w: working directory %s: Docker's init layer replaces %s, which is not a directory in the image", ErrUnsupported, workdir, q)
			}
		}
	}
	resolved, missing, err := resolveInScope(rootfs, clean)
	if err != nil {
		return fmt.Errorf("%w: working directory %s: %v", ErrInvalidOption, workdir, err)
	}
	cur := resolved
	for _, c := range missing {
		cur = path.Join(cur, c)
		if err := w.add(strings.TrimPrefix(cur, "/"), tar.TypeDir, 0o755, ""); err != nil {
			return err
		}
	}
	return nil
}

// resolveInScope follows p inside rootfs as moby's FollowSymlinkInScope
// does: symlinks resolve relative to the rootfs, ".." stops at its root.
// It returns the existing, resolved prefix and the components below it
// that do not exist. An existing component that is neither a directory nor
// a symlink is an error when more follows.
func resolveInScope(rootfs fs.ReadLinkFS, p string) (string, []string, error) {
	todo := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for links := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := rootfs.Lstat(strings.TrimPrefix(next, "/"))
		if errors.Is(err, fs.ErrNotExist) {
			return cur, append([]string{c}, todo...), nil
		}
		if err != nil {
			return "", nil, err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > 255 {
				return "", nil, errors.New("too many symlinks")
			}
			target, err := rootfs.ReadLink(strings.TrimPrefix(next, "/"))
			if err != nil {
				return "", nil, err
			}
			if path.IsAbs(target) {
				cur = "/"
			}
			todo = append(strings.Split(target, "/"), todo...)
		case fi.IsDir():
			cur = next
		default:
			return "", nil, fmt.Errorf("Cannot mkdir: %s is not a directory", next)
		}
	}
	return cur, nil, nil
}
