package manifest

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/refval/refval/bundle"
	"github.com/refval/refval/driver"
)

// Drivers name where a container measurement is recorded at runtime, and so
// which kind of reference value describes it.
// They are the reference kinds of package driver (driver.Kind.ReferenceKind).
const (
	DriverTPM = string(driver.TPM) // extended into a PCR: "TPM Reference Value" with pcr
	DriverSW  = string(driver.SW)  // kept in a software measurement list: "SW Reference Value"
)

// ContainerReferenceValue returns the CMC reference value of a measured
// container: sha256 is the template hash, ctrData the two component hashes.
// drv is DriverTPM (pcr is used) or DriverSW.
func ContainerReferenceValue(name, drv string, pcr int, optional bool, r *bundle.Result) (ReferenceValue, error) {
	rv := ReferenceValue{
		Name:     name,
		Sha256:   HexBytes(r.TemplateSha256[:]),
		Optional: optional,
		CtrData: &CtrData{
			ConfigSha256: HexBytes(r.ConfigSha256[:]),
			RootfsSha256: HexBytes(r.RootfsSha256[:]),
		},
	}
	switch drv {
	case DriverTPM:
		if err := driver.PCR(pcr).Validate(); err != nil {
			return rv, fmt.Errorf("pcr %w", err)
		}
		rv.Type, rv.Pcr = TypeTPM, &pcr
	case DriverSW:
		rv.Type = TypeSW
	default:
		return rv, fmt.Errorf("driver %q: want %s or %s", drv, DriverTPM, DriverSW)
	}
	return rv, nil
}

// WriteReferenceValues writes rvs as the JSON array that `refval
// measure-bundle` prints and the shim's generate mode writes to its
// container-refs file: two-space indentation, one trailing newline. It is
// the one encoder of that output, so both are the same bytes by
// construction.
func WriteReferenceValues(w io.Writer, rvs []ReferenceValue) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rvs)
}
