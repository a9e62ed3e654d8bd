package cmcd

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/refval/refval/manifest"
	"github.com/refval/refval/measurelist"
)

// TestParseMeasureReply09: cmcd v0.9's error reply {0 version, 1 msg} is
// shown by its message (not by the version at key 0), a success reply is
// nil, a refusal and other types are errors.
func TestParseMeasureReply09(t *testing.T) {
	errPayload, _ := cborEnc.Marshal(SocketError09{Version: APIVersion09, Msg: "Failed to unmarshal measure request: boom"})
	err := parseMeasureReply09(TypeError, errPayload, measurelist.CBOR)
	if err == nil || !strings.Contains(err.Error(), "boom") || strings.Contains(err.Error(), APIVersion09) {
		t.Errorf("error reply: %v", err)
	}
	ok, _ := cborEnc.Marshal(MeasureResponse09{Version: APIVersion09, Success: true})
	if err := parseMeasureReply09(TypeMeasure09, ok, measurelist.CBOR); err != nil {
		t.Errorf("success reply: %v", err)
	}
	no, _ := cborEnc.Marshal(MeasureResponse09{Version: APIVersion09})
	if err := parseMeasureReply09(TypeMeasure09, no, measurelist.CBOR); err == nil {
		t.Error("success false accepted")
	}
	if err := parseMeasureReply09(TypeMeasure, ok, measurelist.CBOR); err == nil {
		t.Error("a v0.7 reply type accepted from cmcd v0.9")
	}
}

func TestParseMeasureReply09JSON(t *testing.T) {
	if err := parseMeasureReply09(TypeError, []byte(`{"version":"1.4.0","msg":"no"}`), measurelist.JSON); err == nil || !strings.Contains(err.Error(), ": no") {
		t.Errorf("JSON error reply: %v", err)
	}
	if err := parseMeasureReply09(TypeMeasure09, []byte(`{"version":"1.4.0","success":true}`), measurelist.JSON); err != nil {
		t.Errorf("JSON success reply: %v", err)
	}
}

// TestZeroVersionIs09: a Driver without a Version speaks the protocol of
// manifest.DefaultCMCVersion, CMC 0.9 (message type 7, the full event),
// byte for byte what a Driver with Version 0.9 sends; 0.7 is only spoken
// when asked for (TestCMCDDriver).
func TestZeroVersionIs09(t *testing.T) {
	ok, _ := cborEnc.Marshal(MeasureResponse09{Version: APIVersion09, Success: true})
	reply := append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(len(ok))), TypeMeasure09), ok...)
	var reqs [][]byte
	for _, v := range []manifest.CMCVersion{"", manifest.CMC09} {
		path, got := serveOnce(t, reply)
		d := &Driver{Address: path, Timeout: 5 * time.Second, Version: v, Index: 11}
		if err := d.Record(context.Background(), entry("web")); err != nil {
			t.Fatalf("version %q: %v", v, err)
		}
		reqs = append(reqs, <-got)
	}
	if typ := binary.BigEndian.Uint32(reqs[0][4:8]); typ != TypeMeasure09 {
		t.Errorf("zero version: message type %d, want %d (CMC 0.9's measure)", typ, TypeMeasure09)
	}
	if !bytes.Equal(reqs[0], reqs[1]) {
		t.Errorf("zero version's request\n%x\nis not version 0.9's\n%x", reqs[0], reqs[1])
	}
}
