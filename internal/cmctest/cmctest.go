package cmctest

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Version names a CMC release the harness is built from.
type Version string

// The CMC releases in /work/shared/cmc the interop tests run against.
const (
	V07 Version = "0.7" // cmc-v0.7.2-8-g2e1306d: the seed document's CMC
	V09 Version = "0.9" // cmc-v0.9.15: current CMC
)

// Versions lists every version the harness supports.
var Versions = []Version{V07, V09}

// tarballs maps a version to the name prefix of its source tarball.
var tarballs = map[Version]string{
	V07: "cmc-v0.7.2-",
	V09: "cmc-v0.9.15",
}

// harnessDir maps a version to its overlay under harness/.
var harnessDir = map[Version]string{V07: "harness/v07", V09: "harness/v09"}

//go:embed harness
var harnessFS embed.FS

// Tools are the programs built from one CMC release.
type Tools struct {
	Version Version
	// Harness runs CMC's own verify and measure code (harness/vXX/refval-harness).
	Harness string
	// Cmcd is CMC's daemon, built unmodified.
	Cmcd string
	// Metatool is CMC v0.9's metadata tool, built unmodified ("" for 0.7).
	Metatool string
	// MeasureBundle is CMC v0.7's measure-bundle tool, built unmodified
	// ("" for 0.9, which has none).
	MeasureBundle string
}

// SourceDir returns the directory holding CMC's tarballs: $REFVAL_CMC_DIR,
// /work/shared/cmc, or ../shared/cmc next to the repository (CI's layout).
// It returns "" if none exists.
func SourceDir() string {
	var cands []string
	if d := os.Getenv("REFVAL_CMC_DIR"); d != "" {
		cands = append(cands, d)
	}
	cands = append(cands, "/work/shared/cmc")
	if root, err := repoRoot(); err == nil {
		cands = append(cands, filepath.Join(root, "..", "shared", "cmc"))
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && fi.IsDir() {
			return c
		}
	}
	return ""
}

// repoRoot is the directory of refval's go.mod, found from this source file.
func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("no caller")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above %s", file)
		}
		dir = parent
	}
}

// Tarball returns the path of version v's source tarball in dir.
func Tarball(dir string, v Version) (string, error) {
	prefix, ok := tarballs[v]
	if !ok {
		return "", fmt.Errorf("cmc version %q: want one of %v", v, Versions)
	}
	m, _ := filepath.Glob(filepath.Join(dir, prefix+"*.tar.gz"))
	sort.Strings(m)
	if len(m) == 0 {
		return "", fmt.Errorf("%s: no %s*.tar.gz", dir, prefix)
	}
	return m[len(m)-1], nil
}

// Require builds (or finds in the cache) the tools of version v. Without
// CMC's sources it skips the test, and fails it when CI=true.
func Require(t testing.TB, v Version) *Tools {
	t.Helper()
	dir := SourceDir()
	if dir == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CMC sources (../shared/cmc) are missing in CI")
		}
		t.Skip("CMC sources not found (/work/shared/cmc or ../shared/cmc; set REFVAL_CMC_DIR)")
	}
	tools, err := Build(dir, v)
	if err != nil {
		t.Fatalf("build CMC %s: %v", v, err)
	}
	return tools
}

// cacheRoot is $REFVAL_CACHE, else $XDG_CACHE_HOME/refval, else ~/.cache/refval.
func cacheRoot() (string, error) {
	if d := os.Getenv("REFVAL_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "refval"), nil
}

// key hashes the tarball and the harness overlay: a change to either
// rebuilds.
func key(tarball string, v Version) (string, error) {
	h := sha256.New()
	b, err := os.ReadFile(tarball)
	if err != nil {
		return "", err
	}
	h.Write(b)
	err = fs.WalkDir(harnessFS, harnessDir[v], func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		c, err := harnessFS.ReadFile(p)
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(c))
		h.Write(c)
		return err
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Build extracts version v's tarball from dir, overlays the harness and
// builds the harness and cmcd, caching the binaries under
// REFVAL_CACHE/cmc/<tarball>-<key>/ so that later runs cost nothing. Builds
// of several test processes are serialised by a lock file.
func Build(dir string, v Version) (*Tools, error) {
	tarball, err := Tarball(dir, v)
	if err != nil {
		return nil, err
	}
	k, err := key(tarball, v)
	if err != nil {
		return nil, err
	}
	root, err := cacheRoot()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(root, "cmc")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(tarball), ".tar.gz")
	out := filepath.Join(base, name+"-"+k)
	tools := &Tools{Version: v, Harness: filepath.Join(out, "refval-harness"), Cmcd: filepath.Join(out, "cmcd")}
	if v == V09 {
		tools.Metatool = filepath.Join(out, "metatool")
	} else {
		tools.MeasureBundle = filepath.Join(out, "measure-bundle")
	}
	if done(tools) {
		return tools, nil
	}
	lock, err := os.OpenFile(filepath.Join(base, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if done(tools) {
		return tools, nil
	}
	work, err := os.MkdirTemp(base, "build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	if err := run(work, nil, "tar", "-xzf", tarball, "--strip-components=1"); err != nil {
		return nil, err
	}
	if err := overlay(work, v); err != nil {
		return nil, err
	}
	stage := filepath.Join(work, "_bin")
	env := []string{"GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false"}
	if err := run(work, env, "nice", "-n", "10", "go", "build", "-trimpath", "-tags", "cmcharness",
		"-o", filepath.Join(stage, "refval-harness"), "./refval-harness"); err != nil {
		return nil, err
	}
	if err := run(work, env, "nice", "-n", "10", "go", "build", "-trimpath",
		"-o", filepath.Join(stage, "cmcd"), "./cmcd"); err != nil {
		return nil, err
	}
	for _, p := range [][2]string{{tools.Metatool, "./tools/metatool"}, {tools.MeasureBundle, "./tools/measure-bundle"}} {
		if p[0] == "" {
			continue
		}
		if err := run(work, env, "nice", "-n", "10", "go", "build", "-trimpath",
			"-o", filepath.Join(stage, filepath.Base(p[0])), p[1]); err != nil {
			return nil, err
		}
	}
	os.RemoveAll(out)
	if err := os.Rename(stage, out); err != nil {
		return nil, err
	}
	return tools, nil
}

func done(t *Tools) bool {
	for _, p := range []string{t.Harness, t.Cmcd, t.Metatool, t.MeasureBundle} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// overlay copies harness/vXX/** into the extracted tree.
func overlay(dst string, v Version) error {
	src := harnessDir[v]
	return fs.WalkDir(harnessFS, src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, src+"/")
		b, err := harnessFS.ReadFile(p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func run(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// Run runs the harness with args and decodes its JSON output into v. A
// harness error (exit status 1 with {"error": ...}) is returned as an error.
func (t *Tools) Run(v any, args ...string) error {
	cmd := exec.Command(t.Harness, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(stdout.Bytes(), &e) == nil && e.Error != "" {
		return fmt.Errorf("cmc %s harness %s: %s", t.Version, args[0], e.Error)
	}
	if runErr != nil {
		return fmt.Errorf("cmc %s harness %s: %w\n%s", t.Version, args[0], runErr, stderr.String())
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		return fmt.Errorf("cmc %s harness %s: output: %w", t.Version, args[0], err)
	}
	return nil
}

// MetadataResult is the harness's verdict on one metadata object.
type MetadataResult struct {
	File      string          `json:"file"`
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	Status    string          `json:"status"`
	Signature bool            `json:"signature"`
	Validity  string          `json:"validity"`
	Kept      bool            `json:"keptByFilter"`
	Detail    json.RawMessage `json:"detail"`
}

// VerifyMetadata runs CMC's metadata checks on file against the root CA.
func (t *Tools) VerifyMetadata(caPEM, file string) (MetadataResult, error) {
	var r []MetadataResult
	if err := t.Run(&r, "metadata", "--ca", caPEM, file); err != nil {
		return MetadataResult{}, err
	}
	if len(r) != 1 {
		return MetadataResult{}, fmt.Errorf("cmc %s: %d results for one file", t.Version, len(r))
	}
	return r[0], nil
}

// AttestResult is CMC's verifier's verdict on a report cmcd produced.
type AttestResult struct {
	Status string          `json:"status"`
	Result json.RawMessage `json:"result"`
}

// Attest asks the cmcd at socket for an attestation report and verifies it
// with CMC's verifier against the metadata root CA.
func (t *Tools) Attest(socket, caPEM string) (AttestResult, error) {
	var r AttestResult
	err := t.Run(&r, "attest", "--socket", socket, "--ca", caPEM)
	return r, err
}

// MatchResult is the verdict of CMC's SW verifier.
type MatchResult struct {
	OK         bool            `json:"ok"`
	References int             `json:"references"`
	Result     json.RawMessage `json:"result"`
}

// Match runs CMC's SW verifier on list against the metadata files.
func (t *Tools) Match(list string, metadata ...string) (MatchResult, error) {
	var r MatchResult
	err := t.Run(&r, append([]string{"match", "--list", list}, metadata...)...)
	return r, err
}

// Measurement is what CMC's own measure functions compute for a bundle.
type Measurement struct {
	ConfigSha256     string `json:"configSha256"`
	RootfsSha256     string `json:"rootfsSha256"`
	TemplateSha256   string `json:"templateSha256"`
	NormalizedConfig string `json:"normalizedConfig"`
}

// Measure runs CMC's measure functions on a config and rootfs.
func (t *Tools) Measure(id, config, rootfs string) (Measurement, error) {
	var m Measurement
	err := t.Run(&m, "measure", "--id", id, "--config", config, "--rootfs", rootfs)
	return m, err
}

// Cmcd is a running cmcd started by StartCmcd.
type Cmcd struct {
	Socket string // unix socket of the socket API
	CtrLog string // cmcd's own container measurement list
	Dir    string
}

// StartCmcd starts CMC v0.9's cmcd on a private directory: socket API on a
// unix socket, the given signed metadata files (trusted through the root
// CA metadataCA; with none, a fresh CA and no metadata), the sw driver for containers (ctrDriver sw,
// its own list in CtrLog), "direct" endorsement and EST enrollment against
// an unreachable address (neither is used by Measure). The process is
// stopped, by its pid, when the test ends.
func (t *Tools) StartCmcd(tb testing.TB, metadataCA string, metadata ...string) *Cmcd {
	tb.Helper()
	if t.Version != V09 {
		tb.Fatalf("StartCmcd: only CMC %s is configured here", V09)
	}
	dir := tb.TempDir()
	ca := metadataCA
	if ca == "" {
		ca = NewPKI(tb, dir, "p256").CA
	}
	c := &Cmcd{Socket: filepath.Join(dir, "cmcd.sock"), CtrLog: filepath.Join(dir, "ctrlog"), Dir: dir}
	os.Mkdir(filepath.Join(dir, "meta"), 0o755)
	for i, m := range metadata {
		b, err := os.ReadFile(m)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "meta", fmt.Sprintf("%d", i)), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	conf := map[string]any{
		"cmcAddr": "unix://" + c.Socket, "api": "socket", "hashAlg": "SHA256",
		"metadata": []string{"file://" + filepath.Join(dir, "meta")}, "drivers": []string{"sw"},
		"endorsementMode": "direct", "vendorCache": filepath.Join(dir, "vendor"),
		"enrollmentMode": "est", "enrollmentAddr": "https://127.0.0.1:1/", "provisionAuth": []string{},
		"storage": filepath.Join(dir, "storage"), "cache": filepath.Join(dir, "cache"), "peerCache": filepath.Join(dir, "peer"),
		"ctr": true, "ctrDriver": "sw", "ctrLog": c.CtrLog, "rootCas": []string{ca}, "logLevel": "debug",
	}
	b, _ := json.Marshal(conf)
	cfg := filepath.Join(dir, "cmcd.json")
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "cmcd.log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(t.Cmcd, "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		logf.Close()
	})
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(c.Socket); err == nil {
			return c
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logf.Name())
			tb.Fatalf("cmcd exited:\n%s", log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	log, _ := os.ReadFile(logf.Name())
	tb.Fatalf("cmcd socket did not appear:\n%s", log)
	return nil
}
