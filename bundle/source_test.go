package bundle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// records is a Source holding its records in a slice.
type records []Record

func (rs records) Records(fn func(*Record) error) error {
	for i := range rs {
		r := rs[i]
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

// TestMeasureSourceEqualsMeasure: the records a directory yields, given
// back as a Source with the same config, measure to the same Result as
// the directory itself, and the record function sees the same records.
func TestMeasureSourceEqualsMeasure(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	makeTree(t, root, richTree())
	cfg := []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"hostname":"c1","process":{"env":["B=1","A=2"]}}`)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	var seen records
	want, err := Measure(context.Background(), dir, WithContainerID("c1"), WithRecordFunc(func(r *Record) error {
		seen = append(seen, *r)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	var again records
	got, err := MeasureSource(context.Background(), cfg, seen, WithContainerID("c1"), WithRecordFunc(func(r *Record) error {
		again = append(again, *r)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Result (-Measure +MeasureSource):\n%s", d)
	}
	if d := cmp.Diff(seen, again); d != "" {
		t.Errorf("records (-Measure +MeasureSource):\n%s", d)
	}
	if got.Entries != len(seen) || got.Entries == 0 {
		t.Errorf("entries %d, records %d", got.Entries, len(seen))
	}
}

// TestHashSourceOrder: a record reaches the record function only after
// the digest took it, so a record the encoder refuses is never written
// out; errors of the function stop the walk and are returned as they are.
func TestHashSourceOrder(t *testing.T) {
	src := records{{Path: "/", Type: TypeDir, Mode: 0o755}, {Path: "/x", Type: EntryType(200)}, {Path: "/y", Type: TypeFile}}
	var seen []string
	_, _, err := HashSource(src, WithRecordFunc(func(r *Record) error { seen = append(seen, r.Path); return nil }))
	if !errors.Is(err, ErrUnknownType) {
		t.Errorf("err = %v, want ErrUnknownType", err)
	}
	if d := cmp.Diff([]string{"/"}, seen); d != "" {
		t.Errorf("record function saw (-want +got):\n%s", d)
	}
	stop := errors.New("stop")
	if _, _, err := HashSource(src[:1], WithRecordFunc(func(*Record) error { return stop })); err != stop {
		t.Errorf("err = %v, want the record function's error", err)
	}
	if _, err := MeasureSource(context.Background(), []byte(`{}`), src[:1], WithScheme(SchemeCMC)); !errors.Is(err, ErrUnsupportedScheme) {
		t.Errorf("cmc over records: %v, want ErrUnsupportedScheme", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := MeasureSource(ctx, []byte(`{}`), src[:1]); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
