package tpm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/refval/refval/internal/listtest"
	"github.com/refval/refval/internal/tpmtest"
)

var entry = listtest.Entry

var swtpm = tpmtest.Start

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestTPMDriver extends PCR 16 through each transport and reads it back
// with TPM2_PCR_Read, comparing with a replay computed here.
func TestTPMDriver(t *testing.T) {
	port := freeTCPPort(t)
	sock := filepath.Join(t.TempDir(), "tpm.sock")
	cases := []struct {
		name, path string
		start      func(t *testing.T)
	}{
		{"tcp", fmt.Sprintf("tcp://127.0.0.1:%d", port), func(t *testing.T) {
			swtpm(t, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
				"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
				"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1))
		}},
		{"unix", "unix://" + sock, func(t *testing.T) {
			swtpm(t, "unix", sock, "--server", "type=unixio,path="+sock,
				"--ctrl", "type=unixio,path="+sock+".ctrl")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.start(t)
			d := &Driver{Path: tc.path, PCR: 16}
			var want [32]byte // PCR 16 starts at zero after startup-clear
			for _, n := range []string{"a", "b", "c"} {
				e := entry(n)
				if err := d.Record(context.Background(), e); err != nil {
					t.Fatal(err)
				}
				want = sha256.Sum256(append(want[:], e.TemplateSha256[:]...))
			}
			tpm, err := Open(context.Background(), tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer tpm.Close()
			rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
				Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(16),
			}}}}.Execute(tpm)
			if err != nil {
				t.Fatal(err)
			}
			if len(rsp.PCRValues.Digests) != 1 || string(rsp.PCRValues.Digests[0].Buffer) != string(want[:]) {
				t.Errorf("PCR 16 = %x, replay %x", rsp.PCRValues.Digests, want)
			}
		})
	}
	if err := (&Driver{Path: "/nonexistent/tpm", PCR: 11}).Record(context.Background(), entry("x")); err == nil {
		t.Error("missing TPM device: want an error")
	}
}
