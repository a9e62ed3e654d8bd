//go:build cmcharness

package main

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	ar "github.com/Fraunhofer-AISEC/cmc/attestationreport"
	"github.com/Fraunhofer-AISEC/cmc/measure"
	"github.com/Fraunhofer-AISEC/cmc/verifier"
	oci "github.com/opencontainers/runtime-spec/specs-go"
)

// cmdValidateConfig judges one measured runtime config against a
// reference component under ociRules, with CMC's own code only: the raw
// config is normalised and hashed by CMC's measure.GetSpecMeasurement (the
// measured event's configSha256 and ociSpec, as cmcd records them), then
// CMC's verifier.ValidateTemplateHash decides (hash equal, else
// ValidateConfig under the rules). "reason" is ValidateConfig's error on
// the two ConvertSpec'd specs, for the test's message.
func cmdValidateConfig(args []string) (any, error) {
	fs := flag.NewFlagSet("validate-config", flag.ExitOnError)
	ref := fs.String("reference", "", "reference component (JSON, refval's ContainerComponent)")
	rules := fs.String("rules", "", "ociRules (JSON object; none: no rules)")
	config := fs.String("config", "", "measured config.json (raw)")
	id := fs.String("id", "", "container ID of the measured config")
	fs.Parse(args)
	s, err := ar.NewJsonSerializer()
	if err != nil {
		return nil, err
	}
	var comp ar.Component
	b, err := os.ReadFile(*ref)
	if err != nil {
		return nil, err
	}
	if err := s.Unmarshal(b, &comp); err != nil {
		return nil, fmt.Errorf("%s: %w", *ref, err)
	}
	if comp.CtrData == nil || comp.CtrData.OciSpec == nil {
		return nil, fmt.Errorf("%s: no ctrData.ociSpec", *ref)
	}
	if *rules != "" {
		rb, err := os.ReadFile(*rules)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(rb, &comp.OciRules); err != nil {
			return nil, fmt.Errorf("%s: %w", *rules, err)
		}
	}
	raw, err := os.ReadFile(*config)
	if err != nil {
		return nil, err
	}
	hash, norm, err := measure.GetSpecMeasurement(*id, raw)
	if err != nil {
		return nil, err
	}
	spec := new(oci.Spec)
	if err := json.Unmarshal(norm, spec); err != nil {
		return nil, err
	}
	measured := &ar.CtrData{ConfigSha256: hash, OciSpec: spec}
	_, ok, err := verifier.ValidateTemplateHash(s, &comp, measured)
	if err != nil {
		return nil, err
	}
	refHash, err := verifier.CalculateSpecHash(comp.CtrData.OciSpec)
	if err != nil {
		return nil, err
	}
	reason := ""
	rc, err := verifier.ConvertSpec(s, comp.CtrData.OciSpec)
	if err != nil {
		return nil, err
	}
	mc, err := verifier.ConvertSpec(s, spec)
	if err != nil {
		return nil, err
	}
	r := comp.OciRules
	if r == nil {
		r = map[string]interface{}{}
	}
	if err := verifier.ValidateConfig(rc, mc, r); err != nil {
		reason = err.Error()
	}
	return map[string]any{
		"ok":           ok,
		"hashEqual":    hex.EncodeToString(refHash) == hex.EncodeToString(hash),
		"configSha256": hex.EncodeToString(hash),
		"reason":       reason,
	}, nil
}
