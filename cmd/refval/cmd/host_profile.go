package cmd

import (
	"bytes"

	"github.com/refval/refval/engine"
	"github.com/refval/refval/internal/atomicfile"
	"github.com/spf13/cobra"
)

func newHostProfileCmd() *cobra.Command {
	var out, dockerConfig string
	var docker bool
	cmd := &cobra.Command{
		Use:   "host-profile",
		Short: "Capture this device's host profile for predicting --privileged and --net-host",
		Long: `Capture what "ctr run --privileged" and "--net-host" take from the device
that runs the container: the hostname, the effective capabilities of this
process (run it the way containerd's client runs, normally as root) and the
device nodes under /dev as containerd lists them; with --docker also
dockerd's configuration and the kernel release (--engine docker). Run it on the device (or a
twin of it) and give the file to "refval measure --host-profile FILE" in CI.
See docs/engines.md.`,
		Example: `  sudo refval host-profile --out device-host.json
  refval measure oci:layout:app --engine containerd --privileged --host-profile device-host.json
  sudo refval host-profile --docker --out docker-host.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := engine.LocalHost()
			if err != nil {
				return err
			}
			if docker || dockerConfig != "" {
				if h.Docker, err = engine.LocalDockerDaemon(dockerConfig); err != nil {
					return err
				}
			}
			var b bytes.Buffer
			if err := writeJSON(&b, h); err != nil {
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
	cmd.Flags().BoolVar(&docker, "docker", false, "also capture what --engine docker needs: dockerd's data root, exec root, bridge and cgroup driver (daemon.json and a running dockerd's flags), the kernel release, AppArmor")
	cmd.Flags().StringVar(&dockerConfig, "docker-config", "", "dockerd's daemon.json when not at "+engine.DefaultDockerConfig+" (implies --docker)")
	return cmd
}
