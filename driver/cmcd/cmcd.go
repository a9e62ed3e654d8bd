// Package cmcd is the CMC daemon driver: every new measurement is sent to
// a running cmcd over its socket API (the measure request of CMC's
// api/socket protocol: an 8-byte header, u32 payload length and u32 type,
// big-endian, then a CBOR payload), and cmcd extends and logs it itself.
// It guarantees that a nil Record means cmcd answered success; it leaves
// the PCR and cmcd's own measurement log to cmcd. The protocol is the one
// of Driver.Version; a Driver without one speaks
// manifest.DefaultCMCVersion's (CMC 0.9), as the rest of refval does.
package cmcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
)

// CMC daemon socket API message types (the 8-byte header's second word).
const (
	TypeError   = 0
	TypeMeasure = 3
)

// MaxMessage bounds a message payload in both directions.
const MaxMessage = 1 << 20

// MeasureRequest is the CMC daemon's measure request.
type MeasureRequest struct {
	Name         string `cbor:"0,keyasint"`
	ConfigSha256 []byte `cbor:"1,keyasint"`
	RootfsSha256 []byte `cbor:"2,keyasint"`
}

// MeasureResponse is the CMC daemon's reply to a MeasureRequest.
type MeasureResponse struct {
	Success bool `cbor:"0,keyasint"`
}

// ErrCMCD marks a refusal or a protocol violation by the CMC daemon.
var ErrCMCD = errors.New("cmcd")

// cborEnc encodes requests deterministically; cborDec rejects duplicate
// map keys and bounds nesting in replies.
var (
	cborEnc, _ = cbor.CoreDetEncOptions().EncMode()
	cborDec, _ = cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF, MaxNestedLevels: 8}.DecMode()
)

// Driver sends every new measurement to a running CMC daemon, which
// extends and logs it itself.
type Driver struct {
	// Address: a unix socket path, or tcp://HOST:PORT.
	Address string
	// Timeout bounds the whole exchange (default 10 s).
	Timeout time.Duration
	// Version is the CMC dialect of the protocol (0.7: type 3 with name
	// and hashes; 0.9: type 7 with the full event). "" is
	// manifest.DefaultCMCVersion, 0.9.
	Version manifest.CMCVersion
	// Index is the event index sent with CMC 0.9 (the PCR).
	Index int
	// Format is the encoding of CMC 0.9 requests ("" is CBOR): cmcd writes
	// its list in it, and its sw driver reads the list in the encoding of
	// cmcd's own configuration, so they must agree.
	Format measurelist.Format
}

// Record sends e's measure request and waits for cmcd's answer.
func (d *Driver) Record(ctx context.Context, e measurelist.Entry) error {
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	network, addr := "unix", d.Address
	if a, ok := strings.CutPrefix(d.Address, "tcp://"); ok {
		network, addr = "tcp", a
	}
	var dl net.Dialer
	conn, err := dl.DialContext(ctx, network, addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCMCD, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	v := d.Version.Resolved()
	typ, req := uint32(TypeMeasure), []byte(nil)
	if v == manifest.CMC09 {
		typ = TypeMeasure09
		req, err = request09(e, d.Index, d.format())
	} else {
		req, err = cborEnc.Marshal(MeasureRequest{Name: e.Name, ConfigSha256: e.ConfigSha256[:], RootfsSha256: e.RootfsSha256[:]})
	}
	if err != nil {
		return fmt.Errorf("%w: encode request: %w", ErrCMCD, err)
	}
	if err := WriteMessage(conn, typ, req); err != nil {
		return err
	}
	rtyp, payload, err := ReadMessage(conn)
	if err != nil {
		return err
	}
	if v == manifest.CMC09 {
		return parseMeasureReply09(rtyp, payload, d.format())
	}
	return parseMeasureReply(rtyp, payload)
}

func (d *Driver) format() measurelist.Format {
	if d.Format == measurelist.JSON {
		return measurelist.JSON
	}
	return measurelist.CBOR
}

func parseMeasureReply(typ uint32, payload []byte) error {
	switch typ {
	case TypeMeasure:
		var r MeasureResponse
		if err := cborDec.Unmarshal(payload, &r); err != nil {
			return fmt.Errorf("%w: decode measure response: %w", ErrCMCD, err)
		}
		if !r.Success {
			return fmt.Errorf("%w: measurement not accepted (success false)", ErrCMCD)
		}
		return nil
	case TypeError:
		// The daemon's error payload is a CBOR map whose key 0 (or a
		// "msg" key in older versions) holds the message; show what we can.
		var m map[any]any
		if cborDec.Unmarshal(payload, &m) == nil {
			for _, k := range []any{uint64(0), "msg"} {
				if s, ok := m[k].(string); ok {
					return fmt.Errorf("%w: error reply: %s", ErrCMCD, s)
				}
			}
		}
		return fmt.Errorf("%w: error reply (%d bytes)", ErrCMCD, len(payload))
	}
	return fmt.Errorf("%w: unexpected reply type %d", ErrCMCD, typ)
}

// WriteMessage writes one framed message: u32 payload length, u32
// type (big-endian), payload.
func WriteMessage(w io.Writer, typ uint32, payload []byte) error {
	if len(payload) > MaxMessage {
		return fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrCMCD, len(payload), MaxMessage)
	}
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(b[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[4:8], typ)
	if _, err := w.Write(append(b, payload...)); err != nil {
		return fmt.Errorf("%w: send: %w", ErrCMCD, err)
	}
	return nil
}

// ReadMessage reads one framed message.
func ReadMessage(r io.Reader) (typ uint32, payload []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, fmt.Errorf("%w: read header: %w", ErrCMCD, err)
	}
	n := binary.BigEndian.Uint32(h[0:4])
	typ = binary.BigEndian.Uint32(h[4:8])
	if n > MaxMessage {
		return 0, nil, fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrCMCD, n, MaxMessage)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("%w: read payload: %w", ErrCMCD, err)
	}
	return typ, payload, nil
}
