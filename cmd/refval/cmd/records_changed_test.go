package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestMeasureBundleRecordsFileChanged: a file that changes during
// `measure-bundle --records` is reported as a changed file, named, not as
// an error writing the records file, and no records file (nor a temporary
// one) is left (issue 10, item 10).
func TestMeasureBundleRecordsFileChanged(t *testing.T) {
	dir := writeBundle(t)
	big := filepath.Join(dir, "rootfs", "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Long enough to hash that a writer appending all the time changes
	// it while it is read.
	if err := os.Truncate(big, 64<<20); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	rec := filepath.Join(outDir, "rec.jsonl")
	var stderr string
	code := 0
	for try := 0; try < 20 && code == 0; try++ {
		os.Remove(rec)
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
		_, stderr, code = runCLI(t, "measure-bundle", dir, "--records", rec)
		close(stop)
		wg.Wait()
	}
	if code == 0 {
		t.Fatal("the file never changed during the measurement")
	}
	if !strings.Contains(stderr, "/big: file changed during measurement") || strings.Contains(stderr, "rec.jsonl") {
		t.Errorf("stderr %q: want the changed file named, not the records file", stderr)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
