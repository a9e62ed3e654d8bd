// Package shim implements containerd-shim-cmc-v1, the runtime half of
// refval: it measures every container that containerd starts, with the
// same bundle.Measure the offline tools use, records the measurement, and
// hands the container to the ordinary runc machinery unchanged.
//
// One binary, three ways in (Main dispatches on argv[0] and the arguments):
//
//   - As a containerd shim (runtime io.containerd.cmc.v1, or an absolute
//     --runtime path): it execs the real containerd-shim-runc-v2 with the
//     same arguments and a PATH whose first entry holds a "runc" link to
//     this binary. The runc shim resolves runc through PATH, so every runc
//     call of the containers it serves (also the later containers of a CRI
//     pod, whose start never reaches a shim binary) comes back here.
//   - As a runc wrapper (invoked as "runc", as a BinaryName, a Docker
//     runtime path or through ctr --runc-binary): on "create", "run" and
//     "restore" (a container started from a checkpoint) it
//     measures the bundle -- the only moment every container passes with
//     its rootfs mounted and config.json final -- records the result, then
//     execs the real runc with argv unchanged. Every other subcommand is
//     exec'ed at once. Exec, not fork: runc's stdio, exit code and signals
//     stay exactly runc's.
//   - Generate mode: for the container ID CMC_GENERATE_APP_MANIFEST (or
//     every container with generate_all), it also writes the reference
//     values, the normalized config and the rootfs records under the
//     generate directory (default /tmp/measure), then starts the container.
//
// The binary links the C front (package shim/front), which runs before
// the Go runtime and execs from C, with exactly the argv and environment
// the Go code would build: a runc call that is certainly a pass-through,
// with the FastEnv token the shim mode gives the runc shim or, without
// one (the runc.v2 BinaryName form), the token an earlier Go runc call
// cached under RunLinkRoot; and a shim-mode start, delete or -info whose
// decision the Go shim mode cached there. It does so only while the
// configuration file is unchanged (its fingerprint assumes a local file
// system) and everything the Go code would resolve is the same; anything
// else, and any doubt, falls through to Main. create, run and restore
// always reach Go. The token is not an authenticator (whoever sets a runc
// call's environment already chooses PATH). Built without cgo, or with a
// C library other than glibc, the binary is the Go code alone.
//
// Recording keeps a measurement list (package measurelist: JSON or CBOR,
// one entry per distinct template hash) under an exclusive lock with
// atomic replacement, and hands each new entry to the driver the
// configuration names (package driver): sw (list only), tpm (PCR extend
// through go-tpm, on a TPM device or a swtpm/simulator TCP socket) or cmcd
// (the CMC daemon's socket API). NewDriver constructs it; there is no
// registry. The CMC dialect is cmc_version, default 0.9 (the Artifact
// list, cmcd type 7, scheme cmc = cmc-0.9); "0.7" keeps the bare-array
// list, cmcd type 3 and v0.7's scheme. Generate mode writes its reference
// values with manifest.WriteComponents (0.9) or WriteReferenceValues
// (0.7), the encoders `refval measure-bundle` prints with.
//
// Guarantees: fail-open by default (any measurement or recording failure is
// logged and the container starts; a container that could not be measured
// leaves measurelist.FailureMarker in the list, so attestation does not silently miss
// it); with enforce = true such a failure makes
// runc create fail with the reason, which containerd and ctr report. A
// broken configuration file refuses create/run either way, since it may be
// the file that asked for enforcement. The list never holds a torn write,
// and concurrent starts lose no entry. The TPM PCR is extended once per
// list entry, in list order, so replaying the list predicts the PCR.
//
// Left out: measuring "runc exec" processes (they run inside an already
// measured container), checkpoint/restore, runtimes other than runc, and
// any policy decision (comparing against reference values is the
// verifier's job, not the shim's).
package shim
