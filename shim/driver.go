package shim

import (
	"context"
	"fmt"
)

// Driver records a new measurement somewhere besides the list.
type Driver interface {
	// Record is called once per new list entry, with the list lock held.
	Record(ctx context.Context, e Entry) error
}

// NewDriver returns the driver the configuration names.
func NewDriver(c *Config) (Driver, error) {
	switch c.Driver {
	case DriverSW:
		return swDriver{}, nil
	case DriverTPM:
		return &TPMDriver{Path: c.TPM, PCR: c.PCR}, nil
	case DriverCMCD:
		return &CMCDDriver{Address: c.CMCDSocket}, nil
	}
	return nil, fmt.Errorf("%w: driver: %q", ErrConfig, c.Driver)
}

// swDriver keeps the list only.
type swDriver struct{}

func (swDriver) Record(context.Context, Entry) error { return nil }
