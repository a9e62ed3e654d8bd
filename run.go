package refval

import (
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/engine"
)

// ErrRunOptions is wrapped by NewPredictor for run options that cannot
// be predicted: an unknown engine or version, options the engine does not
// take or that contradict each other, a missing host profile. They are
// errors in the input, never of the image.
var ErrRunOptions = errors.New("invalid run options")

// RunOptionsError is the error of NewPredictor: Field names the member of
// Run at fault ("engine", "baseSpec", "host"), or is empty when
// Err, from package engine, names the option itself. It wraps Err and
// ErrRunOptions.
type RunOptionsError struct {
	Field string
	Err   error
}

func (e *RunOptionsError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *RunOptionsError) Unwrap() []error { return []error{e.Err, ErrRunOptions} }

func runError(field string, err error) error { return &RunOptionsError{Field: field, Err: err} }

// NewPredictor returns the prediction of the runtime config that run
// describes, or nil for the runc engine (the config umoci writes stays).
// env is the job's environment: with an engine that takes run options it
// is applied first, as --env options before run's own, so that the
// environment an App Description records is the one measured. id is the
// container ID to predict for ("": engine.DefaultContainerID).
//
// Every check that needs no image is made here, so that a bad option
// fails before anything is pulled.
func NewPredictor(run *Run, env []string, id string) (*engine.Predictor, error) {
	if run == nil {
		return nil, nil
	}
	if run.CommandLine != nil {
		return nil, runError("", fmt.Errorf("run options %q in command-line form: resolve them first", run.CommandLine))
	}
	kind := run.Engine
	if kind == "" {
		kind = string(engine.Runc)
	}
	if kind == string(engine.Kubernetes) {
		return nil, runError("engine", errors.New("the kubernetes prediction is not an engine.Predictor (use Prediction)"))
	}
	if run.Pod != "" || run.Container != "" || run.NodeProfile != "" {
		return nil, runError("engine", errors.New("pod, container and nodeProfile need engine kubernetes"))
	}
	p, err := engine.ParseProfile(kind, run.EngineVersion)
	if err != nil {
		return nil, runError("engine", err)
	}
	if p.Kind == engine.Runc {
		if !run.RunOptions.IsZero() || run.BaseSpec != nil || run.Host != nil {
			return nil, runError("engine", errors.New("only the containerd, docker and nerdctl engines take run options"))
		}
		return nil, nil
	}
	pr := &engine.Predictor{Profile: p, ID: id, Run: run.RunOptions, Host: run.Host}
	if p.Kind == engine.Docker {
		d := engine.DockerRun{}
		if pr.Run.Docker != nil {
			d = *pr.Run.Docker
		}
		d.Env = append(append([]string(nil), env...), d.Env...)
		pr.Run.Docker = &d
		if err := engine.CheckDockerRun(&pr.Run, pr.Host); err != nil {
			return nil, runError("", err)
		}
		return pr, nil
	}
	if p.Kind == engine.Nerdctl {
		n := engine.NerdctlRun{}
		if pr.Run.Nerdctl != nil {
			n = *pr.Run.Nerdctl
		}
		n.Env = append(append([]string(nil), env...), n.Env...)
		pr.Run.Nerdctl = &n
		if run.BaseSpec != nil {
			return nil, runError("baseSpec", errors.New("the nerdctl engine builds its spec with its own containerd client library and takes no base spec"))
		}
		if err := engine.CheckNerdctlRun(&pr.Run, pr.Host); err != nil {
			return nil, runError("", err)
		}
		return pr, nil
	}
	if len(env) > 0 {
		pr.Run.Env = append(append([]string(nil), env...), run.Env...)
	}
	if run.BaseSpec != nil {
		pr.BaseSpec = []byte(run.BaseSpec)
		if err := engine.CheckBaseSpec(pr.BaseSpec); err != nil {
			return nil, runError("baseSpec", err)
		}
	}
	// The options against the profile, with an empty image: what depends
	// on the image is checked when it is measured.
	if p.Kind == engine.Containerd {
		if _, err := pr.Run.CtrOpts(p, ocispec.Image{}, pr.BaseSpec); err != nil {
			if errors.Is(err, engine.ErrInvalidOption) || errors.Is(err, engine.ErrUnsupported) {
				return nil, runError("", err)
			}
			return nil, err
		}
	}
	if (pr.Run.Privileged || pr.Run.NetHost) && pr.Host == nil {
		return nil, runError("host", errors.New("privileged and net-host depend on the device: give a host profile"))
	}
	return pr, nil
}

// Prediction returns the config prediction that run describes and the
// scheme its values are measured with unless the job names one: nil and
// bundle.SchemeV1 for the runc engine (the config umoci writes stays),
// NewPredictor's for containerd (refval-v1), docker and nerdctl (refval-v2), and for kubernetes an
// engine.KubePredictor of run.Pod's container run.Container, measured with
// bundle.SchemeV2 (the scheme whose rules remove what the kubelet and
// containerd CRI vary per start). The kubernetes engine takes its options
// from the pod file only: run options, a base spec, a host profile or a
// job environment are errors, as is a missing pod or container.
func Prediction(run *Run, env []string, id string) (engine.ConfigPredictor, bundle.Scheme, error) {
	if run == nil || run.Engine != string(engine.Kubernetes) {
		p, err := NewPredictor(run, env, id)
		if p == nil || err != nil {
			return nil, bundle.SchemeV1, err
		}
		if p.Profile.Kind == engine.Docker || p.Profile.Kind == engine.Nerdctl {
			// A Docker or nerdctl container measures alike across starts
			// only under refval-v2 (HOSTNAME, the libnetwork-setkey hook,
			// the container ID in nerdctl's mount sources).
			return p, bundle.SchemeV2, nil
		}
		return p, bundle.SchemeV1, nil
	}
	switch {
	case !run.RunOptions.IsZero() || run.BaseSpec != nil || run.Host != nil || run.EngineVersion != "":
		return nil, "", runError("engine", errors.New("with engine kubernetes the pod file states the container's options"))
	case len(env) > 0:
		return nil, "", runError("env", errors.New("with engine kubernetes the pod file states the environment"))
	case run.Pod == "" || run.Container == "":
		return nil, "", runError("pod", errors.New("engine kubernetes needs a pod file and a container name"))
	}
	p, err := engine.NewKubePredictor(run.Pod, run.Container, run.NodeProfile)
	if err != nil {
		return nil, "", runError("pod", err)
	}
	return p, bundle.SchemeV2, nil
}
