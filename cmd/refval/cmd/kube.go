package cmd

import (
	"github.com/spf13/pflag"

	"github.com/refval/refval/engine"
)

// kubeFlags select what --engine kubernetes predicts: a container of a
// Pod or workload file on nodes of a profile.
type kubeFlags struct {
	pod, container, nodeProfile string
}

func registerKubeFlags(fs *pflag.FlagSet) *kubeFlags {
	f := &kubeFlags{}
	fs.StringVar(&f.pod, "pod", "", "--engine kubernetes: a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob YAML file")
	fs.StringVar(&f.container, "container", "", "--engine kubernetes: the (init) container of the pod to predict")
	fs.StringVar(&f.nodeProfile, "node-profile", "", "--engine kubernetes: node profile JSON (default: containerd 2.4 and kubelet 1.34 at their default paths, standalone)")
	return f
}

// predictor returns the kubernetes prediction for --engine kubernetes, nil
// for any other engine (then --pod, --container and --node-profile are
// refused), or a usage error.
func (k *kubeFlags) predictor(rf *runFlags, args []string) (*engine.KubePredictor, error) {
	kubeOnly := []string{"pod", "container", "node-profile"}
	if rf.engine != string(engine.Kubernetes) {
		for _, n := range kubeOnly {
			if rf.fs.Changed(n) {
				return nil, UsageErrorf("--%s needs --engine kubernetes", n)
			}
		}
		return nil, nil
	}
	for _, n := range runOptionFlags {
		if rf.fs.Changed(n) {
			return nil, UsageErrorf("--%s: with --engine kubernetes the pod file states the container's options", n)
		}
	}
	if len(args) > 0 {
		return nil, UsageErrorf("container arguments: with --engine kubernetes the pod file states them")
	}
	if k.pod == "" || k.container == "" {
		return nil, UsageErrorf("--engine kubernetes needs --pod FILE and --container NAME")
	}
	p, err := engine.NewKubePredictor(k.pod, k.container, k.nodeProfile)
	if err != nil {
		return nil, UsageErrorf("%v", err)
	}
	return p, nil
}

// parseKubeRunArgs reads a generate batch entry's run options when they
// select --engine kubernetes (["--engine", "kubernetes", "--pod", FILE,
// "--container", NAME, "--node-profile", FILE]) and returns nil for any
// other engine, whose options parseRunArgs reads.
func parseKubeRunArgs(args []string) (*engine.KubePredictor, error) {
	fs := pflag.NewFlagSet("run options", pflag.ContinueOnError)
	fs.SetOutput(discard{})
	rf := registerRunFlags(fs)
	kf := registerKubeFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, UsageErrorf("run options %q: %v", args, err)
	}
	if rf.engine != string(engine.Kubernetes) {
		return nil, nil
	}
	return kf.predictor(rf, fs.Args())
}
