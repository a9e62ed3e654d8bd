package shim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refval/refval/driver/cmcd"
	"github.com/refval/refval/driver/tpm"
	"github.com/refval/refval/internal/tpmtest"
	"golang.org/x/sys/unix"
)

// within fails t unless fn returns within a few seconds: the calls
// tested here used to block forever.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still blocked after 5 s", what)
	}
}

// The shim's own configuration file as a FIFO is refused at once (it
// used to hang every runc call), and so is any non-regular file.
func TestLoadConfigFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shim.toml")
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	within(t, "LoadConfig of a FIFO", func() { _, err = LoadConfig(p, false) })
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO config: %v; want ErrConfig saying it is not a regular file", err)
	}
	if _, err := LoadConfig(t.TempDir(), true); !errors.Is(err, ErrConfig) {
		t.Errorf("directory as config: %v, want ErrConfig", err)
	}
}

// A configuration file larger than MaxConfigSize is refused without
// being read whole.
func TestLoadConfigTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shim.toml")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(30 << 20) // 30 MB, sparse
	f.Close()
	_, err = LoadConfig(p, true)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), fmt.Sprint(MaxConfigSize)) {
		t.Errorf("30 MB config: %v; want ErrConfig naming the limit", err)
	}
}

// A configuration under which every start would go unrecorded is an
// error at load: a list that is a directory, a symlink, a FIFO, a lock
// that is a symlink, a list in a "directory" that is a file, a path with
// a NUL byte.
func TestLoadConfigListChecks(t *testing.T) {
	d := t.TempDir()
	file := filepath.Join(d, "file")
	os.WriteFile(file, nil, 0o644)
	fifo := filepath.Join(d, "fifo")
	unix.Mkfifo(fifo, 0o644)
	link := filepath.Join(d, "link.json")
	os.Symlink(file, link)
	lockLinked := filepath.Join(d, "locked.json")
	os.Symlink(filepath.Join(d, "elsewhere"), lockLinked+".lock")
	tests := []struct{ name, list, mention string }{
		{"directory", d, "not a regular file"},
		{"directory-slash", d + "/", "names a directory"},
		{"symlink", link, "symbolic link"},
		{"fifo", fifo, "not a regular file"},
		{"lock-symlink", lockLinked, "symbolic link"},
		{"parent-is-a-file", filepath.Join(file, "list.json"), "not a directory"},
		{"nul", filepath.Join(d, "list\x00.json"), "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "shim.toml")
			os.WriteFile(p, fmt.Appendf(nil, "cmc_version = \"0.7\"\nlist = %q\nlog_file = %q\n", tt.list, filepath.Join(d, "shim.log")), 0o644)
			c, err := LoadConfig(p, true)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "list") || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("list %q: %v; want ErrConfig naming list and %q", tt.list, err, tt.mention)
			}
			if tt.name != "nul" && tt.name != "directory-slash" && (c == nil || c.LogFile != filepath.Join(d, "shim.log")) {
				t.Errorf("the parsed configuration is not returned for logging: %+v", c)
			}
		})
	}
	// A list that does not exist yet is fine.
	p := filepath.Join(t.TempDir(), "shim.toml")
	os.WriteFile(p, fmt.Appendf(nil, "cmc_version = \"0.7\"\nlist = %q\n", filepath.Join(d, "new", "list.json")), 0o644)
	if _, err := LoadConfig(p, true); err != nil {
		t.Errorf("list not created yet: %v", err)
	}
}

// A list that is a directory refuses the start (it used to fail open
// with nothing recorded): runc is not exec'ed, and the reason is on
// stderr, in runc's --log and in the shim's own log.
func TestRuncMainRefusesUnrecordableList(t *testing.T) {
	d := t.TempDir()
	realRunc := filepath.Join(d, "runc")
	writeExe(t, realRunc)
	listDir := filepath.Join(d, "list-is-a-dir")
	os.Mkdir(listDir, 0o755)
	shimLog := filepath.Join(d, "shim.log")
	writeConfig(t, fmt.Sprintf("cmc_version = \"0.7\"\nrunc = %q\nlist = %q\nlog_file = %q\n", realRunc, listDir, shimLog))
	runcLog := filepath.Join(d, "runc.log")
	calls := stubExec(t)
	var stderr bytes.Buffer
	code := runcMain([]string{"runc", "--log", runcLog, "--log-format", "json", "create", "--bundle", testBundle(t), "c3"}, nil, &stderr)
	if code != 1 || len(*calls) != 0 {
		t.Fatalf("exit %d, execs %d; want 1 and none", code, len(*calls))
	}
	for what, text := range map[string]string{"stderr": stderr.String(), "runc --log": mustReadFile(t, runcLog), "shim log": mustReadFile(t, shimLog)} {
		if !strings.Contains(text, listDir) {
			t.Errorf("%s does not name the list %s: %q", what, listDir, text)
		}
	}
	// Other subcommands still pass through (delete must work).
	runcMain([]string{"runc", "delete", "c3"}, nil, &stderr)
	if len(*calls) != 1 {
		t.Errorf("delete not passed through: %+v", *calls)
	}
}

func mustReadFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeCMCD accepts measure requests on a unix socket and answers success.
func fakeCMCD(t *testing.T) (string, func() []cmcd.MeasureRequest) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cmcd.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	var reqs []cmcd.MeasureRequest
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			typ, payload, err := cmcd.ReadMessage(c)
			if err == nil && typ == cmcd.TypeMeasure {
				// {0: name, 1: config, 2: rootfs}, decoded by the
				// test's own reading of the request's fixed layout.
				var r cmcd.MeasureRequest
				if decodeRequest(payload, &r) {
					mu.Lock()
					reqs = append(reqs, r)
					mu.Unlock()
				}
				cmcd.WriteMessage(c, cmcd.TypeMeasure, []byte{0xa1, 0x00, 0xf5})
			}
			c.Close()
		}
	}()
	return path, func() []cmcd.MeasureRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]cmcd.MeasureRequest(nil), reqs...)
	}
}

// decodeRequest reads {0: text(n), 1: bytes(32), 2: bytes(32)} by hand
// (RFC 8949), short names only.
func decodeRequest(b []byte, r *cmcd.MeasureRequest) bool {
	if len(b) < 3 || b[0] != 0xa3 || b[1] != 0x00 || b[2] < 0x60 || b[2] > 0x77 {
		return false
	}
	n := int(b[2] - 0x60)
	b = b[3:]
	if len(b) != n+2*(3+32) {
		return false
	}
	r.Name, b = string(b[:n]), b[n:]
	if !bytes.Equal(b[:3], []byte{0x01, 0x58, 0x20}) || !bytes.Equal(b[35:38], []byte{0x02, 0x58, 0x20}) {
		return false
	}
	r.ConfigSha256, r.RootfsSha256 = b[3:35], b[38:]
	return true
}

// When recording fails in fail-open mode (here: an unreadable list, which
// is never rewritten), a driver that extends a PCR still receives the
// failure marker, so the quote matches no reference value.
func TestFailOpenRecordingFailureMarksDriver(t *testing.T) {
	unreadable := func(t *testing.T) string {
		p := filepath.Join(t.TempDir(), "list.json")
		os.WriteFile(p, []byte("[{"), 0o644)
		return p
	}
	// A measurement failure too (a missing bundle), with a list that
	// cannot take the marker.
	bundles := map[string]func(t *testing.T) string{
		"measured":      testBundle,
		"measure-fails": func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing") },
	}
	for name, bundleDir := range bundles {
		t.Run("cmcd/"+name, func(t *testing.T) {
			sock, received := fakeCMCD(t)
			c := DefaultConfig()
			c.CMCVersion = "0.7"
			c.Driver, c.CMCDSocket, c.List = "cmcd", sock, unreadable(t)
			call := RuncCall{Command: "create", Bundle: bundleDir(t), ID: "x1"}
			if err := measureCall(c, nil, nil, call, nil); err != nil {
				t.Fatalf("fail-open refused the start: %v", err)
			}
			zero := make([]byte, 32)
			got := received()
			if len(got) != 1 || got[0].Name != "x1" || !bytes.Equal(got[0].ConfigSha256, zero) || !bytes.Equal(got[0].RootfsSha256, zero) {
				t.Errorf("cmcd received %+v; want one failure marker for x1 (zero hashes)", got)
			}
		})
	}
	t.Run("tpm", func(t *testing.T) {
		addr := tpmtest.StartTCP(t)
		c := DefaultConfig()
		c.CMCVersion = "0.7"
		c.Driver, c.TPM, c.PCR, c.List = "tpm", addr, 16, unreadable(t)
		call := RuncCall{Command: "create", Bundle: testBundle(t), ID: "x2"}
		if err := measureCall(c, nil, nil, call, nil); err != nil {
			t.Fatalf("fail-open refused the start: %v", err)
		}
		dev, err := tpm.Open(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		defer dev.Close()
		// PCR 16 starts at zero; one extend with SHA-256(64 zero bytes).
		marker := sha256.Sum256(make([]byte, 64))
		want := sha256.Sum256(append(make([]byte, 32), marker[:]...))
		if got := tpmtest.ReadPCR(t, dev, 16); !bytes.Equal(got, want[:]) {
			t.Errorf("PCR 16 = %x, want one extend with the failure marker %x", got, want)
		}
	})
	t.Run("sw", func(t *testing.T) {
		c := DefaultConfig()
		c.CMCVersion = "0.7"
		c.List = unreadable(t)
		call := RuncCall{Command: "create", Bundle: testBundle(t), ID: "x3"}
		if err := measureCall(c, nil, nil, call, nil); err != nil {
			t.Fatalf("fail-open refused the start: %v", err)
		}
		if b, _ := os.ReadFile(c.List); string(b) != "[{" {
			t.Errorf("unreadable list rewritten: %q", b)
		}
	})
}

// The list's index LIST.idx gets the list's checks: a symbolic link or
// FIFO there is an error at load, naming the index.
func TestLoadConfigIndexChecks(t *testing.T) {
	d := t.TempDir()
	linked := filepath.Join(d, "linked.json")
	os.WriteFile(filepath.Join(d, "elsewhere"), nil, 0o644)
	os.Symlink(filepath.Join(d, "elsewhere"), linked+".idx")
	fifo := filepath.Join(d, "fifo.json")
	if err := unix.Mkfifo(fifo+".idx", 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct{ list, mention string }{
		"index-symlink": {linked, "symbolic link"},
		"index-fifo":    {fifo, "not a regular file"},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "shim.toml")
			os.WriteFile(p, fmt.Appendf(nil, "cmc_version = \"0.7\"\nlist = %q\n", tt.list), 0o644)
			_, err := LoadConfig(p, true)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.list+".idx") || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("index of %q: %v; want ErrConfig naming %s.idx and %q", tt.list, err, tt.list, tt.mention)
			}
		})
	}
	// A regular index is fine.
	ok := filepath.Join(d, "ok.json")
	os.WriteFile(ok+".idx", nil, 0o644)
	p := filepath.Join(t.TempDir(), "shim.toml")
	os.WriteFile(p, fmt.Appendf(nil, "cmc_version = \"0.7\"\nlist = %q\n", ok), 0o644)
	if _, err := LoadConfig(p, true); err != nil {
		t.Errorf("regular index: %v", err)
	}
}
