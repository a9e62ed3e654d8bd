//go:build cmcharness

// Command refval-harness runs CMC v0.7's own code on refval's outputs. It is
// built by internal/cmctest inside an extracted copy of CMC's source tree
// (so it imports CMC's packages, internal ones included), never by refval's
// module. Every subcommand prints one JSON object on stdout.
//
//	metadata --ca CA.pem FILE...            CMC's metadata filter, token verification, parsing, validity
//	match --list L FILE...                  CMC's SW verifier: list against App Manifests
//	measure --id ID --config F --rootfs D   CMC's measure functions
//	parse-list FILE                         CMC's []MeasureEntry decoding of a list
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"time"

	ar "github.com/Fraunhofer-AISEC/cmc/attestationreport"
	"github.com/Fraunhofer-AISEC/cmc/cmc"
	"github.com/Fraunhofer-AISEC/cmc/internal"
	m "github.com/Fraunhofer-AISEC/cmc/measure"
	"github.com/Fraunhofer-AISEC/cmc/verify"
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

func serializerFor(b []byte) ar.Serializer {
	if json.Valid(b) {
		return ar.JsonSerializer{}
	}
	return ar.CborSerializer{}
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

func status(ok bool) string {
	if ok {
		return "success"
	}
	return "fail"
}

// cmdMetadata runs CMC's metadata filter (which drops objects with a
// version that is not RFC 3339), CMC's token verification against the CA,
// parsing into CMC's App Manifest / Device Description types and CMC's
// validity check.
func cmdMetadata(args []string) (any, error) {
	fs := flag.NewFlagSet("metadata", flag.ExitOnError)
	ca := fs.String("ca", "", "trusted root CA (PEM)")
	fs.Parse(args)
	caPem, err := os.ReadFile(*ca)
	if err != nil {
		return nil, err
	}
	cas, err := internal.ParseCertsPem(caPem)
	if err != nil {
		return nil, err
	}
	var out []itemResult
	for _, f := range fs.Args() {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := itemResult{File: f}
		kept, _, err := cmc.RefvalFilterMetadata([][]byte{b})
		r.Kept = err == nil && len(kept) == 1
		s := serializerFor(b)
		tr, payload, ok := s.VerifyToken(b, cas)
		r.Signature = ok
		r.Detail = tr
		if !ok {
			r.Status = "fail"
			out = append(out, r)
			continue
		}
		var info ar.MetaInfo
		if err := s.Unmarshal(payload, &info); err != nil {
			r.Status = "parse: " + err.Error()
			out = append(out, r)
			continue
		}
		r.Type, r.Name = info.Type, info.Name
		switch info.Type {
		case "App Manifest":
			var am ar.AppManifest
			if err := s.Unmarshal(payload, &am); err != nil {
				r.Status = "parse: " + err.Error()
				break
			}
			v := verify.RefvalCheckValidity(am.Validity)
			r.Validity = status(v.Success)
			md := &ar.Metadata{AppManifests: []ar.AppManifest{am}}
			if _, err := verify.RefvalCollectReferenceValues(md); err != nil {
				r.Status = "reference values: " + err.Error()
				break
			}
			r.Status = status(v.Success)
			r.Detail = am
		case "Device Description":
			var dd ar.DeviceDescription
			if err := s.Unmarshal(payload, &dd); err != nil {
				r.Status = "parse: " + err.Error()
				break
			}
			r.Status = "success"
			r.Detail = dd
		default:
			r.Status = "unknown type"
		}
		out = append(out, r)
	}
	return out, nil
}

// swSigner is the minimal ar.Driver CMC's Sign needs for the SW evidence.
type swSigner struct {
	key   *ecdsa.PrivateKey
	chain []*x509.Certificate
}

func (s *swSigner) Init(*ar.DriverConfig) error            { return nil }
func (s *swSigner) Measure([]byte) (ar.Measurement, error) { return ar.Measurement{}, nil }
func (s *swSigner) Lock() error                            { return nil }
func (s *swSigner) Unlock() error                          { return nil }
func (s *swSigner) GetSigningKeys() (crypto.PrivateKey, crypto.PublicKey, error) {
	return s.key, &s.key.PublicKey, nil
}
func (s *swSigner) GetCertChain() ([]*x509.Certificate, error) { return s.chain, nil }

func newSwSigner() (*swSigner, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "refval interop sw driver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &swSigner{key: key, chain: []*x509.Certificate{c}}, nil
}

// readList reads a measurement list as CMC's SW driver does, into the
// SW Measurement artifact it builds from it.
func readList(path string, s ar.Serializer) (ar.Artifact, []m.MeasureEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ar.Artifact{}, nil, err
	}
	var measureList []m.MeasureEntry
	if err := s.Unmarshal(data, &measureList); err != nil {
		return ar.Artifact{}, nil, fmt.Errorf("failed to unmarshal measurement list: %w", err)
	}
	artifact := ar.Artifact{Type: "SW Eventlog"}
	for _, ml := range measureList {
		artifact.Events = append(artifact.Events, ar.MeasureEvent{
			Sha256:    ml.TemplateSha256,
			EventName: ml.Name,
			CtrData:   &ar.CtrData{ConfigSha256: ml.ConfigSha256, RootfsSha256: ml.RootfsSha256},
		})
	}
	return artifact, measureList, nil
}

// cmdMatch runs CMC's SW verifier on the list against the SW reference
// values of the given App Manifests (signed or plain).
func cmdMatch(args []string) (any, error) {
	fs := flag.NewFlagSet("match", flag.ExitOnError)
	list := fs.String("list", "", "measurement list ([]MeasureEntry)")
	fs.Parse(args)
	md := &ar.Metadata{}
	for _, f := range fs.Args() {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		s := serializerFor(b)
		payload, err := s.GetPayload(b)
		if err != nil {
			payload = b
		}
		var am ar.AppManifest
		if err := s.Unmarshal(payload, &am); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		md.AppManifests = append(md.AppManifests, am)
	}
	refs, err := verify.RefvalCollectReferenceValues(md)
	if err != nil {
		return nil, err
	}
	s := ar.JsonSerializer{}
	artifact, _, err := readList(*list, s)
	if err != nil {
		return nil, err
	}
	signer, err := newSwSigner()
	if err != nil {
		return nil, err
	}
	nonce := []byte("refval-interop-nonce")
	evidence, err := s.Sign(nonce, signer)
	if err != nil {
		return nil, err
	}
	meas := ar.Measurement{
		Type:      "SW Measurement",
		Evidence:  evidence,
		Certs:     internal.WriteCertsDer(signer.chain),
		Artifacts: []ar.Artifact{artifact},
	}
	res, ok := verify.RefvalVerifySw(meas, nonce, signer.chain, s, refs["SW Reference Value"])
	return map[string]any{"ok": ok, "references": len(refs["SW Reference Value"]), "result": res}, nil
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
	cfg, norm, _, err := m.GetSpecMeasurement(*id, raw)
	if err != nil {
		return nil, err
	}
	rfs, err := m.GetRootfsMeasurement(*rootfs)
	if err != nil {
		return nil, err
	}
	tmpl := sha256.Sum256(append(append([]byte{}, cfg...), rfs...))
	return map[string]string{
		"configSha256":     hex.EncodeToString(cfg),
		"rootfsSha256":     hex.EncodeToString(rfs),
		"templateSha256":   hex.EncodeToString(tmpl[:]),
		"normalizedConfig": string(norm),
	}, nil
}

// cmdParseList decodes a measurement list as CMC's SW driver does.
func cmdParseList(args []string) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("parse-list FILE")
	}
	_, l, err := readList(args[0], ar.JsonSerializer{})
	if err != nil {
		return nil, err
	}
	return l, nil
}
