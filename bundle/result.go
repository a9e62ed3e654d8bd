package bundle

import "fmt"

// measure is the one place a Result is built, for Measure and
// MeasureSource alike: the config (raw, named name in errors) is hashed
// with HashConfig under the options opts, then rootfs computes the rootfs
// digest (after the config, so that it may depend on it: root.path, the
// ID mappings), and the template hash combines the two.
func measure(o *options, name string, raw []byte, opts []Option, rootfs func() (Digest, int, error)) (*Result, error) {
	cfgDigest, norm, err := HashConfig(raw, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	rootDigest, n, err := rootfs()
	if err != nil {
		return nil, err
	}
	return &Result{
		Scheme:           o.scheme,
		ConfigSha256:     cfgDigest,
		RootfsSha256:     rootDigest,
		TemplateSha256:   TemplateHash(cfgDigest, rootDigest),
		NormalizedConfig: norm,
		Entries:          n,
	}, nil
}
