//go:build cmcharness

// Command refval-harness runs CMC v0.9's own code on refval's outputs. It is
// built by internal/cmctest inside an extracted copy of CMC's source tree
// (so it imports CMC's packages, internal ones included), never by refval's
// module. Every subcommand prints one JSON object on stdout.
//
//	metadata --ca CA.pem FILE...      CMC's metadata filter and verifier
//	match --list L [--ca CA.pem] FILE... CMC's SW verifier: list against manifests
//	measure --id ID --config F --rootfs D  CMC's measure functions
//	attest --socket S --ca CA.pem     cmcd's report (socket API), judged by CMC's verifier
//	parse-list FILE                   CMC's Artifact decoding of a list (JSON or CBOR)
//	validate-config --reference C --rules R --config F --id ID
//	                                  CMC's rule comparison of F's ociSpec with C's (ocirules.go)
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/Fraunhofer-AISEC/cmc/api"
	ar "github.com/Fraunhofer-AISEC/cmc/attestationreport"
	"github.com/Fraunhofer-AISEC/cmc/cmc"
	"github.com/Fraunhofer-AISEC/cmc/internal"
	"github.com/Fraunhofer-AISEC/cmc/measure"
	"github.com/Fraunhofer-AISEC/cmc/verifier"
	"github.com/sirupsen/logrus"
)

func main() {
	logrus.SetOutput(os.Stderr)
	logrus.SetLevel(logrus.WarnLevel)
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: refval-harness metadata|match|measure|parse-list ..."))
	}
	var out any
	var err error
	switch os.Args[1] {
	case "metadata":
		out, err = cmdMetadata(os.Args[2:])
	case "match":
		out, err = cmdMatch(os.Args[2:])
	case "measure":
		out, err = cmdMeasure(os.Args[2:])
	case "parse-list":
		out, err = cmdParseList(os.Args[2:])
	case "attest":
		out, err = cmdAttest(os.Args[2:])
	case "validate-config":
		out, err = cmdValidateConfig(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func fail(err error) {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	fmt.Println(string(b))
	os.Exit(1)
}

func readCAs(path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := internal.ParseCertsPem(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func readAll(files []string) (map[string][]byte, [][]byte, error) {
	m := map[string][]byte{}
	var l [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		m[f] = b
		l = append(l, b)
	}
	return m, l, nil
}

type itemResult struct {
	File      string `json:"file"`
	Type      string `json:"type"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Signature bool   `json:"signature"`
	Validity  string `json:"validity"`
	Kept      bool   `json:"keptByFilter"`
	Detail    any    `json:"detail"`
}

// cmdMetadata runs CMC's metadata filter (which drops objects with a
// version that is not RFC 3339) and CMC's verifier's metadata stage
// (signatures against the CA, parsing into CMC's types, validity).
func cmdMetadata(args []string) (any, error) {
	fs := flag.NewFlagSet("metadata", flag.ExitOnError)
	ca := fs.String("ca", "", "trusted root CA (PEM)")
	fs.Parse(args)
	cas, err := readCAs(*ca)
	if err != nil {
		return nil, err
	}
	m, _, err := readAll(fs.Args())
	if err != nil {
		return nil, err
	}
	var out []itemResult
	for f, b := range m {
		r := itemResult{File: f}
		kept, err := cmc.RefvalFilterMetadata([][]byte{b})
		if err != nil {
			return nil, err
		}
		r.Kept = len(kept) == 1
		sum, _ := verifier.RefvalVerifyMetadata(cas, map[string][]byte{f: b})
		var all []ar.MetadataResult
		all = append(all, sum.ManifestResults...)
		all = append(all, sum.UnknownResults...)
		if sum.ImageDescriptionResult.Type != "" {
			all = append(all, sum.ImageDescriptionResult)
		}
		if len(all) != 1 {
			r.Status = "no result"
			out = append(out, r)
			continue
		}
		res := all[0]
		r.Type, r.Name = res.Type, res.Name
		r.Status = string(res.Summary.Status)
		r.Signature = len(res.SignatureCheck) > 0
		for _, s := range res.SignatureCheck {
			if s.SignCheck.Status != ar.StatusSuccess || s.CertChainCheck.Status != ar.StatusSuccess {
				r.Signature = false
			}
		}
		r.Validity = string(res.ValidityCheck.Status)
		r.Detail = res
		out = append(out, r)
	}
	return out, nil
}

// cmdMatch runs CMC's SW verifier: the components of the given metadata
// (manifests, and an Image Description for ociRules) are collected as CMC's
// verifier does, and matched against the events of the measurement list,
// read as CMC's SW driver reads it. The evidence is produced and signed as
// CMC's SW driver does (aggregated hash over the list's template hashes).
func cmdMatch(args []string) (any, error) {
	fs := flag.NewFlagSet("match", flag.ExitOnError)
	list := fs.String("list", "", "measurement list (an Artifact)")
	fs.Parse(args)
	_, items, err := readAll(fs.Args())
	if err != nil {
		return nil, err
	}
	var manifests []ar.MetadataResult
	var descs []ar.ManifestDescription
	for _, b := range items {
		s, err := ar.DetectSerialization(b)
		if err != nil {
			return nil, err
		}
		payload, err := s.GetPayload(b)
		if err != nil {
			payload = b // not signed: the payload itself
		}
		var md ar.MetadataResult
		if err := s.Unmarshal(payload, &md.Metadata); err != nil {
			return nil, fmt.Errorf("unmarshal metadata: %w", err)
		}
		switch md.Type {
		case ar.TYPE_MANIFEST:
			manifests = append(manifests, md)
		case ar.TYPE_IMAGE_DESCRIPTION:
			descs = append(descs, md.Descriptions...)
		default:
			return nil, fmt.Errorf("metadata type %q", md.Type)
		}
	}
	refs, err := verifier.RefvalCollectComponents(manifests, descs)
	if err != nil {
		return nil, err
	}

	eventlog, err := readList(*list)
	if err != nil {
		return nil, err
	}
	// SW evidence is always JSON (verifier.VerifySw).
	s, err := ar.NewJsonSerializer()
	if err != nil {
		return nil, err
	}
	aggregated := make([]byte, 32)
	for _, ml := range eventlog.Events {
		aggregated = internal.ExtendSha256(aggregated, ml.GetHash(crypto.SHA256))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	nonce := []byte("refval-interop-nonce")
	ev, err := s.Marshal(ar.SwEvidence{Nonce: nonce, Sha256: aggregated})
	if err != nil {
		return nil, err
	}
	signed, err := internal.Sign(ev, key, s.String(), nil)
	if err != nil {
		return nil, err
	}
	pub, err := internal.WritePublicKeyPem(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	res, ok := verifier.VerifySw(
		ar.Evidence{Type: ar.TYPE_EVIDENCE_SW, Data: signed},
		ar.Collateral{Type: ar.TYPE_EVIDENCE_SW, Artifacts: []ar.Artifact{eventlog}, Key: pub},
		nonce, refs[ar.TRUST_ANCHOR_SW])
	return map[string]any{"ok": ok, "references": len(refs[ar.TRUST_ANCHOR_SW]), "result": res}, nil
}

// cmdMeasure runs CMC's measure functions on a bundle.
func cmdMeasure(args []string) (any, error) {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	id := fs.String("id", "", "container ID")
	config := fs.String("config", "", "config.json")
	rootfs := fs.String("rootfs", "", "rootfs directory")
	fs.Parse(args)
	raw, err := os.ReadFile(*config)
	if err != nil {
		return nil, err
	}
	cfg, norm, err := measure.GetSpecMeasurement(*id, raw)
	if err != nil {
		return nil, err
	}
	rfs, err := measure.GetRootfsMeasurement(*rootfs)
	if err != nil {
		return nil, err
	}
	// The template hash as CMC's verifier recomputes it (ValidateTemplateHash).
	h := sha256.New()
	h.Write(cfg)
	h.Write(rfs)
	tmpl := h.Sum(nil)
	return map[string]string{
		"configSha256":     hex.EncodeToString(cfg),
		"rootfsSha256":     hex.EncodeToString(rfs),
		"templateSha256":   hex.EncodeToString(tmpl),
		"normalizedConfig": string(norm),
	}, nil
}

// cmdParseList decodes a measurement list as CMC's SW driver does.
func cmdParseList(args []string) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("parse-list FILE")
	}
	return readList(args[0])
}

// readList decodes a measurement list as CMC's SW driver does, with the
// serializer of its encoding (cmcd writes it in the encoding of the
// measure request; the sw driver reads it with its configured one).
func readList(path string) (ar.Artifact, error) {
	var eventlog ar.Artifact
	data, err := os.ReadFile(path)
	if err != nil {
		return eventlog, err
	}
	s, err := ar.DetectSerialization(data)
	if err != nil {
		return eventlog, err
	}
	if err := s.Unmarshal(data, &eventlog); err != nil {
		return eventlog, fmt.Errorf("failed to unmarshal measurement list: %w", err)
	}
	return eventlog, nil
}

// cmdAttest asks a running cmcd for an attestation report over its socket
// API (type 1, CBOR), then verifies the report with CMC's verifier
// (verifier.Verify, no policies) against the metadata CA.
func cmdAttest(args []string) (any, error) {
	fs := flag.NewFlagSet("attest", flag.ExitOnError)
	sock := fs.String("socket", "", "cmcd socket")
	ca := fs.String("ca", "", "metadata root CA (PEM)")
	fs.Parse(args)
	cas, err := readCAs(*ca)
	if err != nil {
		return nil, err
	}
	s, err := ar.NewCborSerializer()
	if err != nil {
		return nil, err
	}
	nonce := []byte("refval-interop-attestation-nonce")
	req, err := s.Marshal(api.AttestationRequest{Version: api.GetVersion(), Nonce: nonce})
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("unix", *sock)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := api.Send(conn, req, api.TypeAttest); err != nil {
		return nil, err
	}
	payload, typ, err := api.Receive(conn)
	if err != nil {
		return nil, err
	}
	if typ != api.TypeAttest {
		var e api.SocketError
		s.Unmarshal(payload, &e)
		return nil, fmt.Errorf("cmcd replied type %d: %s", typ, e.Msg)
	}
	var resp api.AttestationResponse
	if err := s.Unmarshal(payload, &resp); err != nil {
		return nil, err
	}
	res := verifier.Verify(resp.Report, nonce, nil, verifier.PolicyEngineSelect_None, false, cas, nil, "", "", false)
	return map[string]any{"status": string(res.Summary.Status), "result": res}, nil
}
