package cmcd

import (
	"strings"
	"testing"

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
