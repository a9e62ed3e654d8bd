package cmd

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra/doc"
)

// TestCLIDocsUpToDate fails when docs/cli no longer matches the commands;
// run `make docs` to regenerate it.
func TestCLIDocsUpToDate(t *testing.T) {
	dir := t.TempDir()
	root := New(nil, io.Discard, io.Discard)
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		t.Fatal(err)
	}
	want := readDir(t, dir)
	got := readDir(t, filepath.Join("..", "..", "..", "docs", "cli"))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docs/cli is stale; run `make docs` (-generated +committed):\n%s", diff)
	}
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}
