package oci

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/umoci/oci/layer"
	"golang.org/x/sys/unix"

	"github.com/refval/refval/bundle"
	ti "github.com/refval/refval/internal/testimage"
	"github.com/refval/refval/oci/layerfs"
)

// These tests hold package layerfs to its guarantee: its records equal
// those of umoci's library extraction (as root, umask 022) read back by
// bundle.HashRootfs. They live here, not in layerfs, so that layerfs's own
// test binary (and its fuzzer) stays free of umoci.

func treeRecords(t *testing.T, tars [][]byte) ([]bundle.Record, error) {
	t.Helper()
	tr := layerfs.New()
	for _, b := range tars {
		if err := tr.Apply(context.Background(), bytes.NewReader(b)); err != nil {
			return nil, err
		}
	}
	var recs []bundle.Record
	err := tr.Records(collect(&recs))
	return recs, err
}

// umociRecords extracts the layers with umoci's library as root and reads
// the result back with bundle.HashRootfs (the directory measurement).
func umociRecords(t *testing.T, tars [][]byte) ([]bundle.Record, error) {
	t.Helper()
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range tars {
		if err := layer.UnpackLayer(root, bytes.NewReader(b), &layer.UnpackOptions{}); err != nil {
			return nil, err
		}
	}
	var recs []bundle.Record
	_, _, err := bundle.HashRootfs(context.Background(), root, bundle.WithRecordFunc(collect(&recs)))
	if err != nil {
		t.Fatal(err)
	}
	return recs, nil
}

// TestMatchesUmoci is the package guarantee: the records equal those of
// umoci's extraction (as root) measured from disk.
func TestLayerfsMatchesUmoci(t *testing.T) {
	needRoot(t)
	for name, layers := range ti.EdgeCases() {
		for ending, end := range ti.Endings {
			t.Run(name+"/"+ending, func(t *testing.T) {
				tars := ti.LayerTarsEnding(t, layers, end)
				want, err := umociRecords(t, tars)
				if err != nil {
					t.Fatalf("umoci: %v", err)
				}
				got, err := treeRecords(t, tars)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("records (-umoci +layerfs):\n%s", diff)
				}
			})
		}
	}
}

// TestUmociRejects: what layerfs rejects, umoci's extraction fails on too
// (except whiteouts of "." and "..", which umoci would carry out, outside
// the layer's tree; Unpack refuses them before umoci sees them).
func TestUmociRejects(t *testing.T) {
	needRoot(t)
	for name, layers := range ti.RejectedLayers() {
		if name == "whiteout dot" || name == "whiteout dotdot" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if _, err := umociRecords(t, ti.LayerTars(t, layers)); err == nil {
				t.Errorf("umoci extracted what layerfs rejects")
			}
		})
	}
}
