package bundle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteRecordsFileFileChanged: when the measurement fails after
// some records were written (a file changed while it was read),
// WriteRecordsFile returns that error as it is, naming the changed file
// and not the records file, leaves no half-written or temporary file, and
// an earlier records file stays as it was (issue 10, item 10; the
// end-to-end case is TestMeasureBundleRecordsFileChanged in the CLI).
func TestWriteRecordsFileFileChanged(t *testing.T) {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	makeTree(t, rootfs, richTree())
	out := filepath.Join(t.TempDir(), "rec.jsonl")
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := fmt.Errorf("hash rootfs: /big: %w", ErrFileChanged)
	n := 0
	err := WriteRecordsFile(out, func(fn func(*Record) error) error {
		_, err := Measure(context.Background(), "", WithConfigPath(writeConfig(t, dir)), WithRootfsPath(rootfs), WithRecordFunc(func(r *Record) error {
			n++
			return fn(r)
		}))
		if err != nil {
			return err
		}
		return changed
	})
	if err != changed || n == 0 {
		t.Fatalf("err = %v after %d records, want the measurement's error as it is", err, n)
	}
	if b, _ := os.ReadFile(out); string(b) != "old\n" {
		t.Errorf("records file after the failure holds %q, want the old content", b)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	// The same measurement without the failure writes every record.
	if err := WriteRecordsFile(out, func(fn func(*Record) error) error {
		_, err := Measure(context.Background(), "", WithConfigPath(writeConfig(t, dir)), WithRootfsPath(rootfs), WithRecordFunc(fn))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := checkRecordsFile(t, out); got != n {
		t.Errorf("records file holds %d records, the measurement made %d", got, n)
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

// checkRecordsFile reads a records file back (every line a record) and
// returns the number of records.
func checkRecordsFile(t *testing.T, p string) int {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	if err := ReadRecords(bufio.NewReader(f), func(*Record) error { n++; return nil }); err != nil {
		t.Errorf("records file: %v", err)
	}
	return n
}
