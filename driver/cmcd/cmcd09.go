package cmcd

import (
	"encoding/json"
	"fmt"

	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
)

// CMC v0.9's socket API (api/api.go of CMC v0.9.15): Measure is message
// type 7 (type 3 is TLSCreate there), the request carries the full event.
const (
	TypeMeasure09 = 7
	// APIVersion09 is the API version CMC v0.9.15 speaks and sends.
	APIVersion09 = "1.4.0"
)

// MeasureRequest09 is CMC v0.9's measure request.
type MeasureRequest09 struct {
	Version string             `json:"version" cbor:"0,keyasint"`
	Event   manifest.Component `json:"event" cbor:"1,keyasint"`
}

// MeasureResponse09 is CMC v0.9's reply to a measure request.
type MeasureResponse09 struct {
	Version string `json:"version" cbor:"0,keyasint"`
	Success bool   `json:"success" cbor:"1,keyasint"`
}

// SocketError09 is CMC v0.9's error reply (message type 0).
type SocketError09 struct {
	Version string `json:"version" cbor:"0,keyasint"`
	Msg     string `json:"msg" cbor:"1,keyasint"`
}

// request09 encodes e as a CMC v0.9 measure request with index idx, in
// JSON or CBOR. cmcd answers, and writes its own list, in the encoding of
// the request, while its sw driver reads that list with the encoding of its
// own configuration: the two must agree for an attestation to work.
func request09(e measurelist.Entry, idx int, f measurelist.Format) ([]byte, error) {
	ev, err := measurelist.Event(e, idx)
	if err != nil {
		return nil, err
	}
	req := MeasureRequest09{Version: APIVersion09, Event: ev}
	if f == measurelist.JSON {
		return json.Marshal(req)
	}
	return cborEnc.Marshal(req)
}

func unmarshal09(f measurelist.Format, b []byte, v any) error {
	if f == measurelist.JSON {
		return json.Unmarshal(b, v)
	}
	return cborDec.Unmarshal(b, v)
}

// parseMeasureReply09 decodes cmcd v0.9's answer: a MeasureResponse09 or
// a SocketError09 whose message is returned.
func parseMeasureReply09(typ uint32, payload []byte, f measurelist.Format) error {
	switch typ {
	case TypeMeasure09:
		var r MeasureResponse09
		if err := unmarshal09(f, payload, &r); err != nil {
			return fmt.Errorf("%w: decode measure response: %w", ErrCMCD, err)
		}
		if !r.Success {
			return fmt.Errorf("%w: measurement not accepted (success false)", ErrCMCD)
		}
		return nil
	case TypeError:
		var r SocketError09
		if err := unmarshal09(f, payload, &r); err != nil || r.Msg == "" {
			return fmt.Errorf("%w: error reply (%d bytes)", ErrCMCD, len(payload))
		}
		return fmt.Errorf("%w: error reply: %s", ErrCMCD, r.Msg)
	}
	return fmt.Errorf("%w: unexpected reply type %d", ErrCMCD, typ)
}
