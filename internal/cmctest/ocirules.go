package cmctest

// ConfigVerdict is CMC's rule comparison of one measured config with a
// reference component (harness validate-config).
type ConfigVerdict struct {
	// OK is verifier.ValidateTemplateHash's verdict: the config hashes
	// equal, or the ociSpecs compare under the rules.
	OK bool `json:"ok"`
	// HashEqual: CMC's hash of the reference ociSpec equals the measured
	// configSha256 (no rule was needed).
	HashEqual bool `json:"hashEqual"`
	// ConfigSha256 is the measured config hash, by CMC's measure code.
	ConfigSha256 string `json:"configSha256"`
	// Reason is verifier.ValidateConfig's error ("" when the specs compare).
	Reason string `json:"reason"`
}

// ValidateConfig measures config (a raw config.json of container id) with
// CMC's measure.GetSpecMeasurement and judges it against the reference
// component file ref under the ociRules file rules ("" for none), with
// CMC's verifier.ValidateTemplateHash.
func (t *Tools) ValidateConfig(ref, rules, config, id string) (ConfigVerdict, error) {
	var v ConfigVerdict
	args := []string{"validate-config", "--reference", ref, "--config", config, "--id", id}
	if rules != "" {
		args = append(args, "--rules", rules)
	}
	err := t.Run(&v, args...)
	return v, err
}
