package manifest

import (
	"fmt"

	"github.com/refval/refval/bundle"
)

// Drivers name where a container measurement is recorded at runtime, and so
// which kind of reference value describes it.
const (
	DriverTPM = "tpm" // extended into a PCR: "TPM Reference Value" with pcr
	DriverSW  = "sw"  // kept in a software measurement list: "SW Reference Value"
)

// ContainerReferenceValue returns the CMC reference value of a measured
// container: sha256 is the template hash, ctrData the two component hashes.
// driver is DriverTPM (pcr is used) or DriverSW.
func ContainerReferenceValue(name, driver string, pcr int, optional bool, r *bundle.Result) (ReferenceValue, error) {
	rv := ReferenceValue{
		Name:     name,
		Sha256:   HexBytes(r.TemplateSha256[:]),
		Optional: optional,
		CtrData: &CtrData{
			ConfigSha256: HexBytes(r.ConfigSha256[:]),
			RootfsSha256: HexBytes(r.RootfsSha256[:]),
		},
	}
	switch driver {
	case DriverTPM:
		if pcr < 0 || pcr > 23 {
			return rv, fmt.Errorf("pcr %d: not in 0..23", pcr)
		}
		rv.Type, rv.Pcr = TypeTPM, &pcr
	case DriverSW:
		rv.Type = TypeSW
	default:
		return rv, fmt.Errorf("driver %q: want %s or %s", driver, DriverTPM, DriverSW)
	}
	return rv, nil
}
