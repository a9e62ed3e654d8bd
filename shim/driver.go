package shim

import (
	"context"
	"fmt"

	"github.com/refval/refval/driver"
	"github.com/refval/refval/driver/cmcd"
	"github.com/refval/refval/driver/sw"
	"github.com/refval/refval/driver/tpm"
	"github.com/refval/refval/measurelist"
)

// Driver records a new measurement somewhere besides the list.
type Driver interface {
	// Record is called once per new list entry, with the list lock held.
	Record(ctx context.Context, e measurelist.Entry) error
}

// NewDriver returns the driver the configuration names, constructed here
// and nowhere else (no registry).
func NewDriver(c *Config) (Driver, error) {
	switch c.Driver {
	case driver.SW:
		return sw.Driver{}, nil
	case driver.TPM:
		return &tpm.Driver{Path: c.TPM, PCR: c.PCR}, nil
	case driver.CMCD:
		// CMC 0.9: requests in the list's encoding, so that cmcd's own list
		// is in the encoding its sw driver reads (set list_format to it).
		return &cmcd.Driver{Address: c.CMCDSocket, Version: c.CMC(), Index: int(c.PCR), Format: c.ListFormat}, nil
	}
	return nil, fmt.Errorf("%w: driver: %q", ErrConfig, c.Driver)
}
