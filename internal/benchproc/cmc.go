package benchproc

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// CMCBaseline is the CMC snapshot whose tools/measure-bundle is the
// performance baseline: the last CMC with that tool, streaming the rootfs
// tar into the hash since 2026-04 (earlier ones buffered it in memory).
const CMCBaseline = "cmc-v0.9.9-34-g079c06b"

var (
	cmcOnce sync.Once
	cmcPath string
	cmcWhy  string
)

// CMCMeasureBundle returns the path of CMC's own measure-bundle, built
// once from the shared CMC source archive (REFVAL_CMC_TARBALL, or
// CMCBaseline.tar.gz in a shared/cmc directory next to or above the
// module) into the refval cache (REFVAL_CACHE, as make sets it); CMC's code
// is only extracted to a temporary directory and built, never copied into
// the project. When the archive or the toolchain is missing it returns ""
// and the reason, so that a benchmark can leave the column out, saying why.
func CMCMeasureBundle(tb testing.TB) (path, why string) {
	tb.Helper()
	cmcOnce.Do(func() { cmcPath, cmcWhy = buildCMC() })
	return cmcPath, cmcWhy
}

func buildCMC() (string, string) {
	cache := os.Getenv("REFVAL_CACHE")
	if cache == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", "no cache directory: " + err.Error()
		}
		cache = filepath.Join(c, "refval")
	}
	bin := filepath.Join(cache, "cmc", CMCBaseline, "measure-bundle")
	if _, err := os.Stat(bin); err == nil {
		return bin, ""
	}
	tarball := os.Getenv("REFVAL_CMC_TARBALL")
	if tarball == "" {
		tarball = findShared(CMCBaseline + ".tar.gz")
	}
	if tarball == "" {
		return "", "CMC source archive " + CMCBaseline + ".tar.gz not found (set REFVAL_CMC_TARBALL)"
	}
	src, err := os.MkdirTemp("", "refval-cmc-src-")
	if err != nil {
		return "", err.Error()
	}
	defer os.RemoveAll(src)
	if out, err := exec.Command("tar", "-xzf", tarball, "-C", src, "--strip-components=1").CombinedOutput(); err != nil {
		return "", "extract " + tarball + ": " + err.Error() + ": " + string(out)
	}
	cmd := exec.Command(goTool(), "build", "-o", bin, "./tools/measure-bundle")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "build CMC measure-bundle: " + err.Error() + ": " + strings.TrimSpace(string(out))
	}
	return bin, ""
}

// findShared looks for shared/cmc/name in the directories above the
// working directory (a checkout's sibling "shared", or a worktree's).
func findShared(name string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", "cmc", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
