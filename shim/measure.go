package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/refval/refval/manifest"
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

// FailureMarker is the list entry recorded, in fail-open mode, for a
// container that started although it could not be measured: config and
// rootfs hashes all zero, template hash SHA-256 of 64 zero bytes. No image
// has that reference value, so a verifier replaying the list sees that
// something ran unmeasured, and attestation fails instead of silently
// missing the container. It is recorded once (one entry per distinct
// template hash); the log names every container it stands for.
func FailureMarker(name string, pcr *int) Entry {
	var zero bundle.Digest
	t := bundle.TemplateHash(zero, zero)
	return Entry{Pcr: pcr, TemplateSha256: t[:], Name: name, ConfigSha256: zero[:], RootfsSha256: zero[:]}
}

// RecordFailure records FailureMarker for container id.
func (r *Recorder) RecordFailure(ctx context.Context, id string) (added bool, err error) {
	added, err = AppendEntry(r.Config.List, r.Config.ListFormat, FailureMarker(id, r.pcr()), func(e Entry) error {
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
	Entry  Entry
	// Added is false when the list already held this template hash.
	Added bool
	// GenerateDir is where generate mode wrote its files ("" if it did not).
	GenerateDir string
}

// NewRecorder returns a Recorder for c with the driver c names.
func NewRecorder(c *Config, log *slog.Logger) (*Recorder, error) {
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
	scheme, err := bundle.ParseScheme(r.Config.Scheme)
	if err != nil {
		return nil, err
	}
	// The owner a container sees is the one on disk: containerd copies a
	// user.rootlesscontainers xattr from image layers verbatim and the
	// kernel ignores it, so it must not override the owner here (the
	// offline stream measurement drops it from layers too).
	opts := []bundle.Option{bundle.WithContainerID(id), bundle.WithScheme(scheme), bundle.WithoutRootlessXattr()}
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
	m.Entry = r.entry(id, m.Result)
	m.Added, err = AppendEntry(r.Config.List, r.Config.ListFormat, m.Entry, func(e Entry) error {
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
		"entries", m.Result.Entries, "new", m.Added, "driver", r.Config.Driver,
		"generateDir", m.GenerateDir,
		"measureMs", ms(measured), "totalMs", ms(time.Since(start)))
	return m, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *Recorder) pcr() *int {
	if r.Config.Driver == DriverSW {
		return nil
	}
	p := r.Config.PCR
	return &p
}

func (r *Recorder) entry(id string, res *bundle.Result) Entry {
	return Entry{
		Pcr:            r.pcr(),
		TemplateSha256: res.TemplateSha256[:],
		Name:           id,
		ConfigSha256:   res.ConfigSha256[:],
		RootfsSha256:   res.RootfsSha256[:],
	}
}

// referenceValue returns the CMC reference value of a measurement through
// manifest.ContainerReferenceValue, exactly as `refval measure-bundle`
// prints it: a TPM reference value with the PCR for the tpm and cmcd
// drivers (both extend a PCR), a SW reference value for sw.
func (r *Recorder) referenceValue(name string, res *bundle.Result) (manifest.ReferenceValue, error) {
	driver := manifest.DriverTPM
	if r.Config.Driver == DriverSW {
		driver = manifest.DriverSW
	}
	return manifest.ContainerReferenceValue(name, driver, r.Config.PCR, false, res)
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
	rv, err := r.referenceValue(id, res)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	refs, err := json.MarshalIndent([]manifest.ReferenceValue{rv}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, RefsFile), append(refs, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, NormalizedConfigFile), res.NormalizedConfig, 0o644); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	return res, nil
}
