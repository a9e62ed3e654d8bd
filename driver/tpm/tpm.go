// Package tpm is the TPM driver: it extends a SHA-256 PCR with the
// template hash of every new list entry (TPM2_PCR_Extend with empty
// password authorisation), on a TPM device, a swtpm/TCG simulator TCP
// command port or a raw TPM unix socket, through go-tpm. It guarantees
// that the PCR is extended exactly once per call that returns nil;
// replaying the list predicts the PCR.
package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"
	"github.com/refval/refval/driver"
	"github.com/refval/refval/measurelist"
)

// Driver extends a PCR with the template hash of every new entry.
type Driver struct {
	// Path: a TPM device (/dev/tpmrm0), tcp://HOST:PORT (the command port
	// of swtpm or the TCG simulator) or unix:///PATH (a raw TPM socket).
	Path string
	PCR  driver.PCR
}

// Record extends the PCR with the entry's template hash.
func (d *Driver) Record(ctx context.Context, e measurelist.Entry) error {
	t, err := Open(ctx, d.Path)
	if err != nil {
		return err
	}
	defer t.Close()
	return ExtendPCR(t, d.PCR, e.TemplateSha256[:])
}

// ExtendPCR extends SHA-256 bank PCR pcr with digest (TPM2_PCR_Extend,
// empty password authorisation, as for the resettable/extendable PCRs of
// a PC-client TPM).
func ExtendPCR(t transport.TPM, pcr driver.PCR, digest []byte) error {
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(uint32(pcr)), Auth: tpm2.PasswordAuth(nil)},
		Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{
			HashAlg: tpm2.TPMAlgSHA256, Digest: digest,
		}}},
	}.Execute(t)
	if err != nil {
		return fmt.Errorf("tpm: extend PCR %d: %w", pcr, err)
	}
	return nil
}

// Open opens the TPM that path names (see Driver.Path).
func Open(ctx context.Context, path string) (transport.TPMCloser, error) {
	switch {
	case strings.HasPrefix(path, "tcp://"):
		var dl net.Dialer
		c, err := dl.DialContext(ctx, "tcp", strings.TrimPrefix(path, "tcp://"))
		if err != nil {
			return nil, fmt.Errorf("tpm: %w", err)
		}
		return &simTPM{conn: c}, nil
	case strings.HasPrefix(path, "unix://"):
		t, err := linuxudstpm.Open(strings.TrimPrefix(path, "unix://"))
		if err != nil {
			return nil, fmt.Errorf("tpm: %w", err)
		}
		return t, nil
	default:
		t, err := linuxtpm.Open(path)
		if err != nil {
			return nil, fmt.Errorf("tpm: %w", err)
		}
		return t, nil
	}
}

// simTPM speaks the command channel of the TCG reference simulator's TCP
// protocol, which swtpm's "--server type=tcp" also serves:
//
//	request:  u32 TPM_SEND_COMMAND(8) | u8 locality | u32 len | command
//	response: u32 len | response | u32 ack (0)
//
// go-tpm's transport/tcp speaks the same, but insists on also opening the
// simulator's platform port, where swtpm serves its own, different
// control protocol, and does single Reads that a short TCP read can cut.
type simTPM struct{ conn net.Conn }

const (
	simSendCommand = 8
	simMaxResponse = 1 << 20
	simTimeout     = 30 * time.Second
)

// Send implements transport.TPM.
func (s *simTPM) Send(cmd []byte) ([]byte, error) {
	s.conn.SetDeadline(time.Now().Add(simTimeout))
	hdr := make([]byte, 9, 9+len(cmd))
	binary.BigEndian.PutUint32(hdr[0:4], simSendCommand)
	hdr[4] = 0 // locality 0
	binary.BigEndian.PutUint32(hdr[5:9], uint32(len(cmd)))
	if _, err := s.conn.Write(append(hdr, cmd...)); err != nil {
		return nil, fmt.Errorf("tpm simulator: send: %w", err)
	}
	var n [4]byte
	if _, err := io.ReadFull(s.conn, n[:]); err != nil {
		return nil, fmt.Errorf("tpm simulator: read response length: %w", err)
	}
	l := binary.BigEndian.Uint32(n[:])
	if l == 0 || l > simMaxResponse {
		return nil, fmt.Errorf("tpm simulator: response length %d", l)
	}
	rsp := make([]byte, l)
	if _, err := io.ReadFull(s.conn, rsp); err != nil {
		return nil, fmt.Errorf("tpm simulator: read response: %w", err)
	}
	if _, err := io.ReadFull(s.conn, n[:]); err != nil {
		return nil, fmt.Errorf("tpm simulator: read acknowledgement: %w", err)
	}
	if ack := binary.BigEndian.Uint32(n[:]); ack != 0 {
		return nil, fmt.Errorf("tpm simulator: acknowledgement %d", ack)
	}
	return rsp, nil
}

// Close implements transport.TPMCloser. TPM_SESSION_END (20) tells the
// simulator the client is done, so it closes its side cleanly.
func (s *simTPM) Close() error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 20)
	s.conn.SetDeadline(time.Now().Add(time.Second))
	_, werr := s.conn.Write(b[:])
	return errors.Join(werr, s.conn.Close())
}
