package shim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
)

// GenerateID is the container ID that asks for generate mode (the CMC
// convention: `ctr run ... IMAGE CMC_GENERATE_APP_MANIFEST`).
const GenerateID = "CMC_GENERATE_APP_MANIFEST"

// Files written in generate mode, in GenerateDir for GenerateID and in
// GenerateDir/<container-id> for every container with generate_all.
const (
	// RefsFile holds the reference values: the JSON of `refval
	// measure-bundle` (an array with one CMC reference value).
	RefsFile = "container-refs"
	// NormalizedConfigFile holds the bytes whose SHA-256 is configSha256.
	NormalizedConfigFile = "container-config.json"
	// RecordsFile holds the refval-v1 rootfs records, one JSON object per
	// line, in measurement order (empty for the cmc scheme, which has none).
	RecordsFile = "container-records.jsonl"
)

// ErrRecord marks a failure to record a measurement that was taken (list
// or driver), as opposed to a failure to measure.
var ErrRecord = errors.New("record measurement")

// RecordFailure records measurelist.FailureMarker for container id.
func (r *Recorder) RecordFailure(ctx context.Context, id string) (added bool, err error) {
	added, err = measurelist.AppendCodec(r.Config.List, r.Config.ListCodec(), measurelist.FailureMarker(id, r.pcr()), func(e measurelist.Entry) error {
		return r.Driver.Record(ctx, e)
	})
	if err != nil {
		return false, fmt.Errorf("%w: failure marker: %w", ErrRecord, err)
	}
	return added, nil
}

// Recorder measures containers and records the measurements as a Config
// says. It is what the runc wrapper runs on create, run and restore.
type Recorder struct {
	Config *Config
	Driver Driver
	Log    *slog.Logger
}

// Measurement is the outcome of Recorder.Measure.
type Measurement struct {
	Result *bundle.Result
	Entry  measurelist.Entry
	// Added is false when the list already held this template hash.
	Added bool
	// GenerateDir is where generate mode wrote its files ("" if it did not).
	GenerateDir string
}

// NewRecorder returns a Recorder for c with the driver c names. c is
// validated here (a loaded configuration already was).
func NewRecorder(c *Config, log *slog.Logger) (*Recorder, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d, err := NewDriver(c)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{Config: c, Driver: d, Log: log}, nil
}

// Measure measures the bundle of container id, writes generate-mode files
// when asked, and records the measurement (list, then driver).
func (r *Recorder) Measure(ctx context.Context, bundleDir, id string) (*Measurement, error) {
	start := time.Now()
	scheme := r.Config.Scheme
	var err error
	// The owner a container sees is the one on disk: containerd copies a
	// user.rootlesscontainers xattr from image layers verbatim and the
	// kernel ignores it, so it must not override the owner here (the
	// offline stream measurement drops it from layers too).
	opts := []bundle.Option{bundle.WithContainerID(id), bundle.WithScheme(scheme), bundle.WithoutRootlessXattr(),
		bundle.WithLimits(r.Config.Limits.bundleLimits())}
	m := &Measurement{}
	if id == GenerateID || r.Config.GenerateAll {
		m.GenerateDir, err = r.generateDir(id)
		if err == nil {
			m.Result, err = r.generate(ctx, bundleDir, m.GenerateDir, id, opts)
		}
	} else {
		m.Result, err = bundle.Measure(ctx, bundleDir, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("measure bundle %s: %w", bundleDir, err)
	}
	measured := time.Since(start)
	m.Entry = measurelist.NewEntry(id, r.pcr(), m.Result)
	if r.Config.CMC() == manifest.CMC09 {
		m.Entry = measurelist.NewEntry09(id, r.pcr(), m.Result)
	}
	m.Added, err = measurelist.AppendCodec(r.Config.List, r.Config.ListCodec(), m.Entry, func(e measurelist.Entry) error {
		return r.Driver.Record(ctx, e)
	})
	if err != nil {
		return m, fmt.Errorf("%w: %w", ErrRecord, err)
	}
	r.Log.Info("measured container",
		"id", id, "bundle", bundleDir, "scheme", string(scheme),
		"templateSha256", m.Result.TemplateSha256.String(),
		"configSha256", m.Result.ConfigSha256.String(),
		"rootfsSha256", m.Result.RootfsSha256.String(),
		"entries", m.Result.Entries, "new", m.Added, "driver", string(r.Config.Driver),
		"generateDir", m.GenerateDir,
		"measureMs", ms(measured), "totalMs", ms(time.Since(start)))
	return m, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pcr is the PCR list entries name: the configured one for a driver that
// extends a PCR, none for sw.
func (r *Recorder) pcr() *driver.PCR {
	if !r.Config.Driver.ExtendsPCR() {
		return nil
	}
	p := r.Config.PCR
	return &p
}

// referenceValue returns the CMC reference value of a measurement through
// manifest.ContainerReferenceValue, exactly as `refval measure-bundle
// --driver K` prints it, K being the driver's reference kind.
func (r *Recorder) referenceValue(name string, res *bundle.Result) (manifest.ReferenceValue, error) {
	return manifest.ContainerReferenceValue(name, string(r.Config.Driver.ReferenceKind()), int(r.Config.PCR), false, res)
}

func (r *Recorder) generateDir(id string) (string, error) {
	if id == GenerateID {
		return r.Config.GenerateDir, nil
	}
	// containerd IDs never contain a separator, but the wrapper may be
	// called by anything: never let an ID walk out of GenerateDir.
	if id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return "", fmt.Errorf("generate: container ID %q cannot name a directory", id)
	}
	return filepath.Join(r.Config.GenerateDir, id), nil
}

// generate measures with the records streamed into RecordsFile, then
// writes the reference values and the normalized config. Each file is
// replaced atomically; a failed measurement leaves the old files.
func (r *Recorder) generate(ctx context.Context, bundleDir, dir, id string, opts []bundle.Option) (*bundle.Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	var res *bundle.Result
	err := bundle.WriteRecordsFile(filepath.Join(dir, RecordsFile), func(record func(*bundle.Record) error) (err error) {
		res, err = bundle.Measure(ctx, bundleDir, append(opts, bundle.WithRecordFunc(record))...)
		return err
	})
	if err != nil {
		return nil, err
	}
	var write func(io.Writer) error
	if r.Config.CMC() == manifest.CMC09 {
		c, err := manifest.ContainerComponent(id, string(r.Config.Driver.ReferenceKind()), int(r.Config.PCR), false, res)
		if err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		write = func(w io.Writer) error { return manifest.WriteComponents(w, []manifest.Component{c}) }
	} else {
		rv, err := r.referenceValue(id, res)
		if err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		write = func(w io.Writer) error { return manifest.WriteReferenceValues(w, []manifest.ReferenceValue{rv}) }
	}
	err = atomicfile.Write(filepath.Join(dir, RefsFile), 0o644, write)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, NormalizedConfigFile), res.NormalizedConfig, 0o644); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	return res, nil
}
