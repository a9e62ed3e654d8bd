// Package oci takes refval from image references to runtime bundles and
// reference values: Pull copies an image into a local OCI image layout
// store (containers/image, blobs shared between images), Unpack turns it
// into a runtime bundle with umoci's layer extraction and config
// conversion, and MeasureImage computes the bundle's refval-v1 measurement
// directly from the layer blobs, without writing a rootfs.
//
// Guarantees:
//   - every blob is verified against its descriptor (digest and size) and
//     every layer against its diff ID before its data counts;
//   - a failed Pull names nothing in the store; a failed Unpack leaves its
//     destination as it was (the bundle is built beside it and renamed);
//   - layers never write outside the bundle's rootfs; whiteouts of "." and
//     ".." are refused;
//   - MeasureImage (SchemeV1) equals Unpack as root followed by
//     bundle.Measure of the bundle, for every image both accept: same
//     config digest, rootfs digest and template hash (the layer rules are
//     in package oci/layerfs); both accept and refuse the same images;
//   - bounded work: both apply the same bundle.Limits (WithLimits) and
//     refuse an image beyond one with a *bundle.LimitError naming the
//     layer, the entry and the limit;
//   - no hang on file types: every file of a source or of the store is
//     opened O_NONBLOCK and must be regular, an oci-archive holding other
//     than files and directories is refused before it is extracted, and
//     the extraction lives in the pull's staging directory, removed by the
//     next pull when the pull was killed.
//
// Left out: transports other than docker, oci, oci-archive, docker-archive
// and dir; encrypted and zstd:chunked layers; garbage collection of the
// store; engine-specific runtime configs (the config measured is umoci's
// conversion). See docs/images.md.
package oci
