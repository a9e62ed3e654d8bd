package refval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/manifest"
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
	// Driver is manifest.DriverTPM or DriverSW ("" is DriverSW).
	Driver string `json:"driver,omitempty"`
	// PCR of a TPM reference value (nil: manifest.DefaultPCR).
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
	// 0.9, GenerateOptions.ImageDescription only): how CMC's verifier
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
	// Engine is the engine kind ("runc", the default, "containerd",
	// "kubernetes", "docker" or "nerdctl").
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
		return fmt.Errorf("%w: scheme: %v", manifest.ErrField, err)
	}
	switch o.Driver {
	case "", manifest.DriverSW, manifest.DriverTPM:
	default:
		return fmt.Errorf("%w: driver %q: want %s or %s", manifest.ErrField, o.Driver, manifest.DriverTPM, manifest.DriverSW)
	}
	if o.PCR != nil && (*o.PCR < 0 || *o.PCR > 23) {
		return fmt.Errorf("%w: pcr %d: not in 0..23", manifest.ErrField, *o.PCR)
	}
	// A PCR with the sw driver would be dropped silently: say so instead.
	if o.PCR != nil && o.Driver != manifest.DriverTPM {
		return fmt.Errorf("%w: pcr %d: only a TPM reference value has a PCR (driver %q)", manifest.ErrField, *o.PCR, manifest.DriverTPM)
	}
	_, err := manifest.ParseEnv(o.Env)
	return err
}

// Job is one image of a generate run.
type Job struct {
	Image string `json:"image"`
	RunOptions
}

// Batch is the file format of `refval generate --batch`: a list of images
// with their names and run options (or, equally, a bare JSON array of jobs),
// and the CMC dialect of the manifests (the key the shim's configuration
// uses too; absent: manifest.DefaultCMCVersion).
type Batch struct {
	Images     []Job               `json:"images"`
	CMCVersion manifest.CMCVersion `json:"cmc_version,omitempty"`
}

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
	if err := manifest.ValidateJSON(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var bt Batch
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := dec.Decode(&bt.Images); err != nil {
			return nil, manifest.FieldError(err)
		}
	} else if err := dec.Decode(&bt); err != nil {
		if errors.Is(err, manifest.ErrCMCVersion) {
			return nil, fmt.Errorf("%w: cmc_version: %v", manifest.ErrField, err)
		}
		return nil, manifest.FieldError(err)
	}
	if len(bt.Images) == 0 {
		return nil, fmt.Errorf("%w: no images", manifest.ErrField)
	}
	for i, j := range bt.Images {
		if j.Image == "" {
			return nil, fmt.Errorf("%w: images[%d].image: missing", manifest.ErrField, i)
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
