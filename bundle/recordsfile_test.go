package bundle

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestWriteRecordsFileFileChanged: a file that changes while it is
// measured makes WriteRecordsFile fail with ErrFileChanged naming that
// file (not with an error about the records file), and neither a
// half-written records file nor a temporary one remains; an earlier
// records file stays as it was (issue 10, item 10).
func TestWriteRecordsFileFileChanged(t *testing.T) {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	makeTree(t, rootfs, []entry{{path: ".", kind: TypeDir, mode: 0o755, uid: -1, gid: -1}})
	for _, n := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(rootfs, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A large sparse file takes long enough to hash that a writer
	// appending all the time changes it while it is read.
	big := filepath.Join(rootfs, "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 64<<20); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rec.jsonl")
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	for try := 0; try < 20 && err == nil; try++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.OpenFile(big, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			for {
				select {
				case <-stop:
					return
				default:
					f.Write([]byte{1})
				}
			}
		}()
		err = WriteRecordsFile(out, func(fn func(*Record) error) error {
			_, err := Measure(context.Background(), "", WithConfigPath(writeConfig(t, dir)), WithRootfsPath(rootfs), WithRecordFunc(fn))
			return err
		})
		close(stop)
		wg.Wait()
		if err == nil {
			checkRecordsFile(t, out) // a success wrote a whole file
		}
	}
	if !errors.Is(err, ErrFileChanged) {
		t.Fatalf("err = %v, want ErrFileChanged", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "/big") || strings.Contains(msg, "rec.jsonl") {
		t.Errorf("error %q: want it to name /big and not the records file", msg)
	}
	if b, _ := os.ReadFile(out); string(b) != "old\n" {
		t.Errorf("records file after the failure holds %q, want the old content", b)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestWriteRecordsFileWriteError: a records file that cannot be written
// is an error naming it, and the measurement error wins over nothing.
func TestWriteRecordsFileWriteError(t *testing.T) {
	out := filepath.Join(t.TempDir(), "missing", "rec.jsonl")
	err := WriteRecordsFile(out, func(fn func(*Record) error) error { return nil })
	if err == nil || !strings.Contains(err.Error(), out) {
		t.Errorf("err = %v, want an error naming %s", err, out)
	}
	boom := errors.New("boom")
	dir := t.TempDir()
	if err := WriteRecordsFile(filepath.Join(dir, "r"), func(fn func(*Record) error) error { return boom }); err != boom {
		t.Errorf("err = %v, want the measurement's error as it is", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

func writeConfig(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "config.json")
	if err := os.WriteFile(p, []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkRecordsFile reads a records file back: every line a record.
func checkRecordsFile(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	if err := ReadRecords(bufio.NewReader(f), func(*Record) error { n++; return nil }); err != nil || n == 0 {
		t.Errorf("records file: %d records, %v", n, err)
	}
}
