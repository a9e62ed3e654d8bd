package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/umoci/oci/config/convert"
	"github.com/opencontainers/umoci/oci/layer"
)

// runtimeConfig returns the config.json umoci writes for an image
// (oci/layer.UnpackRuntimeJSON): umoci's image-config → runtime-spec
// conversion, then its user-namespace and rootless edits.
//
// The conversion reads /etc/passwd and /etc/group of the rootfs to resolve
// the image's user, supplementary groups and HOME. umoci opens them by
// host path, so a symlinked /etc/passwd is followed on the host; refval
// instead passes their content as found inside the image (symlinks
// resolved within the rootfs, nil when absent or not a regular file), in a
// scratch directory holding nothing else. Unpack and MeasureImage both
// come here, so their configs agree for every image.
func runtimeConfig(img ocispec.Image, passwd, group []byte, mo layer.MapOptions) ([]byte, error) {
	dir, err := os.MkdirTemp("", "refval-config-")
	if err != nil {
		return nil, fmt.Errorf("runtime config: %w", err)
	}
	defer os.RemoveAll(dir)
	// root.path is the base name of this directory, as in a bundle.
	rootfs := filepath.Join(dir, layer.RootfsName)
	if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o700); err != nil {
		return nil, fmt.Errorf("runtime config: %w", err)
	}
	for name, data := range map[string][]byte{"passwd": passwd, "group": group} {
		if data == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(rootfs, "etc", name), data, 0o600); err != nil {
			return nil, fmt.Errorf("runtime config: %w", err)
		}
	}
	spec, err := convert.ToRuntimeSpec(rootfs, img)
	if err != nil {
		return nil, fmt.Errorf("%w: runtime config: %v", ErrInvalidImage, err)
	}
	// From layer.UnpackRuntimeJSON (umoci v0.6.0): a user namespace when
	// there are mappings, then the rootless conversion.
	if len(mo.UIDMappings) > 0 || len(mo.GIDMappings) > 0 {
		var namespaces []rspec.LinuxNamespace
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type != rspec.UserNamespace {
				namespaces = append(namespaces, ns)
			}
		}
		spec.Linux.Namespaces = append(namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
	}
	spec.Linux.UIDMappings = mo.UIDMappings
	spec.Linux.GIDMappings = mo.GIDMappings
	if mo.Rootless {
		if err := convert.ToRootless(&spec); err != nil {
			return nil, fmt.Errorf("runtime config: rootless: %w", err)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "\t")
	if err := enc.Encode(spec); err != nil {
		return nil, fmt.Errorf("runtime config: %w", err)
	}
	return buf.Bytes(), nil
}
