// Package dockertest starts private Docker daemons, and nerdctl on a
// private containerd, for tests. Docker: Debian's
// dockerd 20.10.24 (/usr/sbin/dockerd, package docker.io) with its own
// --data-root, --exec-root, --pidfile, trust key and unix socket in a fresh
// temporary directory, no bridge, no iptables and no IP masquerading, and
// the containerd that dockerd starts and supervises itself (Debian's 1.6,
// its state under the exec-root). Tests load images with `docker load`
// from archives they build (internal/testimage), never from a registry,
// and run containers through the matching /usr/bin/docker client.
//
//	d := dockertest.New(t, dockertest.WithRuntime("cmc", shimPath))
//	d.Load(archive)
//	r := d.Docker("run", "--rm", "--runtime", "cmc", "img:1", "true")
//	d.Restart() // stop and start the same daemon on the same roots
//
// Cleanup stops exactly what the harness started: it removes the
// containers of its daemon, stops that dockerd (SIGTERM, then SIGKILL
// after 20 s) and the containerd it supervises (found by the pid file
// under the exec-root), kills any shim still serving that containerd's
// socket (found by its unique -address argument), unmounts what is left
// below its directory (the network namespace dockerd bind-mounts under
// <exec-root>/netns) and removes it.
//
// Guarantees: nothing outside the temporary directory is written except
// /run/docker/plugins, which dockerd 20.10 creates unconditionally, and
// the per-namespace runc state under /run/containerd/runc/moby that its
// containerd removes with the task. Left out: networks other than none and
// host (--bridge=none: the default network is disabled), registries,
// swarm, rootless dockerd.
//
// nerdctl (NewNerdctl): nerdctl v2.2.1 built by scripts/deps.sh, on a
// containerd started by ctrtest (its cleanup applies), with its own data
// root, namespace and CNI directories, always run with the fixed
// environment FixedEnv and working directory "/" (nerdctl copies its
// environment into the hooks of every container it creates).
//
// Requirements: root, /usr/sbin/dockerd and /usr/bin/docker (Debian's
// docker.io, installed by scripts/deps.sh), containerd and runc. When
// something is missing the test is skipped, or fails when CI=true.
// testing.Short() skips.
package dockertest
