package bundle

import (
	"strconv"
	"strings"
)

// The refval-v2 rules for containers started by Docker (dockerd 20.10) and
// nerdctl.
//
// Neither engine writes annotations a rule could read its per-start values
// from, so these rules take them from the container ID the shim is given
// (the ID the engine chose, 64 lowercase hex digits for both) and from the
// exact, fixed form in which the engine writes them. A value of any other
// form is left alone and stays measured.

// DockerdPIDPlaceholder replaces the PID in the libnetwork-setkey hook's
// path, which becomes "/proc/<dockerd-pid>/exe". The hook's controller ID
// becomes NetworkControllerPlaceholder, the placeholder scheme cmc uses for
// the same value.
const DockerdPIDPlaceholder = "<dockerd-pid>"

// isEngineID: the container IDs Docker and nerdctl generate (moby's
// stringid.GenerateRandomID, nerdctl's idgen): 64 lowercase hex digits.
func isEngineID(id string) bool { return isHex(id, 64) }

// engineHostnameEnv replaces the value of the process.env entry
// "HOSTNAME=<12 hex>" by the container-ID placeholder when those 12 digits
// are the first 12 of the container ID. Why: off the host network, Docker
// (daemon/create: Config.Hostname defaults to the short ID, and
// daemon/oci_linux exports it as HOSTNAME) and nerdctl (pkg/cmd/container:
// the hostname defaults to the short ID, exported as HOSTNAME) name every
// container after its random ID. container-id already replaces the
// top-level hostname, which is the whole string; the variable is
// "HOSTNAME=" plus it. A hostname the user sets (--hostname), the host's
// name under --network host, and any other variable stay measured, and so
// do the variable's name and position.
func engineHostnameEnv(doc map[string]any, id string) error {
	if !isEngineID(id) {
		return nil
	}
	return replaceEnvEntry(doc, "HOSTNAME="+id[:12], "HOSTNAME="+ContainerIDPlaceholder)
}

// dockerSetkeyHook normalises the prestart hook dockerd 20.10 adds to every
// container with a network namespace of its own (daemon/oci_linux.go,
// WithLibnetwork):
//
//	{"path": "/proc/<dockerd pid>/exe",
//	 "args": ["libnetwork-setkey", "-exec-root=<exec-root>", "<container id>", "<controller id[:12]>"]}
//
// The PID becomes "<dockerd-pid>" and the controller ID
// "<docker-network-controller-id>". Why: dockerd re-executes itself through
// /proc/self/exe of the daemon process, whose PID is new at every daemon
// start, and the network controller's ID is random per daemon start
// (libnetwork.New, stringid.GenerateRandomID, truncated to 12). This hook
// runs as root on the host, so only that exact form is touched: an entry
// with exactly the keys path and args (no env, no timeout), a path of
// exactly /proc/<decimal PID>/exe, exactly four arguments, the first
// "libnetwork-setkey", the second "-exec-root=" and an absolute path (which
// stays measured: a device of the profile has a fixed exec-root), the
// third the container's own ID, the fourth 12 lowercase hex digits — and
// only in a config with a network namespace of its own (type "network",
// no path), the one condition under which dockerd writes it. Any other
// prestart hook, and every hook of another kind, stays measured as it is.
//
// What this cannot show: which process the PID named. A writer of the
// config with access to containerd's API could point the hook at
// /proc/<pid>/exe of another process it runs; the normalised config is
// the same. docs/measurement.md lists this residual risk.
func dockerSetkeyHook(doc map[string]any, id string) error {
	if !isEngineID(id) || !hasOwnNetworkNamespace(doc) {
		return nil
	}
	hooks, err := objectAt(doc, "hooks", "hooks")
	if hooks == nil {
		return err
	}
	list, ok := hooks["prestart"].([]any)
	if !ok {
		return nil
	}
	for i, e := range list {
		h, ok := e.(map[string]any)
		if !ok || len(h) != 2 {
			continue
		}
		path, _ := h["path"].(string)
		args, _ := h["args"].([]any)
		if !isProcPIDExe(path) || len(args) != 4 {
			continue
		}
		a := make([]string, 4)
		for j, v := range args {
			a[j], _ = v.(string)
		}
		root, hasRoot := strings.CutPrefix(a[1], "-exec-root=")
		if a[0] != "libnetwork-setkey" || !hasRoot || !strings.HasPrefix(root, "/") || a[2] != id || !isHex(a[3], 12) {
			continue
		}
		h["path"] = "/proc/" + DockerdPIDPlaceholder + "/exe"
		args[3] = NetworkControllerPlaceholder
		list[i] = h
	}
	return nil
}

// isProcPIDExe: exactly "/proc/<PID>/exe", PID decimal without a leading
// zero (as strconv.Itoa writes it).
func isProcPIDExe(p string) bool {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return false
	}
	pid, ok := strings.CutSuffix(rest, "/exe")
	if !ok || pid == "" || pid[0] == '0' {
		return false
	}
	n, err := strconv.ParseUint(pid, 10, 31)
	return err == nil && strconv.FormatUint(n, 10) == pid
}

// hasOwnNetworkNamespace: linux.namespaces has an entry of type "network"
// without a path (a new network namespace, not one joined).
func hasOwnNetworkNamespace(doc map[string]any) bool {
	linux, _ := doc["linux"].(map[string]any)
	list, _ := linux["namespaces"].([]any)
	for _, e := range list {
		ns, _ := e.(map[string]any)
		if t, _ := ns["type"].(string); t == "network" {
			_, has := ns["path"]
			return !has
		}
	}
	return false
}
