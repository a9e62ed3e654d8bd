package cmd

import (
	"bytes"
	"strings"

	"github.com/refval/refval/engine"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/spf13/cobra"
)

func newHostProfileCmd() *cobra.Command {
	var out, dockerConfig, nerdctlPath, nerdctlGlobal string
	var kube, docker, nerdctl bool
	var nerdctlEnv []string
	var nc engine.NodeCapture
	cmd := &cobra.Command{
		Use:   "host-profile",
		Short: "Capture this device's host profile for predicting --privileged and --net-host",
		Long: `Capture what "ctr run --privileged" and "--net-host" take from the device
that runs the container: the hostname, the effective capabilities of this
process (run it the way containerd's client runs, normally as root) and the
device nodes under /dev as containerd lists them; with --docker also
dockerd's configuration and the kernel release (--engine docker); with
--nerdctl also how nerdctl runs there (--engine nerdctl): its path, the
global options it is run with (--nerdctl-global-args) and its whole
environment (--nerdctl-env, default
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin and
HOME=/root: run nerdctl with exactly that, env -i ... nerdctl, because its
hooks carry its environment), containerd's address with symlinks resolved,
the cgroup hierarchy and AppArmor. Run it on the device (or a
twin of it) and give the file to "refval measure --host-profile FILE" in CI.
With --kubernetes it captures a Kubernetes node's profile instead, for
"refval measure --engine kubernetes --node-profile FILE": containerd's
version, root, state and restrict_oom_score_adj, the kubelet's root dir,
cgroup driver and root, cgroup v2, swap accounting, AppArmor, the masked
thermal_throttle paths, the memory and the hostname, from the running
daemons' command lines and config files (--kubelet-config and
--containerd-config name files elsewhere). The cluster's kubernetes Service
is not visible on a node: add kubernetesService by hand.
See docs/engines.md.`,
		Example: `  sudo refval host-profile --out device-host.json
  refval measure oci:layout:app --engine containerd --privileged --host-profile device-host.json
  sudo refval host-profile --kubernetes --out node.json
  sudo refval host-profile --docker --out docker-host.json
  sudo refval host-profile --nerdctl --nerdctl-global-args "--namespace prod" --out nerdctl-host.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var v any
			var err error
			isKube := kube || nc.KubeletConfig != "" || nc.ContainerdConfig != ""
			isDocker := docker || dockerConfig != ""
			isNerdctl := nerdctl || nerdctlPath != "" || nerdctlGlobal != "" || cmd.Flags().Changed("nerdctl-env")
			switch {
			case isKube && isDocker:
				return UsageErrorf("--kubernetes and --docker capture different profiles: choose one")
			case isKube && isNerdctl:
				return UsageErrorf("--kubernetes and --nerdctl capture different profiles: choose one")
			case isKube:
				// --kubernetes: the node profile of --engine kubernetes (engine/kubehost.go).
				v, err = engine.LocalNodeProfile(nc)
			default:
				var h *engine.Host
				if h, err = engine.LocalHost(); err == nil && isDocker {
					h.Docker, err = engine.LocalDockerDaemon(dockerConfig)
				}
				if err == nil && isNerdctl {
					env := nerdctlEnv
					if !cmd.Flags().Changed("nerdctl-env") {
						env = nil
					} else if env == nil {
						env = []string{}
					}
					h.Nerdctl, err = engine.LocalNerdctl(nerdctlPath, strings.Fields(nerdctlGlobal), env)
				}
				v = h
			}
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if err := writeJSON(&b, v); err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(b.Bytes())
				return err
			}
			return atomicfile.WriteFile(out, b.Bytes(), 0o644)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the profile to this file (default: stdout)")
	cmd.Flags().BoolVar(&kube, "kubernetes", false, "capture the Kubernetes node profile for --engine kubernetes --node-profile (kubelet and containerd configuration)")
	cmd.Flags().StringVar(&nc.KubeletConfig, "kubelet-config", "", "--kubernetes: the kubelet's config file (default: the running kubelet's --config, else /var/lib/kubelet/config.yaml)")
	cmd.Flags().StringVar(&nc.ContainerdConfig, "containerd-config", "", "--kubernetes: containerd's config file (default: the running containerd's --config, else /etc/containerd/config.toml)")
	cmd.Flags().BoolVar(&docker, "docker", false, "also capture what --engine docker needs: dockerd's data root, exec root, bridge and cgroup driver (daemon.json and a running dockerd's flags), the kernel release, AppArmor")
	cmd.Flags().StringVar(&dockerConfig, "docker-config", "", "dockerd's daemon.json when not at "+engine.DefaultDockerConfig+" (implies --docker)")
	cmd.Flags().BoolVar(&nerdctl, "nerdctl", false, "also capture what --engine nerdctl needs: nerdctl's path, global options and environment, the resolved containerd address, the cgroup hierarchy, AppArmor")
	cmd.Flags().StringVar(&nerdctlPath, "nerdctl-path", "", "--nerdctl: nerdctl's executable (default: nerdctl in $PATH; implies --nerdctl)")
	cmd.Flags().StringVar(&nerdctlGlobal, "nerdctl-global-args", "", `--nerdctl: the global options nerdctl is run with, separated by spaces (e.g. "--namespace prod --data-root /srv/nerdctl"; implies --nerdctl)`)
	cmd.Flags().StringArrayVar(&nerdctlEnv, "nerdctl-env", nil, "--nerdctl: one KEY=VALUE of nerdctl's complete environment, in order (repeatable; default PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root; implies --nerdctl)")
	return cmd
}
