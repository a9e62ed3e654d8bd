// Package tpmtest starts a software TPM (swtpm) for tests and reads its
// PCRs back. Outside CI a missing swtpm skips the test; with CI=true it
// fails it.
package tpmtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Start starts swtpm serving its command channel as server says
// ("--server", "type=...") and returns once network/addr accepts
// connections. swtpm is killed when t ends.
func Start(t testing.TB, network, addr string, server ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts swtpm")
	}
	if _, err := exec.LookPath("swtpm"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("swtpm missing (Debian swtpm)")
		}
		t.Skip("swtpm missing (Debian swtpm)")
	}
	args := append([]string{"socket", "--tpm2", "--tpmstate", "dir=" + t.TempDir(), "--flags", "not-need-init,startup-clear"}, server...)
	cmd := exec.Command("swtpm", args...)
	out, _ := os.CreateTemp(t.TempDir(), "swtpm-log")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 100 {
		if c, err := net.Dial(network, addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(out.Name())
	t.Fatalf("swtpm did not listen on %s: %s", addr, b)
}

// StartTCP starts swtpm on a free loopback port pair and returns the
// tcp://127.0.0.1:PORT address of its command port.
func StartTCP(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	Start(t, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1))
	return fmt.Sprintf("tcp://127.0.0.1:%d", port)
}

// ReadPCR reads SHA-256 PCR pcr through t (TPM2_PCR_Read).
func ReadPCR(t testing.TB, tpm transport.TPM, pcr uint) []byte {
	t.Helper()
	rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(pcr),
	}}}}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
	if len(rsp.PCRValues.Digests) != 1 {
		t.Fatalf("PCR read returned %d digests", len(rsp.PCRValues.Digests))
	}
	return rsp.PCRValues.Digests[0].Buffer
}
