package wire

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPacketEncodeOrderAndStubs(t *testing.T) {
	t.Parallel()
	p := &Packet{Command: "sendMessage", Licence: "lic", Domain: "https://p.example", Version: "1", Connector: "botframework", Line: "", Data: []any{[]any{NewMap("text", "hi")}}}
	f, err := p.Encode(ToServer)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fieldCommand, fieldLicence, fieldDomain, fieldType, fieldVersion, fieldConnector, fieldLine, fieldData}
	if strings.Join(f.Names(), ",") != strings.Join(want, ",") {
		t.Fatalf("order %v", f.Names())
	}
	if f.Get(fieldLine) != EmptyStub || f.Get(fieldType) != typeCP {
		t.Fatalf("stubs: %v", f)
	}
	f, _ = p.Encode(ToPortal)
	want = []string{fieldCommand, fieldType, fieldLine, fieldConnector, fieldVersion, fieldData}
	if strings.Join(f.Names(), ",") != strings.Join(want, ",") {
		t.Fatalf("order %v", f.Names())
	}
	if _, err := (&Packet{}).Encode(ToPortal); err == nil {
		t.Fatal("a packet without a command must not encode")
	}
	if _, err := (&Packet{Command: "x", Data: make(chan int)}).Encode(ToPortal); err == nil {
		t.Fatal("unserializable data must not encode")
	}
}

func TestParseAndDecode(t *testing.T) {
	t.Parallel()
	good := Fields{{fieldCommand, "receivingMessage"}, {fieldType, "CP"}, {fieldLine, EmptyStub}, {fieldConnector, "botframework.skype"}, {fieldVersion, "1"}, {fieldData, "YToxOntpOjA7czo3OiIjRU1QVFkjIjt9"}, {fieldHash, "x"}}
	p, err := Parse(good, ToPortal)
	if err != nil {
		t.Fatal(err)
	}
	if p.Line != "" || p.Connector != "botframework.skype" || p.Hash != "x" {
		t.Fatalf("%+v", p)
	}
	if err := p.DecodeData(); err != nil {
		t.Fatal(err)
	}
	items, err := p.Items()
	if err != nil || len(items) != 1 || items[0] != "" {
		t.Fatalf("items %#v %v", items, err)
	}
	for _, tc := range []struct {
		name   string
		fields Fields
		dir    Direction
	}{
		{"no command", Fields{{fieldData, "x"}}, ToPortal},
		{"no data", Fields{{fieldCommand, "x"}}, ToPortal},
		{"no licence", Fields{{fieldCommand, "x"}, {fieldDomain, "d"}, {fieldData, "x"}}, ToServer},
		{"no domain", Fields{{fieldCommand, "x"}, {fieldLicence, "l"}, {fieldData, "x"}}, ToServer},
	} {
		if _, err := Parse(tc.fields, tc.dir); !errors.Is(err, CodeBadPacket) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	for _, raw := range []string{"!!!", "Tzo4OiJzdGRDbGFzcyI6MDp7fQ==" /* O:8:"stdClass":0:{} */, "aToxO049" /* i:1;N= trailing bytes */} {
		p := &Packet{RawData: raw}
		if err := p.DecodeData(); !errors.Is(err, CodeBadPacket) {
			t.Errorf("DecodeData(%s) = %v", raw, err)
		}
	}
	if _, err := (&Packet{Data: int64(1)}).Items(); err == nil {
		t.Error("an integer DATA is not a list")
	}
	m := &Packet{Data: NewMap(int64(2), "b", int64(1), "a")}
	if items, _ := m.Items(); len(items) != 2 || items[0] != "b" {
		t.Errorf("map items %v", items)
	}
}

func TestResponses(t *testing.T) {
	t.Parallel()
	body, _ := OKBody(map[string]string{"RESULT": "OK"})
	if string(body) != `{"OK":true,"DATA":{"RESULT":"OK"}}` {
		t.Fatalf("OKBody = %s", body)
	}
	r, err := ParseResponse(body)
	if err != nil || !r.OK || string(r.Data) != `{"RESULT":"OK"}` {
		t.Fatalf("%+v %v", r, err)
	}
	multi := []byte(`{"OK":false,"DATA":[],"ERROR":[{"CODE":"LICENCE_ERROR","MESSAGE":"bad"},{"CODE":"NOT_ACTIVE_LINE","MESSAGE":"off"}]}`)
	_, err = ParseResponse(multi)
	var re *ResponseError
	if !errors.As(err, &re) || len(re.Errors) != 2 || !errors.Is(err, CodeLicence) || !errors.Is(err, CodeNotActiveLine) || errors.Is(err, CodeReplay) {
		t.Fatalf("multi error: %v", err)
	}
	if got := string(ErrorBody(err)); got != string(multi) {
		t.Fatalf("ErrorBody round trip = %s", got)
	}
	// docs/protocol.md §5: a body that is not JSON is ANSWER_MALFORMED; JSON that is not an object has no OK,
	// a failure without ERROR. Every other rule is tested where the client reads answers (client/answer_test.go).
	for bad, code := range map[string]Code{
		"": CodeAnswerMalformed, "  ": CodeAnswerMalformed, "<html>502 Bad Gateway</html>": CodeAnswerMalformed,
		`{"OK":tr`: CodeAnswerMalformed, `{"OK":true} x`: CodeAnswerMalformed, `[1]`: CodeEmptyServerResponse,
		`{"OK":"yes"}`: CodeAnswerMalformed,
	} {
		_, err := ParseResponse([]byte(bad))
		if !errors.Is(err, code) {
			t.Errorf("ParseResponse(%q) = %v, want %s", bad, err, code)
		}
	}
	if _, err := ParseResponse([]byte(`{"OK":false}`)); !errors.Is(err, CodeEmptyServerResponse) {
		t.Errorf("OK:false without errors: %v", err)
	}
	_, err = ParseResponse([]byte(strings.Repeat("x", 500)))
	if !strings.Contains(err.Error(), "…") || len(err.Error()) > 300 {
		t.Errorf("long bodies are quoted short: %v", err)
	}
	w := httptest.NewRecorder()
	WriteResponse(w, nil, Errorf(CodeRequestEntityTooLarge, "big"))
	if w.Code != 413 || !strings.Contains(w.Body.String(), `"CODE":"REQUEST_ENTITY_TOO_LARGE"`) {
		t.Fatalf("413 answer: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	WriteResponse(w, nil, errors.New("boom"))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"CODE":"INTERNAL_ERROR"`) {
		t.Fatalf("internal: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	WriteResponse(w, nil, &Error{Code: CodeBadPacket, Message: "DATA", Err: &SyntaxError{Offset: 3, Msg: "x"}})
	if !strings.Contains(w.Body.String(), "at byte 3") {
		t.Fatalf("cause not in message: %s", w.Body)
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()
	err := Errorf(CodeReplay, "old")
	if !errors.Is(err, CodeReplay) || errors.Is(err, CodeLicence) {
		t.Fatal("Is by code")
	}
	if err.Error() != "REPLAY: old" || CodeReplay.Error() != "REPLAY" {
		t.Fatalf("%q", err.Error())
	}
	if CodeOf(errors.New("x")) != CodeInternal || CodeOf(&BindError{}) != CodeBadPacket {
		t.Fatal("CodeOf")
	}
	if !errors.Is(err, &Error{Code: CodeReplay}) {
		t.Fatal("an *Error with the code is a target too")
	}
	// A Code is an error too: the one errors.Is matches, and what a handler may return when it has nothing to
	// say beyond the code.
	wrapped := fmt.Errorf("user: %w", CodeNoUserIM)
	for _, tc := range []struct {
		name string
		err  error
		code Code
		item ErrorItem
	}{
		{"bare code", CodeNoUserIM, CodeNoUserIM, ErrorItem{Code: "CONNECTOR_PROXY_NO_USER_IM"}},
		{"wrapped code", wrapped, CodeNoUserIM, ErrorItem{Code: "CONNECTOR_PROXY_NO_USER_IM", Message: "user: CONNECTOR_PROXY_NO_USER_IM"}},
		{"error", Errorf(CodeNoUserIM, "no id"), CodeNoUserIM, ErrorItem{Code: "CONNECTOR_PROXY_NO_USER_IM", Message: "no id"}},
		{"syntax error", &SyntaxError{Offset: 1, Msg: "x"}, CodeBadPacket, ErrorItem{Code: "BAD_PACKET", Message: "php unserialize: x at byte 1"}},
	} {
		if !errors.Is(tc.err, tc.code) || errors.Is(tc.err, CodeReplay) || CodeOf(tc.err) != tc.code {
			t.Errorf("%s: errors.Is or CodeOf does not see %s in %v", tc.name, tc.code, tc.err)
		}
		if items := ErrorItems(tc.err); len(items) != 1 || items[0] != tc.item {
			t.Errorf("%s: ErrorItems = %+v, want %+v", tc.name, items, tc.item)
		}
	}
}
