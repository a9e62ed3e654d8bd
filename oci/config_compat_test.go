package oci

import (
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/umoci/oci/layer"

	"github.com/refval/refval/engine"
)

// runtimeConfig is umociConfig given the content of the two user files
// (the form in which TestConfigMatchesUmoci holds them).
func runtimeConfig(img ocispec.Image, passwd, group []byte, mo layer.MapOptions) ([]byte, error) {
	return umociConfig(img, engine.UserFiles(passwd, group), mo)
}
