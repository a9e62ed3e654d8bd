package shim

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/refval/refval/internal/atomicfile"
)

// FastEnv is the environment variable the shim mode sets for the runc
// shim: a token that lets the C front (package shim/front) pass a runc
// call through before the Go runtime starts. It says which configuration
// file the shim mode read and in which state, and the runc it names; the
// front takes the fast path only while the file is unchanged. Both the
// front and the Go wrapper remove it from runc's environment.
const FastEnv = "REFVAL_SHIM_FAST"

// fastTokenVersion is the token format front.c checks.
const fastTokenVersion = "1"

// fastSettle is how long ago the configuration file must have changed
// last for a token: file times come from a clock that advances in ticks,
// so a file written again within the same tick could keep its times; one
// older than a tick cannot change without new ones.
const fastSettle = 100 * time.Millisecond

// configFingerprint is the state of the configuration file at path the
// token records (front.c config_fingerprint writes the same): "-" when it
// does not exist, else device, inode, size, modification and change time.
func configFingerprint(path string) (string, time.Time, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return "-", time.Time{}, nil
		}
		return "", time.Time{}, err
	}
	return fmt.Sprintf("%d.%d.%d.%d.%d.%d.%d", st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec), time.Unix(st.Ctim.Sec, st.Ctim.Nsec), nil
}

// FastToken returns the FastEnv value for a configuration cfg read from
// path (explicit: named by ConfigEnv) without error, whose fingerprint
// was before and after the read; "" when the fast path must stay off:
// the file changed during the read or too recently, the log level is
// debug (the Go wrapper logs every pass-through then), or runc is
// configured as a relative path.
func FastToken(cfg *Config, path string, explicit bool, before, after string, changed, now time.Time) string {
	if before == "" || before != after || (before == "-" && explicit) {
		return ""
	}
	if before != "-" && now.Sub(changed) < fastSettle {
		return ""
	}
	if level, err := parseLevel(cfg.LogLevel); err != nil || (level <= slog.LevelDebug && cfg.LogFile != "") {
		return ""
	}
	if cfg.Runc != "" && !filepath.IsAbs(cfg.Runc) {
		return ""
	}
	mode := "d"
	if explicit {
		mode = "e"
	}
	return fastTokenVersion + ":" + before + ":" + mode + ":" + hex.EncodeToString([]byte(path)) + ":" + hex.EncodeToString([]byte(cfg.Runc))
}

// withoutEnv returns env without any key= entry.
func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && k == key {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// fastCacheRoot holds the caches: RunLinkRoot, where front.c reads them
// (a variable for the package's own tests only).
var fastCacheRoot = RunLinkRoot

// The first lines of the caches (front.c CACHE_MAGIC, RUNC_CACHE_MAGIC).
const (
	fastCacheMagic = "refval-shim-fast 1"
	runcCacheMagic = "refval-runc-fast 1"
)

// fastCachePath is where the Go code leaves its decisions for the C
// front, one file per kind ("fast": the shim mode's; "runc": a runc
// call's token), binary (device and inode) and configuration path:
// RunLinkRoot/KIND-DEV-INO-FNV, FNV the FNV-1a of the path, a NUL and "e"
// or "d" (explicit or default path).
func (s *self) fastCachePath(kind, cfgPath string, explicit bool) (string, bool) {
	st, ok := s.fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	h := fnv.New64a()
	h.Write([]byte(cfgPath))
	mode := byte('d')
	if explicit {
		mode = 'e'
	}
	h.Write([]byte{0, mode})
	return filepath.Join(fastCacheRoot, fmt.Sprintf("%s-%x-%x-%016x", kind, st.Dev, st.Ino, h.Sum64())), true
}

// fastCache is the content of the cache for a shim mode that execs the
// runc shim with runc link dir dir and token tok; "" when the C front
// could not repeat the decision exactly (a relative runc_shim, a runc
// link dir that is not clean and absolute).
func (s *self) fastCache(cfg *Config, tok string) string {
	if tok == "" || (cfg.RuncShim != "" && !filepath.IsAbs(cfg.RuncShim)) {
		return ""
	}
	clean := func(p string) bool { return filepath.IsAbs(p) && filepath.Clean(p) == p }
	var link string
	if cfg.RuncLinkDir != "" {
		if !clean(cfg.RuncLinkDir) {
			return ""
		}
		link = "c " + hex.EncodeToString([]byte(cfg.RuncLinkDir))
	} else {
		installed := filepath.Clean(filepath.Join(filepath.Dir(s.path), LibexecDir))
		link = "a " + hex.EncodeToString([]byte(installed)) + " " + hex.EncodeToString([]byte(FallbackRuncLinkDir(s.path)))
	}
	return strings.Join([]string{fastCacheMagic, hex.EncodeToString([]byte(s.path)), tok,
		hex.EncodeToString([]byte(cfg.RuncShim)), link}, "\n") + "\n"
}

// writeFastCache leaves the shim mode's decision for the C front (package
// shim/front), which repeats it for later shim calls without starting Go
// while the configuration file, this binary, the runc shim and the runc
// link are what they were. Best effort: without it every shim call takes
// the Go path. Written only when it changes.
func (s *self) writeFastCache(cfg *Config, cfgPath string, explicit bool, tok string) error {
	return s.writeCache("fast", s.fastCache(cfg, tok), cfgPath, explicit)
}

// writeRuncCache leaves the token of a runc call for the C front, which
// then passes through the later runc calls of this binary and
// configuration that come without one (runc.v2 with the runc link as
// BinaryName: no shim mode sets the token there).
func (s *self) writeRuncCache(cfgPath string, explicit bool, tok string) error {
	if tok == "" {
		return nil
	}
	return s.writeCache("runc", runcCacheMagic+"\n"+hex.EncodeToString([]byte(s.path))+"\n"+tok+"\n", cfgPath, explicit)
}

func (s *self) writeCache(kind, content, cfgPath string, explicit bool) error {
	p, ok := s.fastCachePath(kind, cfgPath, explicit)
	if content == "" || !ok {
		return nil
	}
	if old, err := os.ReadFile(p); err == nil && string(old) == content {
		return nil
	}
	if err := os.MkdirAll(fastCacheRoot, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, []byte(content), 0o644)
}

// RemoveFastCaches removes the C front's caches (under RunLinkRoot) that
// belong to the configuration file cfgPath, for tests and uninstallers;
// the shim itself never needs to (a stale cache is never used).
func RemoveFastCaches(cfgPath string) {
	mark := []byte(":" + hex.EncodeToString([]byte(cfgPath)) + ":")
	for _, kind := range []string{"fast", "runc"} {
		files, _ := filepath.Glob(filepath.Join(RunLinkRoot, kind+"-*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, mark) {
				os.Remove(f)
			}
		}
	}
}
