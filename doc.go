// Package refval is the composition tier of the suite: it puts the
// library packages together into the operations the refval command runs,
// as go-containerregistry's pkg/crane does for cmd/crane over pkg/v1.
//
//	library     bundle, oci, oci/layerfs, engine, manifest, signing
//	composition refval (this package): one function per operation
//	command     cmd/refval: flags in, one call here, output
//
// What it decides, so that no command does: the reference value an image
// measurement gives (driver and PCR defaults, its name and the description
// naming the exact image, one per platform), how a job's run options
// become an engine prediction, and how a batch of jobs becomes signed
// manifests (MeasureImage, ImageReferenceValues, NewPredictor, Generate),
// for either CMC dialect (MeasureImageComponent and ImageComponents for CMC
// 0.9, the default; Generate sets the signers up for the dialect). The
// batch file and job model (Batch, Job, RunOptions, Run) is here, not in
// package manifest, because run options hold engine options: the document
// model stays free of the engine, which the shim does not link.
//
// It leaves out everything that belongs to a command line: flags, output
// formats, exit codes, files named by flags (callers pass contents; only
// Generate writes, its output directory and the description file it
// updates atomically). It
// computes no digest itself: every digest comes from package bundle, over
// the records of oci/layerfs or of a disk walk (docs/architecture.md).
package refval
