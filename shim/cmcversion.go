package shim

import (
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
)

// CMC returns the configured CMC dialect; "" (no cmc_version) is
// manifest.DefaultCMCVersion, current CMC. cmc_version = "0.7" keeps the
// seed-era list, cmcd protocol and cmc scheme.
func (c *Config) CMC() manifest.CMCVersion { return c.CMCVersion.Resolved() }

// ListCodec is the wire format of the measurement list: the bare array of
// CMC 0.7 in ListFormat, or CMC 0.9's Artifact (index: the PCR).
func (c *Config) ListCodec() measurelist.Codec {
	return measurelist.CodecFor(c.CMC(), c.ListFormat, int(c.PCR))
}
