package bundle

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NetworkControllerPlaceholder replaces Docker's network controller ID in
// prestart hook arguments (scheme cmc).
const NetworkControllerPlaceholder = "<docker-network-controller-id>"

var twelveHex = regexp.MustCompile(`^[0-9a-fA-F]{12}$`)

// normalizeConfigCMC reproduces the config normalisation of CMC's
// measure-bundle and proxy shim, step by step (docs/measurement.md, scheme
// cmc). Its weaknesses are kept on purpose, since its values must match
// the original tools': the ID is replaced anywhere in the text, and fields
// the runtime-spec struct does not know are dropped unmeasured.
func normalizeConfigCMC(raw []byte, id string) ([]byte, error) {
	text := string(raw)
	if id != "" {
		text = strings.ReplaceAll(text, id, ContainerIDPlaceholder)
		if len(id) > 12 {
			text = strings.ReplaceAll(text, id[:12], ContainerIDPlaceholder)
		}
	}
	var spec specs.Spec
	if err := json.Unmarshal([]byte(text), &spec); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			return nil, fieldErr(te.Field, "is a JSON %s, want %s", te.Value, te.Type)
		}
		return nil, &ConfigError{Err: jsonError([]byte(text), err)}
	}
	if spec.Hooks != nil {
		for i := range spec.Hooks.Prestart { //nolint:staticcheck // CMC measures the deprecated prestart hooks
			h := &spec.Hooks.Prestart[i] //nolint:staticcheck
			if p, err := filepath.EvalSymlinks(h.Path); err == nil {
				h.Path = p
			} else {
				slog.Debug("cmc scheme: hook path not resolved", "path", h.Path, "err", err)
			}
			for j, a := range h.Args {
				if twelveHex.MatchString(a) {
					h.Args[j] = NetworkControllerPlaceholder
				}
			}
		}
	}
	spec.Annotations = nil
	if spec.Process != nil {
		spec.Process.Terminal = false
		spec.Process.ConsoleSize = nil
		sort.Strings(spec.Process.Env)
	}
	spec.Root = nil
	sort.SliceStable(spec.Mounts, func(i, j int) bool {
		a, b := spec.Mounts[i], spec.Mounts[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Destination < b.Destination
	})
	return canonicalSpec(&spec)
}

// canonicalSpec is the canonical JSON of a normalised runtime-spec struct,
// the last step of both cmc schemes: the struct's JSON (its field order and
// omitempty decide what appears, as in CMC), then RFC 8785.
func canonicalSpec(spec *specs.Spec) ([]byte, error) {
	enc, err := json.Marshal(spec)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	v, err := decodeJSON(enc)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	return canonicalJSON(v)
}

// hashRootfsCMC reproduces CMC's rootfs hash: SHA-256 of the tar stream of
// a filepath.Walk over the rootfs (docs/measurement.md, scheme cmc). The
// archive goes straight into the hash; nothing is buffered.
func hashRootfsCMC(ctx context.Context, root string) (Digest, int, error) {
	return hashTarWalk(ctx, root, SchemeCMC, func(path string, fi fs.FileInfo) (*tar.Header, error) {
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			var err error
			if link, err = os.Readlink(path); err != nil {
				return nil, err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil, err
		}
		hdr.ModTime = time.Unix(0, 0)
		if hdr.Name, err = filepath.Rel(root, path); err != nil {
			return nil, err
		}
		return hdr, nil
	})
}

// hashTarWalk is the rootfs hash of both cmc schemes: the SHA-256 of the
// tar stream of a filepath.Walk over root, end-of-archive blocks included,
// with the header of each entry from header (nil: the entry is left out)
// and the content of every regular-file entry, which must be exactly the
// header's size (else ErrFileChanged). It returns the entries written.
func hashTarWalk(ctx context.Context, root string, scheme Scheme, header func(path string, fi fs.FileInfo) (*tar.Header, error)) (Digest, int, error) {
	h := sha256.New()
	tw := tar.NewWriter(h)
	n := 0
	buf := make([]byte, 256<<10)
	err := filepath.Walk(root, func(path string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := header(path, fi)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if hdr == nil {
			return nil
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		n++
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		c, err := io.CopyBuffer(tw, f, buf)
		if err == tar.ErrWriteTooLong || (err == nil && c != hdr.Size) {
			err = ErrFileChanged
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
	if err == nil {
		err = tw.Close() // end-of-archive blocks are part of the hash
	}
	if err != nil {
		return Digest{}, 0, fmt.Errorf("hash rootfs (%s): %w", scheme, err)
	}
	var d Digest
	h.Sum(d[:0])
	return d, n, nil
}
