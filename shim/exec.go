package shim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Binary names.
const (
	ShimName     = "containerd-shim-cmc-v1"
	RuncShimName = "containerd-shim-runc-v2"
	RuncName     = "runc"
	// LibexecDir is where `make install` puts the runc link, relative to
	// the directory of the installed shim binary.
	LibexecDir = "../libexec/refval"
	// RunLinkRoot holds the runc links the shim creates when no installed
	// one exists: RunLinkRoot/<hash of the binary path>/runc.
	RunLinkRoot = "/run/containerd-shim-cmc-v1"
)

// ErrNotFound: a binary the shim must exec is nowhere to be found.
var ErrNotFound = errors.New("executable not found")

// self describes the running binary.
type self struct {
	path string // resolved path of the executable
	fi   fs.FileInfo
}

func findSelf() (*self, error) {
	p, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	return &self{path: p, fi: fi}, nil
}

// is reports whether path (following symlinks) is this binary. Comparing
// device and inode, not names, catches links, bind mounts and copies that
// are hardlinks.
func (s *self) is(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, s.fi)
}

// lookPath finds name in the PATH of env (not the process's own PATH, so
// tests can pass any environment), skipping entries that are this binary.
func (s *self) lookPath(name string, env []string) (string, error) {
	for _, dir := range filepath.SplitList(getenv(env, "PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		if os.SameFile(fi, s.fi) {
			continue
		}
		if !filepath.IsAbs(p) {
			if a, err := filepath.Abs(p); err == nil {
				p = a
			}
		}
		return p, nil
	}
	return "", fmt.Errorf("%w: no %s in PATH other than %s", ErrNotFound, name, s.path)
}

// resolve returns configured if set (it must exist and must not be this
// binary, or the exec would loop), else the next name in PATH.
func (s *self) resolve(configured, name string, env []string) (string, error) {
	if configured == "" {
		return s.lookPath(name, env)
	}
	if _, err := os.Stat(configured); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrNotFound, name, err)
	}
	if s.is(configured) {
		return "", fmt.Errorf("%s %s is this binary: exec would loop", name, configured)
	}
	return configured, nil
}

// runcLinkDir returns a directory whose "runc" is this binary: the
// configured one, the installed <exe dir>/../libexec/refval, or one the
// shim keeps under RunLinkRoot, created with an atomic rename so that
// concurrent shim starts never see a half-made link.
func (s *self) runcLinkDir(configured string) (string, error) {
	if configured != "" {
		if !s.is(filepath.Join(configured, RuncName)) {
			return "", fmt.Errorf("runc_link_dir %s: %s there is not %s", configured, RuncName, s.path)
		}
		return configured, nil
	}
	installed := filepath.Clean(filepath.Join(filepath.Dir(s.path), LibexecDir))
	if s.is(filepath.Join(installed, RuncName)) {
		return installed, nil
	}
	dir := FallbackRuncLinkDir(s.path)
	link := filepath.Join(dir, RuncName)
	if s.is(link) {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("runc link: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp-%d", link, os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(s.path, tmp); err != nil {
		return "", fmt.Errorf("runc link: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("runc link: %w", err)
	}
	return dir, nil
}

// FallbackRuncLinkDir is the directory the shim binary at exe (resolved
// path) keeps its runc link in when neither runc_link_dir nor an installed
// link exists: one per binary path, so two installations never share one.
func FallbackRuncLinkDir(exe string) string {
	h := sha256.Sum256([]byte(exe))
	return filepath.Join(RunLinkRoot, hex.EncodeToString(h[:6]))
}

// withoutSelf returns env with every PATH entry whose runc is this binary
// removed, so the real runc runs with the environment it would have had
// without the shim.
func (s *self) withoutSelf(env []string) []string {
	path, ok := lookupEnv(env, "PATH")
	if !ok {
		return env
	}
	var keep []string
	for _, dir := range filepath.SplitList(path) {
		if dir != "" && s.is(filepath.Join(dir, RuncName)) {
			continue
		}
		keep = append(keep, dir)
	}
	return setenv(env, "PATH", strings.Join(keep, string(filepath.ListSeparator)))
}

// prependPATH returns env with dir first in PATH.
func prependPATH(env []string, dir string) []string {
	path, ok := lookupEnv(env, "PATH")
	if !ok || path == "" {
		// exec.LookPath's default when PATH is unset is not defined;
		// use the usual system directories.
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return setenv(env, "PATH", dir+string(filepath.ListSeparator)+path)
}

func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func getenv(env []string, key string) string {
	v, _ := lookupEnv(env, key)
	return v
}

// setenv replaces every key= entry (keeping the position of the first)
// or appends one.
func setenv(env []string, key, val string) []string {
	out := make([]string, 0, len(env)+1)
	done := false
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && k == key {
			if !done {
				out = append(out, key+"="+val)
				done = true
			}
			continue
		}
		out = append(out, kv)
	}
	if !done {
		out = append(out, key+"="+val)
	}
	return out
}
