package oci

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

// Annotations refval adds to its entries in the store's index.json, so
// that an image used offline (PullNever) still reports where it came from.
const (
	AnnotationSourceRef      = "dev.refval.source.reference"
	AnnotationSourceIndex    = "dev.refval.source.index-digest"
	AnnotationSourceManifest = "dev.refval.source.manifest-digest"
)

// Image describes an image in the layout store: what was pulled, from
// where, and the exact digests a reference value belongs to.
type Image struct {
	// Reference is the image reference as given ("docker://host/repo:tag").
	Reference string `json:"reference"`
	// Layout is the store directory; Name the image's ref.name in it.
	Layout string `json:"layout"`
	Name   string `json:"name"`
	// IndexDigest is the digest of the image index (manifest list) at the
	// source, when the reference named one.
	IndexDigest digest.Digest `json:"indexDigest,omitempty"`
	// Manifests has one entry per platform pulled.
	Manifests []Manifest `json:"manifests"`
}

// Manifest describes one single-platform image.
type Manifest struct {
	// Digest of the image manifest as stored (OCI format) and measured.
	Digest digest.Digest `json:"manifestDigest"`
	// SourceDigest is the manifest digest at the source when it differs
	// from Digest (containers/image converted a Docker manifest to OCI).
	SourceDigest digest.Digest    `json:"sourceManifestDigest,omitempty"`
	Platform     ocispec.Platform `json:"platform"`
	ConfigDigest digest.Digest    `json:"configDigest"`
	Layers       []Layer          `json:"layers"`

	manifest ocispec.Manifest
	config   ocispec.Image
}

// Layer is one layer of a manifest.
type Layer struct {
	Digest    digest.Digest `json:"digest"`
	DiffID    digest.Digest `json:"diffID"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
}

// systemContext builds containers/image's settings from the options, the
// way skopeo builds them from its flags.
func (o *options) systemContext() *types.SystemContext {
	sys := &types.SystemContext{
		AuthFilePath:   o.authFile,
		DockerCertPath: o.certDir,
	}
	if sys.AuthFilePath == "" {
		// containers/image reads the default files; REGISTRY_AUTH_FILE is a
		// CLI convention (podman, skopeo, buildah), honoured here the same.
		sys.AuthFilePath = os.Getenv("REGISTRY_AUTH_FILE")
	}
	if o.creds != "" {
		user, pass, _ := strings.Cut(o.creds, ":")
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: user, Password: pass}
	}
	if o.tlsVerify != nil {
		sys.DockerInsecureSkipTLSVerify = types.NewOptionalBool(!*o.tlsVerify)
		sys.OCIInsecureSkipTLSVerify = !*o.tlsVerify
		sys.DockerDaemonInsecureSkipTLSVerify = !*o.tlsVerify
	}
	if o.platform != nil {
		sys.OSChoice, sys.ArchitectureChoice, sys.VariantChoice = o.platform.OS, o.platform.Architecture, o.platform.Variant
	}
	return sys
}

// policyContext returns the signature policy: the given file, accept
// anything when asked, else the system default (policy.json in
// $HOME/.config/containers or /etc/containers). Like skopeo, and as
// containers/image insists, there is no built-in fallback: without a
// policy file, pulling fails and says how to choose one.
func (o *options) policyContext() (*signature.PolicyContext, error) {
	var pol *signature.Policy
	var err error
	switch {
	case o.insecurePol:
		pol = &signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}}
	case o.policyPath != "":
		pol, err = signature.NewPolicyFromFile(o.policyPath)
	default:
		pol, err = signature.DefaultPolicy(nil)
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w (give --policy FILE, or --insecure-policy to accept any image)", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("signature policy: %w", err)
	}
	return signature.NewPolicyContext(pol)
}

func (o *options) platformName() string {
	if o.allPlatforms {
		return "all"
	}
	p := ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if o.platform != nil {
		p = *o.platform
	}
	s := p.OS + "-" + p.Architecture
	if p.Variant != "" {
		s += "-" + p.Variant
	}
	return s
}

var nameGap = regexp.MustCompile(`[^A-Za-z0-9]+`)

// storeName is the ref.name under which an image is kept in the store:
// PLATFORM/TRANSPORT/REFERENCE, with each path component reduced to what
// the OCI ref.name grammar allows (alphanumerics joined by one of
// "-._:@+"; any other run of characters becomes "-").
func storeName(ref types.ImageReference, o *options) string {
	within := ref.StringWithinTransport()
	if dr := ref.DockerReference(); dr != nil {
		within = dr.String()
	}
	parts := []string{o.platformName(), ref.Transport().Name()}
	for _, c := range strings.Split(within, "/") {
		c = nameGap.ReplaceAllStringFunc(c, func(g string) string {
			if len(g) == 1 && strings.Contains("-._:@+", g) {
				return g
			}
			return "-"
		})
		c = strings.Trim(c, "-._:@+")
		if c != "" {
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, "/")
}

// Pull copies the image ref (skopeo syntax, see ParseReference) into the
// layout store and describes it. With WithAllPlatforms every image of an
// index is copied, else the one for the platform (WithPlatform, default
// the host). Blobs are verified against their digests as they arrive and
// shared with the images already in the store; the store's index.json
// changes only when the whole image is there.
func Pull(ctx context.Context, ref string, opts ...Option) (*Image, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return o.pullImage(ctx, ref)
}

func (o *options) pullImage(ctx context.Context, refStr string) (*Image, error) {
	ref, err := ParseReference(refStr)
	if err != nil {
		return nil, err
	}
	name := storeName(ref, o)
	if o.pull == PullNever {
		s, err := openStore(o.layout, false)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrNotInStore, refStr, err)
		}
		desc, err := s.lookup(name)
		if err != nil {
			return nil, err
		}
		return s.describe(refStr, name, desc, o)
	}
	if err := checkSource(ref.Transport().Name(), ref.StringWithinTransport()); err != nil {
		return nil, fmt.Errorf("pull %s: %w", refStr, err)
	}
	pc, err := o.policyContext()
	if err != nil {
		return nil, err
	}
	defer pc.Destroy()
	sys := o.systemContext()

	s, err := openStore(o.layout, true)
	if err != nil {
		return nil, err
	}
	staging, err := os.MkdirTemp(o.layout, ".pull-")
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", refStr, err)
	}
	defer os.RemoveAll(staging)
	lock, err := lockStaging(staging)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", refStr, err)
	}
	defer lock.Close()
	// containers/image extracts an oci-archive (and buffers some other
	// sources) under BigFilesTemporaryDir, /var/tmp by default, where a
	// killed pull would leave it: keep it in the staging directory, which
	// the next pull removes once its lock is free.
	sys.BigFilesTemporaryDir = filepath.Join(staging, "tmp")
	if err := os.Mkdir(sys.BigFilesTemporaryDir, 0o700); err != nil {
		return nil, fmt.Errorf("pull %s: %w", refStr, err)
	}

	// The source's own digests, before containers/image converts anything.
	srcIndex, srcManifest, srcOCI, err := sourceDigests(ctx, ref, sys, o.allPlatforms)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", refStr, err)
	}

	destRef, err := layout.NewReference(staging, "")
	if err != nil {
		return nil, err
	}
	destSys := *sys
	if srcOCI {
		// Blobs go straight into the store, and those already there are
		// not copied again.
		destSys.OCISharedBlobDirPath = filepath.Join(o.layout, ocispec.ImageBlobsDir)
	}
	// A Docker-format source is converted, and a blob reused from the
	// store would keep the source's claim that its layers are gzip (docker
	// save writes plain tar under a gzip media type): such images are
	// staged with their own blobs, moved into the store after the copy.
	// Keep the uncompressed layers of OCI images as they are: the store
	// holds the image the reference names, digests unchanged, not a
	// recompressed copy. Docker-format images are converted anyway, and
	// their layer media type says gzip whatever the data (docker save
	// writes plain tar), so there containers/image must compress.
	destSys.OCIAcceptUncompressedLayers = srcOCI
	sel := copy.CopySystemImage
	if o.allPlatforms {
		sel = copy.CopyAllImages
	}
	if _, err := copy.Image(ctx, pc, destRef, ref, &copy.Options{
		ReportWriter:       o.report,
		SourceCtx:          sys,
		DestinationCtx:     &destSys,
		ImageListSelection: sel,
	}); err != nil {
		return nil, fmt.Errorf("pull %s: %w", refStr, err)
	}
	if !srcOCI {
		if err := moveBlobs(filepath.Join(staging, ocispec.ImageBlobsDir), filepath.Join(o.layout, ocispec.ImageBlobsDir)); err != nil {
			return nil, fmt.Errorf("pull %s: %w", refStr, err)
		}
	}
	staged, err := (&store{dir: staging}).index()
	if err != nil || len(staged.Manifests) == 0 {
		return nil, fmt.Errorf("pull %s: copied image has no index entry (%v)", refStr, err)
	}
	desc := staged.Manifests[len(staged.Manifests)-1]
	desc.Annotations = nil
	// Check the copy before naming it: every blob present and verified.
	img, err := s.describe(refStr, name, desc, o)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", refStr, err)
	}
	if err := fillSourceDigests(img, srcIndex, srcManifest); err != nil {
		return nil, fmt.Errorf("pull %s: %w", refStr, err)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ann := map[string]string{AnnotationSourceRef: transports.ImageName(ref)}
	if img.IndexDigest != "" {
		ann[AnnotationSourceIndex] = img.IndexDigest.String()
	}
	if len(img.Manifests) == 1 && img.Manifests[0].SourceDigest != "" {
		ann[AnnotationSourceManifest] = img.Manifests[0].SourceDigest.String()
	}
	if err := s.tag(name, desc, ann); err != nil {
		return nil, fmt.Errorf("pull %s: %w", refStr, err)
	}
	return img, nil
}

// sourceDigests returns the digest of the source's index (if it has one)
// and of the manifest containers/image will pick from it (single-platform
// pulls) or of the manifest itself, and whether the source is in OCI
// format.
func sourceDigests(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, all bool) (index, man digest.Digest, isOCI bool, err error) {
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return "", "", false, err
	}
	defer src.Close()
	raw, mime, err := src.GetManifest(ctx, nil)
	if err != nil {
		return "", "", false, err
	}
	isOCI = mime == ocispec.MediaTypeImageManifest || mime == ocispec.MediaTypeImageIndex
	d, err := manifest.Digest(raw)
	if err != nil {
		return "", "", false, err
	}
	if !manifest.MIMETypeIsMultiImage(mime) {
		return "", d, isOCI, nil
	}
	if all {
		return d, "", isOCI, nil
	}
	list, err := manifest.ListFromBlob(raw, mime)
	if err != nil {
		return "", "", false, err
	}
	inst, err := list.ChooseInstance(sys)
	if err != nil {
		return "", "", false, fmt.Errorf("%w: %v", ErrNoPlatform, err)
	}
	return d, inst, isOCI, nil
}

func fillSourceDigests(img *Image, index, man digest.Digest) error {
	if index != "" {
		img.IndexDigest = index
	}
	if man != "" && len(img.Manifests) == 1 && img.Manifests[0].Digest != man {
		img.Manifests[0].SourceDigest = man
	}
	return nil
}

// describe reads the image desc from the store, verifying every JSON blob
// and the presence of every layer, and selects its platforms.
func (s *store) describe(refStr, name string, desc ocispec.Descriptor, o *options) (*Image, error) {
	img := &Image{Reference: refStr, Layout: s.dir, Name: name}
	if v := desc.Annotations[AnnotationSourceIndex]; v != "" {
		img.IndexDigest = digest.Digest(v)
	}
	var descs []ocispec.Descriptor
	switch desc.MediaType {
	case ocispec.MediaTypeImageManifest:
		descs = []ocispec.Descriptor{desc}
	case ocispec.MediaTypeImageIndex:
		img.IndexDigest = desc.Digest
		var idx ocispec.Index
		if err := s.readJSON(desc, &idx); err != nil {
			return nil, err
		}
		for _, d := range idx.Manifests {
			if d.MediaType != ocispec.MediaTypeImageManifest || (d.Platform != nil && d.Platform.OS == "unknown") {
				continue // attestations and other non-images
			}
			if !o.allPlatforms && d.Platform != nil && !platformMatches(o, *d.Platform) {
				continue
			}
			descs = append(descs, d)
		}
		if len(descs) == 0 {
			return nil, fmt.Errorf("%w: %s in index %s", ErrNoPlatform, o.platformName(), desc.Digest)
		}
		if !o.allPlatforms {
			descs = descs[:1]
		}
	default:
		return nil, fmt.Errorf("%w: %q for %s", ErrUnsupportedMediaType, desc.MediaType, desc.Digest)
	}
	for _, d := range descs {
		m, err := s.readManifest(d)
		if err != nil {
			return nil, err
		}
		// A single-platform image names its platform only in its config:
		// an explicitly asked platform must match it there, or the store
		// would keep (and later find) an amd64 image under an arm64 name.
		if desc.MediaType == ocispec.MediaTypeImageManifest && o.platform != nil && !o.allPlatforms && !platformMatches(o, m.Platform) {
			return nil, fmt.Errorf("%w: %s is a single-platform image for %s/%s, not %s", ErrNoPlatform, d.Digest, m.Platform.OS, m.Platform.Architecture, o.platformName())
		}
		if v := desc.Annotations[AnnotationSourceManifest]; v != "" && len(descs) == 1 {
			m.SourceDigest = digest.Digest(v)
		}
		img.Manifests = append(img.Manifests, *m)
	}
	return img, nil
}

func platformMatches(o *options, p ocispec.Platform) bool {
	want := ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if o.platform != nil {
		want = *o.platform
	}
	return p.OS == want.OS && p.Architecture == want.Architecture && (want.Variant == "" || p.Variant == want.Variant)
}

// readManifest reads an image manifest and its config, checking the media
// types umoci can unpack and that every layer blob is in the store.
func (s *store) readManifest(d ocispec.Descriptor) (*Manifest, error) {
	m := &Manifest{Digest: d.Digest}
	if err := s.readJSON(d, &m.manifest); err != nil {
		return nil, err
	}
	if mt := m.manifest.MediaType; mt != "" && mt != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("%w: manifest %s has mediaType %q", ErrUnsupportedMediaType, d.Digest, mt)
	}
	if mt := m.manifest.Config.MediaType; mt != ocispec.MediaTypeImageConfig {
		return nil, fmt.Errorf("%w: manifest %s: config mediaType %q (want %s)", ErrUnsupportedMediaType, d.Digest, mt, ocispec.MediaTypeImageConfig)
	}
	if err := s.readJSON(m.manifest.Config, &m.config); err != nil {
		return nil, err
	}
	m.ConfigDigest = m.manifest.Config.Digest
	m.Platform = m.config.Platform
	if m.config.RootFS.Type != "layers" {
		return nil, fmt.Errorf("%w: config %s: rootfs.type %q (want layers)", ErrInvalidImage, m.ConfigDigest, m.config.RootFS.Type)
	}
	if len(m.config.RootFS.DiffIDs) != len(m.manifest.Layers) {
		return nil, fmt.Errorf("%w: config %s has %d diff_ids for %d layers", ErrInvalidImage, m.ConfigDigest, len(m.config.RootFS.DiffIDs), len(m.manifest.Layers))
	}
	for i, l := range m.manifest.Layers {
		if _, err := layerCompression(l.MediaType); err != nil {
			return nil, fmt.Errorf("manifest %s layer %d: %w", d.Digest, i, err)
		}
		p, err := s.blobPath(l.Digest)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("manifest %s layer %d: %w", d.Digest, i, err)
		} else if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("manifest %s layer %d: %w", d.Digest, i, notRegular(p, fi.Mode()))
		}
		m.Layers = append(m.Layers, Layer{Digest: l.Digest, DiffID: m.config.RootFS.DiffIDs[i], MediaType: l.MediaType, Size: l.Size})
	}
	return m, nil
}

// moveBlobs renames the blobs of a staging layout into the store's blob
// directory (same file system); a blob already there has the same content
// by its name and is left as it is.
func moveBlobs(from, to string) error {
	algs, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, a := range algs {
		if err := os.MkdirAll(filepath.Join(to, a.Name()), 0o755); err != nil {
			return err
		}
		blobs, err := os.ReadDir(filepath.Join(from, a.Name()))
		if err != nil {
			return err
		}
		for _, b := range blobs {
			dst := filepath.Join(to, a.Name(), b.Name())
			if _, err := os.Stat(dst); err == nil {
				continue
			}
			if err := os.Rename(filepath.Join(from, a.Name(), b.Name()), dst); err != nil {
				return err
			}
		}
	}
	return nil
}
