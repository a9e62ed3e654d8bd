package cmd

// The flag groups that several commands share, each a struct with a
// register method that adds its flags to a command and a method that turns
// the parsed values into library options: image source (pull, unpack,
// measure, generate, manifest create), measurement (measure, measure-bundle),
// run options (measure, unpack, generate and its batch file), validity
// (manifest, generate) and signers (sign, generate). A flag that several
// commands gain is one line in its group's register.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/refval/refval"
	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver"
	"github.com/refval/refval/engine"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/oci"
	"github.com/refval/refval/signing"
)

// imageFlags are the image-source flags shared by pull, unpack and measure
// (skopeo's names and meanings).
type imageFlags struct {
	layout, platform, authFile, creds, certDir, policy string
	allPlatforms, tlsVerify, insecurePolicy, quiet     bool
	pull                                               string
}

func (f *imageFlags) register(cmd *cobra.Command, withAll, withPull bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.layout, "layout", "", "OCI layout directory used as image store (default: refval/oci under the user cache directory)")
	fl.StringVar(&f.platform, "platform", "", "platform to select from a multi-platform image: os/arch[/variant] (default: the host's)")
	if withAll {
		fl.BoolVar(&f.allPlatforms, "all-platforms", false, "every platform of a multi-platform image")
	}
	fl.StringVar(&f.authFile, "authfile", "", "registry auth file (default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)")
	fl.StringVar(&f.creds, "creds", "", "registry credentials USER[:PASSWORD]")
	fl.BoolVar(&f.tlsVerify, "tls-verify", true, "require HTTPS and verify certificates for the registry (default: as registries.conf says)")
	fl.StringVar(&f.certDir, "cert-dir", "", "directory with certificates (*.crt, *.cert, *.key) for the registry")
	fl.StringVar(&f.policy, "policy", "", "signature policy file (default: the system policy.json)")
	fl.BoolVar(&f.insecurePolicy, "insecure-policy", false, "accept any image, ignoring the signature policy")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	if withPull {
		fl.StringVar(&f.pull, "pull", string(oci.PullAlways), "when to contact the image source: always (reuses stored blobs) or never (the store only, offline)")
	}
}

// options turns the flags into oci options; progress bars go to stderr
// only when it is a terminal.
func (f *imageFlags) options(cmd *cobra.Command) ([]oci.Option, error) {
	var opts []oci.Option
	if f.layout != "" {
		opts = append(opts, oci.WithLayout(f.layout))
	}
	if f.platform != "" {
		if f.allPlatforms {
			return nil, UsageErrorf("--platform and --all-platforms exclude each other")
		}
		if _, err := oci.ParsePlatform(f.platform); err != nil {
			return nil, UsageErrorf("--platform: %v", err)
		}
		opts = append(opts, oci.WithPlatform(f.platform))
	}
	if f.allPlatforms {
		opts = append(opts, oci.WithAllPlatforms())
	}
	if f.authFile != "" {
		opts = append(opts, oci.WithAuthFile(f.authFile))
	}
	if f.creds != "" {
		opts = append(opts, oci.WithCredentials(f.creds))
	}
	if cmd.Flags().Changed("tls-verify") {
		opts = append(opts, oci.WithTLSVerify(f.tlsVerify))
	}
	if f.certDir != "" {
		opts = append(opts, oci.WithCertDir(f.certDir))
	}
	switch {
	case f.policy != "" && f.insecurePolicy:
		return nil, UsageErrorf("--policy and --insecure-policy exclude each other")
	case f.policy != "":
		opts = append(opts, oci.WithPolicy(f.policy))
	case f.insecurePolicy:
		opts = append(opts, oci.WithInsecurePolicy())
	}
	if f.pull != "" {
		if f.pull != string(oci.PullAlways) && f.pull != string(oci.PullNever) {
			return nil, UsageErrorf("--pull: %q is not always or never", f.pull)
		}
		opts = append(opts, oci.WithPullPolicy(oci.PullPolicy(f.pull)))
	}
	if w := cmd.ErrOrStderr(); !f.quiet && isTerminal(w) {
		opts = append(opts, oci.WithProgress(w))
	}
	return opts, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func checkImageArg(ref string) error {
	if _, err := oci.ParseReference(ref); err != nil {
		return UsageErrorf("%v", err)
	}
	return nil
}

// measureFlags are the measurement and output flags shared by
// measure-bundle and measure. A flag both take is one line in register.
type measureFlags struct {
	fs         *pflag.FlagSet
	scheme     bundle.Scheme
	id         string
	name       string
	driver     string
	pcr        int
	optional   bool
	output     string
	records    string
	normalized string
	cmc        manifest.CMCVersion // --cmc-version; resolved by validate
}

func (f *measureFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.fs = fl
	f.scheme = bundle.SchemeV1
	fl.Var(&f.scheme, "scheme", "measurement scheme: refval-v1, refval-v2 (default for --engine docker, nerdctl and kubernetes), cmc (the CMC version's: cmc-0.9, or CMC v0.7's with --cmc-version 0.7) or cmc-0.9")
	fl.StringVar(&f.id, "id", "", "container ID to replace by <container-id> in the config")
	fl.StringVar(&f.name, "name", "", "name of the reference value (default: derived from the input)")
	fl.StringVar(&f.driver, "driver", manifest.DriverSW, "how the runtime records the measurement: tpm (PCR) or sw (list)")
	fl.IntVar(&f.pcr, "pcr", manifest.DefaultPCR, "PCR of the TPM reference value (with --driver tpm)")
	fl.BoolVar(&f.optional, "optional", false, "mark the reference value optional")
	fl.StringVarP(&f.output, "output", "o", "json", "output format: json or text")
	fl.StringVar(&f.records, "records", "", "write the rootfs records (JSON lines) to this file")
	fl.StringVar(&f.normalized, "normalized-config", "", "write the normalized config (the bytes hashed) to this file")
	addCMCVersionFlag(fl, &f.cmc)
}

// validate checks the flag values and returns the bundle options they imply.
func (f *measureFlags) validate() ([]bundle.Option, error) {
	f.cmc = f.cmc.Resolved()
	f.scheme = schemeFor(f.scheme, f.cmc)
	if f.driver != manifest.DriverSW && f.driver != manifest.DriverTPM {
		return nil, UsageErrorf("--driver: %q is not tpm or sw", f.driver)
	}
	if err := driver.PCR(f.pcr).Validate(); err != nil {
		return nil, UsageErrorf("--pcr: %v", err)
	}
	if f.fs.Changed("pcr") && f.driver != manifest.DriverTPM {
		return nil, UsageErrorf("--pcr: only a TPM reference value has a PCR (add --driver tpm)")
	}
	if f.output != "json" && f.output != "text" {
		return nil, UsageErrorf("--output: %q is not json or text", f.output)
	}
	if f.records != "" && f.scheme.IsCMC() {
		return nil, UsageErrorf("--records: the cmc scheme has no per-entry records")
	}
	return []bundle.Option{bundle.WithScheme(f.scheme), bundle.WithContainerID(f.id)}, nil
}

// withRecords runs measure with a record function writing f.records
// atomically (nothing is left behind when measure fails).
func (f *measureFlags) withRecords(measure func(opts ...bundle.Option) error) error {
	if f.records == "" {
		return measure()
	}
	return bundle.WriteRecordsFile(f.records, func(record func(*bundle.Record) error) error {
		return measure(bundle.WithRecordFunc(record))
	})
}

// validityFlags are the flags that set a validity window.
type validityFlags struct {
	notBefore, notAfter, validFor string
}

func (v *validityFlags) register(cmd *cobra.Command, defaultValidFor string) {
	fl := cmd.Flags()
	fl.StringVar(&v.notBefore, "not-before", "", `validity start: RFC 3339, YYYY-MM-DD, @UNIXSECONDS or "now" (default: $SOURCE_DATE_EPOCH)`)
	fl.StringVar(&v.notAfter, "not-after", "", "validity end (same forms as --not-before)")
	fl.StringVar(&v.validFor, "valid-for", defaultValidFor, "validity length when --not-after is not given, e.g. 365d or 8760h")
}

// changed reports whether any validity flag was given.
func (v *validityFlags) changed(cmd *cobra.Command) bool {
	fl := cmd.Flags()
	return fl.Changed("not-before") || fl.Changed("not-after") || fl.Changed("valid-for")
}

// validity resolves the flags into a window. The start is never taken from
// the clock unless the user says "now".
func (v *validityFlags) validity() (manifest.Validity, error) {
	var nb, na time.Time
	var err error
	switch v.notBefore {
	case "now":
		nb = time.Now()
	case "":
		if nb, err = manifest.SourceDateEpoch(); err != nil {
			return manifest.Validity{}, UsageErrorf("%v", err)
		}
		if nb.IsZero() {
			return manifest.Validity{}, UsageErrorf(`no validity start: give --not-before (or "now") or set SOURCE_DATE_EPOCH`)
		}
	default:
		if nb, err = manifest.ParseTime(v.notBefore); err != nil {
			return manifest.Validity{}, UsageErrorf("--not-before: %v", err)
		}
	}
	var d time.Duration
	if v.notAfter != "" {
		if na, err = manifest.ParseTime(v.notAfter); err != nil {
			return manifest.Validity{}, UsageErrorf("--not-after: %v", err)
		}
	} else if d, err = manifest.ParseDuration(v.validFor); err != nil {
		return manifest.Validity{}, UsageErrorf("--valid-for: %v", err)
	}
	val, err := manifest.NewValidity(nb, na, d)
	if err != nil {
		return manifest.Validity{}, UsageErrorf("%v", err)
	}
	return val, nil
}

// signerFlags name the signing identities: repeated --key/--cert pairs, or
// the old tool's --keys/--x5cs lists.
type signerFlags struct {
	keys, certs []string
	legacyKeys  string
	legacyX5cs  string
}

func (s *signerFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&s.keys, "key", nil, "PEM private key of a signer (repeat with --cert per signer)")
	fl.StringArrayVar(&s.certs, "cert", nil, "certificate chain of the signer, leaf first: a PEM bundle or comma-separated PEM files")
	fl.StringVar(&s.legacyKeys, "keys", "", "cmc-signing-tool form: comma-separated keys")
	fl.StringVar(&s.legacyX5cs, "x5cs", "", "cmc-signing-tool form: one chain per key, files comma-separated, chains colon-separated")
	_ = fl.MarkHidden("keys")
	_ = fl.MarkHidden("x5cs")
}

// pairs returns (key file, chain files) per signer.
func (s *signerFlags) pairs() ([][]string, error) {
	var out [][]string
	if s.legacyKeys != "" || s.legacyX5cs != "" {
		if len(s.keys) > 0 || len(s.certs) > 0 {
			return nil, UsageErrorf("--keys/--x5cs and --key/--cert exclude each other")
		}
		keys := strings.Split(s.legacyKeys, ",")
		chains := strings.Split(s.legacyX5cs, ":")
		if s.legacyKeys == "" || s.legacyX5cs == "" || len(keys) != len(chains) {
			return nil, UsageErrorf("-keys names %d key(s) but -x5cs %d chain(s)", len(keys), len(chains))
		}
		for i, k := range keys {
			out = append(out, append([]string{strings.TrimSpace(k)}, splitFiles(chains[i])...))
		}
		return out, nil
	}
	if len(s.keys) == 0 || len(s.keys) != len(s.certs) {
		return nil, UsageErrorf("give one --cert per --key (got %d key(s), %d chain(s))", len(s.keys), len(s.certs))
	}
	for i, k := range s.keys {
		out = append(out, append([]string{k}, splitFiles(s.certs[i])...))
	}
	return out, nil
}

// splitFiles splits a comma-separated file list, ignoring blanks around names.
func splitFiles(list string) []string {
	var out []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (s *signerFlags) load() ([]signing.Signer, error) {
	pairs, err := s.pairs()
	if err != nil {
		return nil, err
	}
	signers := make([]signing.Signer, len(pairs))
	for i, p := range pairs {
		if signers[i], err = signing.LoadSigner(p[0], p[1:]...); err != nil {
			return nil, fmt.Errorf("signer %d: %w", i+1, err)
		}
	}
	return signers, nil
}

// runFlags are the flags that choose how the runtime config of an image
// is predicted: the engine (--engine, --engine-version, --base-spec,
// --host-profile) and the `ctr run` options that change the config, under
// ctr's own names. measure and unpack register them; generate's batch
// file spells them the same way in its legacy command-line "run"
// (parseRunCommandLine). run turns them into a refval.Run, and
// refval.NewPredictor, the one place a prediction is set up, into an
// engine.Predictor.
type runFlags struct {
	fs *pflag.FlagSet

	engine, engineVersion, baseSpec, hostProfile string

	// --engine kubernetes: the container of a Pod or workload file.
	pod, container, nodeProfile string

	namespace, envFile, cwd, user, hostname, seccompProfile string
	env, mounts, capAdd, capDrop                            []string
	readOnly, privileged, tty, netHost, allowNewPrivs       bool
	seccomp                                                 bool
	cpuShares                                               uint64
}

// registerRunFlags adds the engine and run-option flags to fs. Call
// predictor once the flags are parsed.
//
// Wiring into a command is a few lines:
//
//	rf := registerRunFlags(cmd.Flags())
//	...
//	p, err := rf.predictor(id, args[1:]) // nil: keep umoci's (runc) config
//	if p != nil {
//		opts = append(opts, oci.WithRuntimeConfig(p.Config), oci.WithContainerID(p.ContainerID()))
//	}
func registerRunFlags(fs *pflag.FlagSet) *runFlags {
	f := &runFlags{fs: fs}
	fs.StringVar(&f.engine, "engine", string(engine.Runc), "runtime whose config.json to predict: runc (the bundle as unpacked), containerd (what ctr run writes), docker (what docker run writes: docker run's options follow the image), nerdctl (what nerdctl run writes: nerdctl run's options follow the image; needs --host-profile with a nerdctl section) or kubernetes (what kubelet + containerd CRI write; --pod, --container)")
	fs.StringVar(&f.engineVersion, "engine-version", "", "engine version to reproduce: containerd 1.6, 1.7, 2.0, 2.4 or 2.x (default "+engine.DefaultVersion+"); docker 20.10; nerdctl 2.2")
	fs.StringVar(&f.baseSpec, "base-spec", "", "start from this capture of \"ctr oci spec\" on the device instead of the version's default spec")
	fs.StringVar(&f.hostProfile, "host-profile", "", `device profile for --privileged and --net-host: a JSON file, or "local" for this machine`)
	fs.StringVar(&f.namespace, "namespace", engine.DefaultNamespace, "containerd namespace the container runs in (ctr --namespace)")
	fs.StringArrayVar(&f.env, "env", nil, "ctr run --env KEY=VALUE (repeatable; a bare KEY, as in ctr, removes only a variable set before it, never one of the image's)")
	fs.StringVar(&f.envFile, "env-file", "", "ctr run --env-file: file of KEY=VALUE lines")
	fs.StringVar(&f.cwd, "cwd", "", "ctr run --cwd: working directory")
	fs.StringArrayVar(&f.mounts, "mount", nil, "ctr run --mount: type=T,src=S,dst=D,options=O1:O2 (repeatable)")
	fs.BoolVar(&f.readOnly, "read-only", false, "ctr run --read-only")
	fs.BoolVar(&f.privileged, "privileged", false, "ctr run --privileged (needs --host-profile)")
	fs.BoolVar(&f.tty, "tty", false, "ctr run --tty")
	fs.BoolVar(&f.netHost, "net-host", false, "ctr run --net-host (needs --host-profile)")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "ctr run --cap-add CAP_NAME (repeatable)")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "ctr run --cap-drop CAP_NAME (repeatable)")
	fs.BoolVar(&f.allowNewPrivs, "allow-new-privs", false, "ctr run --allow-new-privs")
	fs.BoolVar(&f.seccomp, "seccomp", false, "ctr run --seccomp: --seccomp-profile, else containerd's default profile (1.6 and 2.4)")
	fs.StringVar(&f.seccompProfile, "seccomp-profile", "", "ctr run --seccomp-profile FILE")
	fs.StringVar(&f.user, "user", "", "ctr run --user USER[:GROUP] (containerd 1.7 and later)")
	fs.StringVar(&f.hostname, "hostname", "", "ctr run --hostname (containerd 1.7 and later)")
	fs.Uint64Var(&f.cpuShares, "cpu-shares", 0, "ctr run --cpu-shares (default as ctr: 1024)")
	fs.StringVar(&f.pod, "pod", "", "--engine kubernetes: a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob YAML file")
	fs.StringVar(&f.container, "container", "", "--engine kubernetes: the (init) container of the pod to predict, or "+engine.KubeSandbox+" for the pod's sandbox (IMAGE is then the sandbox image)")
	fs.StringVar(&f.nodeProfile, "node-profile", "", "--engine kubernetes: node profile JSON (default: containerd 2.4 and kubelet 1.34 at their default paths, standalone)")
	return f
}

// kubeFlags are the flags that only the kubernetes engine takes.
var kubeFlags = []string{"pod", "container", "node-profile"}

// runOptionFlags are the flags that only the containerd profile takes.
var runOptionFlags = []string{"engine-version", "base-spec", "host-profile", "namespace", "env", "env-file", "cwd", "mount",
	"read-only", "privileged", "tty", "net-host", "cap-add", "cap-drop", "allow-new-privs", "seccomp", "seccomp-profile",
	"user", "hostname", "cpu-shares"}

// predictor returns the configured prediction, or nil for --engine runc
// (the config umoci writes stays: callers keep their unpacked config).
// id is the container ID to predict for ("" for engine.DefaultContainerID);
// args are the container's arguments (ctr run IMAGE ID ARGS…). Errors are
// usage errors.
//
// scheme is the scheme the prediction's values are measured with unless
// --scheme names one (refval.Prediction: refval-v2 for kubernetes).
func (f *runFlags) predictor(id string, args []string) (p engine.ConfigPredictor, scheme bundle.Scheme, err error) {
	run, err := f.run(args)
	if err != nil || run == nil {
		return nil, bundle.SchemeV1, err
	}
	p, scheme, err = refval.Prediction(run, nil, id)
	return p, scheme, f.usageError(err)
}

// usageError turns an error of refval.NewPredictor into a usage error
// that names the flags at fault.
func (f *runFlags) usageError(err error) error {
	var re *refval.RunOptionsError
	if !errors.As(err, &re) {
		return err
	}
	switch re.Field {
	case "engine":
		return UsageErrorf("--engine/--engine-version: %v", re.Err)
	case "baseSpec":
		return UsageErrorf("--base-spec %s: %v", f.baseSpec, re.Err)
	case "host":
		return UsageErrorf("--privileged and --net-host depend on the device: give --host-profile FILE (or local)")
	case "pod":
		return UsageErrorf("--pod/--container: %v", re.Err)
	}
	return UsageErrorf("%v", re.Err)
}

// run returns the run options of the flags as the library takes them (nil
// for --engine runc), with the files the flags name read.
func (f *runFlags) run(args []string) (*refval.Run, error) {
	if f.engine != string(engine.Kubernetes) {
		for _, n := range kubeFlags {
			if f.fs.Changed(n) {
				return nil, UsageErrorf("--%s needs --engine kubernetes", n)
			}
		}
	} else {
		for _, n := range runOptionFlags {
			if f.fs.Changed(n) {
				return nil, UsageErrorf("--%s: with --engine kubernetes the pod file states the container's options", n)
			}
		}
		if len(args) > 0 {
			return nil, UsageErrorf("container arguments: with --engine kubernetes the pod file states them")
		}
		if f.pod == "" || f.container == "" {
			return nil, UsageErrorf("--engine kubernetes needs --pod FILE and --container NAME")
		}
		return &refval.Run{Engine: f.engine, Pod: f.pod, Container: f.container, NodeProfile: f.nodeProfile}, nil
	}
	if f.engine == string(engine.Runc) {
		for _, n := range runOptionFlags {
			if f.fs.Changed(n) {
				return nil, UsageErrorf("--%s: only the containerd engine takes run options (add --engine containerd)", n)
			}
		}
		if len(args) > 0 {
			return nil, UsageErrorf("container arguments need --engine containerd")
		}
		return nil, nil
	}
	if f.engine == string(engine.Docker) {
		return f.dockerRun(args)
	}
	if f.engine == string(engine.Nerdctl) {
		return f.nerdctlRun(args)
	}
	run := &refval.Run{Engine: f.engine, EngineVersion: f.engineVersion}
	ro := &run.RunOptions
	ro.Args, ro.Env, ro.Cwd, ro.User, ro.Hostname = args, f.env, f.cwd, f.user, f.hostname
	ro.ReadOnly, ro.Privileged, ro.TTY, ro.NetHost = f.readOnly, f.privileged, f.tty, f.netHost
	ro.CapAdd, ro.CapDrop, ro.AllowNewPrivs, ro.Seccomp = f.capAdd, f.capDrop, f.allowNewPrivs, f.seccomp
	ro.CPUShares, ro.Namespace = f.cpuShares, f.namespace
	if f.fs.Changed("cpu-shares") && f.cpuShares == 0 {
		return nil, UsageErrorf("--cpu-shares 0: ctr then sets no CPU shares at all, which refval does not model; omit the flag for ctr's default 1024")
	}
	for _, m := range f.mounts {
		mt, err := engine.ParseMount(m)
		if err != nil {
			return nil, UsageErrorf("%v", err)
		}
		ro.Mounts = append(ro.Mounts, mt)
	}
	read := func(flag, path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, UsageErrorf("--%s: %v", flag, err)
		}
		return b, nil
	}
	var err error
	if ro.EnvFile, err = read("env-file", f.envFile); err != nil {
		return nil, err
	}
	if ro.SeccompProfile, err = read("seccomp-profile", f.seccompProfile); err != nil {
		return nil, err
	}
	if run.BaseSpec, err = read("base-spec", f.baseSpec); err != nil {
		return nil, err
	}
	if run.Host, err = f.host(); err != nil {
		return nil, err
	}
	return run, nil
}

// host reads --host-profile (nil when not given).
func (f *runFlags) host() (*engine.Host, error) {
	switch f.hostProfile {
	case "":
		return nil, nil
	case "local":
		return engine.LocalHost()
	}
	b, err := os.ReadFile(f.hostProfile)
	if err != nil {
		return nil, UsageErrorf("--host-profile: %v", err)
	}
	var h engine.Host
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, UsageErrorf("--host-profile %s: %v", f.hostProfile, err)
	}
	return &h, nil
}

// dockerRun reads the run options of --engine docker: the arguments after
// the image are a `docker run` command line without the image, under
// docker's own names ([OPTIONS] [COMMAND [ARG...]]); of refval's run
// flags only --engine-version and --host-profile apply.
func (f *runFlags) dockerRun(args []string) (*refval.Run, error) {
	for _, n := range runOptionFlags {
		if n != "engine-version" && n != "host-profile" && f.fs.Changed(n) {
			return nil, UsageErrorf("--%s: with --engine docker, give docker run's own options after the image (refval measure --engine docker IMAGE -- -e A=1 --read-only CMD)", n)
		}
	}
	d, err := engine.ParseDockerRunArgs(args, os.ReadFile)
	if err != nil {
		return nil, UsageErrorf("%v", err)
	}
	run := &refval.Run{Engine: f.engine, EngineVersion: f.engineVersion}
	run.RunOptions.Docker = d
	if run.Host, err = f.host(); err != nil {
		return nil, err
	}
	return run, nil
}

// nerdctlRun reads the run options of --engine nerdctl as dockerRun does:
// a `nerdctl run` command line without the image after it; of refval's
// run flags only --engine-version and --host-profile (which needs a
// nerdctl section, `refval host-profile --nerdctl`) apply.
func (f *runFlags) nerdctlRun(args []string) (*refval.Run, error) {
	for _, n := range runOptionFlags {
		if n != "engine-version" && n != "host-profile" && f.fs.Changed(n) {
			return nil, UsageErrorf("--%s: with --engine nerdctl, give nerdctl run's own options after the image (refval measure --engine nerdctl --host-profile FILE IMAGE -- --network none -e A=1 CMD)", n)
		}
	}
	r, err := engine.ParseNerdctlRunArgs(args, os.ReadFile)
	if err != nil {
		return nil, UsageErrorf("%v", err)
	}
	run := &refval.Run{Engine: f.engine, EngineVersion: f.engineVersion}
	run.RunOptions.Nerdctl = r
	if run.Host, err = f.host(); err != nil {
		return nil, err
	}
	return run, nil
}

// parseRunArgs parses run options written as a `ctr run` command line
// (flags, then "--" and the container's arguments), the legacy form of a
// batch file's "run": ["--engine", "containerd", "--env", "A=1", "--",
// "/app", "serve"].
// Only the runc (nil) and containerd engines are read here.
func parseRunArgs(args []string) (*engine.Predictor, error) {
	f, err := parseRunCommandLine(args)
	if err != nil {
		return nil, err
	}
	p, _, err := f.predictor("", f.fs.Args())
	if p == nil || err != nil {
		return nil, err
	}
	cp, ok := p.(*engine.Predictor)
	if !ok {
		return nil, UsageErrorf("run options %q: not a containerd prediction", args)
	}
	return cp, nil
}

// parseRunCommandLine parses a legacy command-line "run" with the flags
// measure registers, so that both spell every option alike.
func parseRunCommandLine(args []string) (*runFlags, error) {
	fs := pflag.NewFlagSet("run options", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := registerRunFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, UsageErrorf("run options %q: %v", args, err)
	}
	return f, nil
}

// resolveRunCommandLines replaces the legacy command-line "run" of every
// job by the options it spells (nil for runc), before anything is measured.
func resolveRunCommandLines(file string, jobs []refval.Job) error {
	for i := range jobs {
		r := jobs[i].Run
		if r == nil || r.CommandLine == nil {
			continue
		}
		f, err := parseRunCommandLine(r.CommandLine)
		if err == nil {
			jobs[i].Run, err = f.run(f.fs.Args())
		}
		if err == nil && jobs[i].Run != nil {
			// Checked here too, so that the message names the flags.
			_, _, err = refval.Prediction(jobs[i].Run, jobs[i].Env, "")
			err = f.usageError(err)
		}
		if err != nil {
			return UsageErrorf("%s: images[%d].run: %v", file, i, err)
		}
	}
	return nil
}
