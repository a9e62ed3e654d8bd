package oci

import (
	"fmt"
	"slices"
	"strings"

	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"

	// The transports refval supports, registered by import. Not
	// transports/alltransports: it pulls in the docker daemon client and
	// containers/storage, which a measuring tool has no use for.
	_ "go.podman.io/image/v5/directory"
	_ "go.podman.io/image/v5/docker"
	_ "go.podman.io/image/v5/docker/archive"
	_ "go.podman.io/image/v5/oci/archive"
	_ "go.podman.io/image/v5/oci/layout"
)

// Transports lists the transport names refval accepts in image references.
var Transports = []string{"docker", "oci", "oci-archive", "docker-archive", "dir"}

// ParseReference parses an image reference in skopeo's syntax,
// "TRANSPORT:REFERENCE" (docker://registry/repo:tag, oci:DIR[:TAG],
// oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], dir:DIR).
func ParseReference(s string) (types.ImageReference, error) {
	name, within, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("%w: %q: want TRANSPORT:REFERENCE with TRANSPORT one of %s", ErrUnknownTransport, s, strings.Join(Transports, ", "))
	}
	t := transports.Get(name)
	if t == nil || !slices.Contains(Transports, name) {
		return nil, fmt.Errorf("%w %q in %q (want one of %s)", ErrUnknownTransport, name, s, strings.Join(Transports, ", "))
	}
	ref, err := t.ParseReference(within)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidReference, s, err)
	}
	return ref, nil
}
