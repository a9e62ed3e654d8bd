package cmcd

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refval/refval/internal/listtest"
	"github.com/refval/refval/manifest"
)

var entry = listtest.Entry

// serveOnce answers one request on a unix socket with a canned reply.
func serveOnce(t *testing.T, reply []byte) (string, <-chan []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var hdr [8]byte
		if _, err := c.Read(hdr[:]); err != nil {
			return
		}
		n := int(hdr[0])<<24 | int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		body := make([]byte, n)
		for off := 0; off < n; {
			k, err := c.Read(body[off:])
			if err != nil {
				return
			}
			off += k
		}
		got <- append(hdr[:], body...)
		c.Write(reply)
	}()
	return path, got
}

func TestCMCDDriver(t *testing.T) {
	e := entry("web")
	// Expected request, by hand: header (len, type 3), then
	// {0: "web", 1: bytes(32), 2: bytes(32)}.
	var body []byte
	body = append(body, 0xa3, 0x00, 0x63, 'w', 'e', 'b', 0x01, 0x58, 0x20)
	body = append(body, e.ConfigSha256[:]...)
	body = append(body, 0x02, 0x58, 0x20)
	body = append(body, e.RootfsSha256[:]...)
	wantReq := append([]byte{0, 0, 0, byte(len(body)), 0, 0, 0, 3}, body...)

	tests := []struct {
		name  string
		reply []byte
		err   string
	}{
		{"success", []byte{0, 0, 0, 3, 0, 0, 0, 3, 0xa1, 0x00, 0xf5}, ""},
		{"refused", []byte{0, 0, 0, 3, 0, 0, 0, 3, 0xa1, 0x00, 0xf4}, "success false"},
		{"error reply", []byte{0, 0, 0, 6, 0, 0, 0, 0, 0xa1, 0x00, 0x63, 'n', 'o', '!'}, "no!"},
		{"wrong type", []byte{0, 0, 0, 0, 0, 0, 0, 9}, "unexpected reply type 9"},
		{"truncated", []byte{0, 0, 0, 9, 0, 0, 0, 3, 0xa1}, "read payload"},
		{"oversized", []byte{0xff, 0, 0, 0, 0, 0, 0, 3}, "exceeds"},
		{"not cbor", []byte{0, 0, 0, 1, 0, 0, 0, 3, 0xff}, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, got := serveOnce(t, tt.reply)
			d := &Driver{Address: path, Timeout: 5 * time.Second, Version: manifest.CMC07}
			err := d.Record(context.Background(), e)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrCMCD)) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
			if req := <-got; !bytes.Equal(req, wantReq) {
				t.Errorf("request\n got %x\nwant %x", req, wantReq)
			}
		})
	}
	d := &Driver{Address: filepath.Join(t.TempDir(), "none.sock")}
	if err := d.Record(context.Background(), e); !errors.Is(err, ErrCMCD) {
		t.Errorf("no daemon: %v", err)
	}
}

func FuzzReadCMCDMessage(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 0, 0, 0, 3, 0xa1, 0x00, 0xf5})
	f.Add([]byte{0, 0, 0, 6, 0, 0, 0, 0, 0xa1, 0x00, 0x63, 'n', 'o', '!'})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, payload, err := ReadMessage(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(payload) > MaxMessage {
			t.Fatal("oversized payload accepted")
		}
		parseMeasureReply(typ, payload)
	})
}
