package bundle

import (
	"context"
	"errors"
)

// Measure measures the bundle in bundleDir: its config.json (or the file
// given by WithConfigPath) and the rootfs that root.path names (or the
// directory given by WithRootfsPath). bundleDir may be empty when both
// paths are given.
func Measure(ctx context.Context, bundleDir string, opts ...Option) (*Result, error) {
	return nil, errors.New("not implemented")
}

// HashConfig normalises the raw bytes of a runtime config with the rules of
// the selected scheme and returns the SHA-256 of the canonical form together
// with that form.
func HashConfig(raw []byte, opts ...Option) (Digest, []byte, error) {
	return Digest{}, nil, errors.New("not implemented")
}

// HashRootfs measures the directory tree at dir with the selected scheme
// and returns its digest and the number of entries measured.
func HashRootfs(ctx context.Context, dir string, opts ...Option) (Digest, int, error) {
	return Digest{}, 0, errors.New("not implemented")
}
