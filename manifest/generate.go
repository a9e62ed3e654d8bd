package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/internal/atomicfile"
)

// RunOptions say how one image is measured and run: the measurement
// scheme and driver of its reference value, the platform of a
// multi-platform image, and the run's environment (recorded in the App
// Description).
type RunOptions struct {
	// Name of the reference value and of the manifest.
	Name string `json:"name,omitempty"`
	// Scheme is the measurement scheme (the zero Scheme is the default,
	// refval-v1); a batch file's scheme is checked as it is decoded.
	Scheme bundle.Scheme `json:"scheme,omitempty"`
	// Driver is DriverTPM or DriverSW ("" is DriverSW).
	Driver string `json:"driver,omitempty"`
	// PCR of a TPM reference value (nil: DefaultPCR).
	PCR *int `json:"pcr,omitempty"`
	// Optional marks the reference value optional.
	Optional bool `json:"optional,omitempty"`
	// Platform selects from a multi-platform index ("os/arch[/variant]").
	Platform string `json:"platform,omitempty"`
	// Env is the KEY=VALUE environment of the run, recorded in the App
	// Description; when Run selects an engine it is also part of the
	// predicted config (as --env options, before Run's own).
	Env []string `json:"env,omitempty"`
	// Run selects the engine whose runtime config is predicted and its
	// run options (docs/engines.md). nil: the config umoci writes (engine
	// runc).
	Run *Run `json:"run,omitempty"`
	// OciRules are the ociRules of the image's Manifest Description (CMC
	// 0.9, GenerateConfig.ImageDescription only): how CMC's verifier
	// compares the measured config with the reference where their hashes
	// differ (`refval measure --oci-rules-out` writes them).
	OciRules map[string]any `json:"ociRules,omitempty"`
}

// Run is the engine profile and the run options that predict an image's
// runtime config, as a batch file holds them:
//
//	"run": {"engine": "containerd", "engineVersion": "2.4", "cwd": "/srv",
//	        "args": ["/app", "serve"]}
//
// The members after engineVersion, baseSpec and host are those of
// engine.RunOptions (its JSON names: env, cwd, mounts, readOnly, ...).
// The older form, a command line as `refval measure` takes it
// (["--engine", "containerd", "--cwd", "/srv", "--", "/app", "serve"]),
// is read into CommandLine; the command that reads the batch resolves it
// into the fields, with its own flag parser, before anything is measured.
type Run struct {
	// Engine is the engine kind ("runc", the default, "containerd" or
	// "kubernetes").
	Engine string `json:"engine,omitempty"`
	// EngineVersion is the engine's version ("": engine.DefaultVersion).
	EngineVersion string `json:"engineVersion,omitempty"`
	// BaseSpec is a capture of "ctr oci spec" on the device, to start
	// from instead of the version's default spec.
	BaseSpec json.RawMessage `json:"baseSpec,omitempty"`
	// Host is the device profile that --privileged and --net-host need.
	Host *engine.Host `json:"host,omitempty"`
	// Pod, Container and NodeProfile select the kubernetes prediction: the
	// Pod or workload YAML file, the (init) container in it ("POD": the
	// pod's sandbox, from the sandbox image), and the node
	// profile file ("": the default node). Only with engine "kubernetes",
	// which takes no other run options.
	Pod         string `json:"pod,omitempty"`
	Container   string `json:"container,omitempty"`
	NodeProfile string `json:"nodeProfile,omitempty"`
	engine.RunOptions
	// CommandLine is the legacy form of the run options, not yet resolved.
	CommandLine []string `json:"-"`
}

// UnmarshalJSON reads both forms of "run": an object (unknown members are
// errors, as everywhere in a batch file) or a legacy command line.
func (r *Run) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		*r = Run{}
		if err := json.Unmarshal(b, &r.CommandLine); err != nil {
			return err
		}
		if r.CommandLine == nil {
			r.CommandLine = []string{}
		}
		return nil
	}
	type plain Run // without this method
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*r = Run(p)
	return nil
}

// Validate checks the run options before anything is measured: a known
// scheme and driver, a PCR in 0..23, KEY=VALUE environment entries. A
// scheme decoded from JSON or a flag is known already; the check is for
// RunOptions built in Go.
func (o RunOptions) Validate() error {
	if _, err := bundle.ParseScheme(string(o.Scheme)); err != nil {
		return fmt.Errorf("%w: scheme: %v", ErrField, err)
	}
	switch o.Driver {
	case "", DriverSW, DriverTPM:
	default:
		return fmt.Errorf("%w: driver %q: want %s or %s", ErrField, o.Driver, DriverTPM, DriverSW)
	}
	if o.PCR != nil && (*o.PCR < 0 || *o.PCR > 23) {
		return fmt.Errorf("%w: pcr %d: not in 0..23", ErrField, *o.PCR)
	}
	// A PCR with the sw driver would be dropped silently: say so instead.
	if o.PCR != nil && o.Driver != DriverTPM {
		return fmt.Errorf("%w: pcr %d: only a TPM reference value has a PCR (driver %q)", ErrField, *o.PCR, DriverTPM)
	}
	_, err := ParseEnv(o.Env)
	return err
}

// ImageInfo identifies the exact image a reference value was measured from.
type ImageInfo struct {
	Reference string `json:"reference,omitempty"`
	Digest    string `json:"digest,omitempty"`
	Platform  string `json:"platform,omitempty"`
}

// MeasureFunc measures one image (the stream path of package oci) into
// the reference value a manifest carries.
type MeasureFunc func(ctx context.Context, imageRef string, opts RunOptions) (ReferenceValue, ImageInfo, error)

// SignFunc wraps an encoded manifest in a signed envelope.
type SignFunc func(payload []byte, f Format) ([]byte, error)

// Job is one image of a generate run.
type Job struct {
	Image string `json:"image"`
	RunOptions
}

// Batch is the file format of `refval generate --batch`: a list of images
// with their names and run options (or, equally, a bare JSON array of jobs),
// and the CMC dialect of the manifests (the key the shim's configuration
// uses too; absent: DefaultCMCVersion).
type Batch struct {
	Images     []Job      `json:"images"`
	CMCVersion CMCVersion `json:"cmc_version,omitempty"`
}

// ErrGenerate is wrapped by Generate when at least one image failed.
var ErrGenerate = errors.New("some images failed")

// ParseBatch reads the jobs of a batch file (ParseBatchFile).
func ParseBatch(b []byte) ([]Job, error) {
	bt, err := ParseBatchFile(b)
	if err != nil {
		return nil, err
	}
	return bt.Images, nil
}

// ParseBatchFile reads a batch file: its jobs and its cmc_version ("" when
// absent, or in the bare-array form). Unknown members are errors (a
// misspelt run option must not be ignored), as are an unknown CMC version,
// trailing data and jobs without an image.
func ParseBatchFile(b []byte) (*Batch, error) {
	if err := ValidateJSON(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var bt Batch
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := dec.Decode(&bt.Images); err != nil {
			return nil, fieldError(err)
		}
	} else if err := dec.Decode(&bt); err != nil {
		if errors.Is(err, ErrCMCVersion) {
			return nil, fmt.Errorf("%w: cmc_version: %v", ErrField, err)
		}
		return nil, fieldError(err)
	}
	if len(bt.Images) == 0 {
		return nil, fmt.Errorf("%w: no images", ErrField)
	}
	for i, j := range bt.Images {
		if j.Image == "" {
			return nil, fmt.Errorf("%w: images[%d].image: missing", ErrField, i)
		}
		if err := j.Validate(); err != nil {
			return nil, fmt.Errorf("images[%d]: %w", i, err)
		}
	}
	return &bt, nil
}

// NameFromImage derives a manifest name from an image reference: the last
// path component without transport, tag or digest ("docker://r/ns/web:1"
// gives "web"; "oci:/layouts/store:web" gives "web", the image name in the
// layout).
func NameFromImage(ref string) string {
	r := ref
	if i := strings.Index(r, "@"); i >= 0 {
		r = r[:i]
	}
	transport, rest, ok := strings.Cut(r, ":")
	switch transport {
	case "docker", "oci", "oci-archive", "docker-archive", "dir", "docker-daemon", "containers-storage":
	default:
		ok = false
	}
	if !ok {
		rest, transport = r, ""
	}
	rest = strings.TrimPrefix(rest, "//")
	switch transport {
	case "oci", "oci-archive", "docker-archive":
		// PATH:NAME — the name in the layout or archive, if any.
		if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i:], "/") {
			return rest[i+1:]
		}
	}
	rest = rest[strings.LastIndex(rest, "/")+1:]
	if i := strings.Index(rest, ":"); i >= 0 {
		rest = rest[:i]
	}
	return strings.TrimSuffix(strings.TrimSuffix(rest, ".tar"), ".tar.gz")
}

// GenerateConfig configures Generate.
type GenerateConfig struct {
	// CMCVersion is the dialect of the manifests ("": DefaultCMCVersion).
	// It decides the template's type, what is measured (Measure or
	// MeasureComponent), the description file, and the version of the
	// scheme "cmc" of the jobs.
	CMCVersion CMCVersion
	// Template is the document (JSON or CBOR) whose members every
	// generated manifest keeps: an App Manifest for CMC 0.7 (name and
	// referenceValues are replaced), a Manifest for CMC 0.9 (name and
	// sbom.components are replaced; its version must be RFC 3339).
	Template []byte
	// Validity, when set, replaces the template's validity window.
	Validity *Validity
	// Format of the written manifests.
	Format Format
	// OutDir receives <name>.manifest.json or <name>.manifest.cbor.
	OutDir string
	// DeviceDescription, when set, is a Device Description file (JSON or
	// CBOR) that receives one App Description per successful image, with
	// the run's environment; it is rewritten atomically at the end. CMC
	// 0.7 only.
	DeviceDescription string
	// ImageDescription is DeviceDescription for CMC 0.9: an Image
	// Description file that receives one Manifest Description per
	// successful image.
	ImageDescription string
	// Measure measures an image for CMC 0.7, MeasureComponent for 0.9.
	Measure          MeasureFunc
	MeasureComponent MeasureComponentFunc
	Sign             SignFunc
}

// GenerateResult is the summary line of one image.
type GenerateResult struct {
	Image          string          `json:"image"`
	Name           string          `json:"name"`
	ImageDigest    string          `json:"imageDigest,omitempty"`
	Platform       string          `json:"platform,omitempty"`
	ReferenceValue *ReferenceValue `json:"referenceValue,omitempty"`
	Component      *Component      `json:"component,omitempty"`
	Output         string          `json:"output,omitempty"`
	Error          string          `json:"error,omitempty"`
}

// Generate measures every job's image, writes its signed manifest, and
// returns one result per job in order. A failing image does not stop the
// others; the error then wraps ErrGenerate. Configuration errors (bad
// template, duplicate or unsafe names) fail before anything is measured.
func Generate(ctx context.Context, jobs []Job, cfg GenerateConfig) ([]GenerateResult, error) {
	v, err := cfg.dialect()
	if err != nil {
		return nil, err
	}
	if cfg.Format == "" {
		cfg.Format = JSON
	}
	if _, err := ParseFormat(string(cfg.Format)); err != nil {
		return nil, err
	}
	tmpl, err := Parse(cfg.Template, "")
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if err := checkTemplate(tmpl, v); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	// Every manifest needs a validity window (Verify rejects one without):
	// without cfg.Validity it comes from the template, so check it before
	// anything is measured rather than fail each image after measuring.
	if cfg.Validity == nil {
		if _, _, err := tmpl.ValidityWindow(); err != nil {
			return nil, fmt.Errorf("template: %w (and no validity window given)", err)
		}
	}
	seen := map[string]int{}
	for i := range jobs {
		hint := ""
		if jobs[i].Name == "" {
			jobs[i].Name = NameFromImage(jobs[i].Image)
			hint = " (derived from the image); give a name"
		}
		n := jobs[i].Name
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") {
			return nil, fmt.Errorf("%w: image %s: name %q cannot be a file name%s", ErrField, jobs[i].Image, n, hint)
		}
		if j, dup := seen[n]; dup {
			return nil, fmt.Errorf("%w: images %s and %s both named %q", ErrField, jobs[j].Image, jobs[i].Image, n)
		}
		seen[n] = i
		// The scheme "cmc" is the CMC version's own measurement.
		if jobs[i].Scheme == bundle.SchemeCMC {
			jobs[i].Scheme = v.Scheme()
		}
	}
	descFile, descType := cfg.DeviceDescription, TypeDeviceDescription
	if v == CMC09 {
		descFile, descType = cfg.ImageDescription, TypeImageDescription
	}
	var dd *Document
	if descFile != "" {
		b, err := os.ReadFile(descFile)
		if err != nil {
			return nil, err
		}
		if dd, err = Parse(b, ""); err != nil {
			return nil, fmt.Errorf("%s: %w", descFile, err)
		}
		if dd.Type() != descType {
			return nil, fmt.Errorf("%s: %w: %q, want %q", descFile, ErrUnknownType, dd.Type(), descType)
		}
	}
	for _, j := range jobs {
		if err := j.Validate(); err != nil {
			return nil, fmt.Errorf("image %s: %w", j.Image, err)
		}
		switch {
		case j.OciRules != nil && v != CMC09:
			return nil, fmt.Errorf("%w: image %s: ociRules are CMC 0.9's (CMC %s has no Manifest Description)", ErrField, j.Image, v)
		case j.OciRules != nil && descFile == "":
			return nil, fmt.Errorf("%w: image %s: ociRules go in the Manifest Description: give an Image Description", ErrField, j.Image)
		}
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, err
	}
	results := make([]GenerateResult, len(jobs))
	failed := 0
	for i, j := range jobs {
		res := &results[i]
		res.Image, res.Name = j.Image, j.Name
		if err := generateOne(ctx, j, tmpl, v, cfg, res); err != nil {
			res.Error = err.Error()
			failed++
			continue
		}
		if dd != nil {
			if err := putDescription(dd, j); err != nil {
				return results, fmt.Errorf("%s: %w", descFile, err)
			}
		}
	}
	if dd != nil {
		b, err := dd.Bytes()
		if err == nil {
			err = atomicfile.WriteFile(descFile, b, 0o644)
		}
		if err != nil {
			return results, fmt.Errorf("%s: %w", descFile, err)
		}
	}
	if failed > 0 {
		return results, fmt.Errorf("%w: %d of %d", ErrGenerate, failed, len(jobs))
	}
	return results, nil
}

func generateOne(ctx context.Context, j Job, tmpl *Document, v CMCVersion, cfg GenerateConfig, res *GenerateResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A fresh copy of the template: edits must not leak between images.
	tb, _ := tmpl.Bytes()
	d, err := Parse(tb, tmpl.format)
	if err != nil {
		return err
	}
	d.set(d.root, "name", 1, j.Name)
	if err := measureInto(ctx, d, j, v, cfg, res); err != nil {
		return err
	}
	if cfg.Validity != nil {
		if err := d.SetValidity(*cfg.Validity); err != nil {
			return err
		}
	}
	if _, _, err := d.ValidityWindow(); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if d, err = d.Convert(cfg.Format); err != nil {
		return err
	}
	payload, err := d.Bytes()
	if err != nil {
		return err
	}
	env, err := cfg.Sign(payload, cfg.Format)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	out := filepath.Join(cfg.OutDir, j.Name+".manifest."+string(cfg.Format))
	if err := atomicfile.WriteFile(out, env, 0o644); err != nil {
		return err
	}
	res.Output = out
	return nil
}
