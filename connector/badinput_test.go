package connector

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// snapshot counts the rows of every table of the server's schema.
func snapshot(t *testing.T, s *Server) string {
	t.Helper()
	var b strings.Builder
	for _, tbl := range []string{"conn_site", "conn_line", "conn_param", "conn_entity", "conn_lane", "conn_queue", "conn_dedup", "conn_dead"} {
		var n int
		if err := s.store.db.QueryRow(`SELECT COUNT(*) FROM ` + tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%d ", tbl, n)
	}
	var domains string
	_ = s.store.db.QueryRow(`SELECT GROUP_CONCAT(domain) FROM conn_site`).Scan(&domains)
	return b.String() + domains
}

// rawPost posts a body to url with a method and returns the status and the first error code of the answer.
func rawPost(t *testing.T, method, u, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	_, err = wire.ParseResponse(b)
	if err == nil {
		return resp.StatusCode, "OK"
	}
	var re *wire.ResponseError
	if errors.As(err, &re) && len(re.Errors) > 0 {
		return resp.StatusCode, string(re.Errors[0].Code)
	}
	return resp.StatusCode, string(wire.CodeOf(err))
}

// withData re-signs the fields of a saveSettings call with DATA replaced by data.
func signedWithData(t *testing.T, p *fakePortal, data string) string {
	pk := &wire.Packet{Command: "saveSettings", Licence: wire.Licence(p.key), Domain: p.URL(), Connector: "echo", Line: "1", Data: []any{}}
	f, err := pk.Encode(wire.ToServer)
	if err != nil {
		t.Fatal(err)
	}
	for i := range f {
		if f[i].Name == "DATA" {
			f[i].Value = data
		}
	}
	signed, err := p.signer.Sign(f)
	if err != nil {
		t.Fatal(err)
	}
	return signed.Encode()
}

func TestPortalEndpointBadInput(t *testing.T) {
	clk := clock.NewFake(time.Now())
	p := newFakePortal(t, "key-bad-md5", clk)
	h := newFakePortalCreds(t, "key-bad-hmac", wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{"s1", "s2"}}, clk)
	s := newTestServer(t, p, Config{Sites: []Site{{LicenceKey: "key-bad-hmac", Mode: wire.HMACSHA256, Secrets: []string{"s2", "s1"}}}, MaxBody: 64 << 10, Clock: clk})
	h.setServer(s.PortalEndpoint())
	p.connect("echo", "1", nil)
	h.connect("echo", "1", nil)
	settings := wire.NewMap("name", "x")
	good := func(pp *fakePortal, method string, args ...any) wire.Fields {
		f, err := pp.fields(method, "echo", "1", args...)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	mutate := func(f wire.Fields, fn func(wire.Fields) wire.Fields) string {
		return fn(append(wire.Fields(nil), f...)).Encode()
	}
	stranger := newFakePortal(t, "key-unknown", clk)
	md5ToHMAC, _ := wire.NewSigner(wire.Credentials{Mode: wire.MD5, LicenceKey: "key-bad-hmac"}, nil)
	hmacToMD5, _ := wire.NewSigner(wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{"x"}}, nil)
	resign := func(pp *fakePortal, sg *wire.Signer) string {
		pk := &wire.Packet{Command: "saveSettings", Licence: wire.Licence(pp.key), Domain: pp.URL(), Connector: "echo", Line: "1", Data: []any{settings}}
		f, _ := pk.Encode(wire.ToServer)
		f2, err := sg.Sign(f)
		if err != nil {
			t.Fatal(err)
		}
		return f2.Encode()
	}
	staleSigner, _ := wire.NewSigner(h.creds, clock.NewFake(clk.Now().Add(-10*time.Minute)))
	replayed := good(h, "saveSettings", settings).Encode()
	unsigned := func(pk *wire.Packet) string {
		f, _ := pk.Encode(wire.ToServer)
		f2, _ := p.signer.Sign(f)
		return f2.Encode()
	}

	cases := []struct {
		name, method, body string
		status             int
		code               wire.Code
	}{
		{"GET", http.MethodGet, "", 405, wire.CodeMethodNotAllowed},
		{"oversize", "POST", "BX_COMMAND=" + strings.Repeat("a", 70<<10), 413, wire.CodeRequestEntityTooLarge},
		{"not a form", "POST", "%zz", 200, wire.CodeBadPacket},
		{"duplicate field", "POST", "BX_COMMAND=a&BX_COMMAND=b", 200, wire.CodeBadPacket},
		{"no BX_HASH", "POST", mutate(good(p, "saveSettings", settings), func(f wire.Fields) wire.Fields { return f[:len(f)-1] }), 200, wire.CodeHashEmpty},
		{"wrong hash", "POST", mutate(good(p, "saveSettings", settings), func(f wire.Fields) wire.Fields {
			f[len(f)-1].Value = strings.Repeat("0", 32)
			return f
		}), 200, wire.CodeLicence},
		{"reordered fields", "POST", mutate(good(p, "saveSettings", settings), func(f wire.Fields) wire.Fields {
			f[4], f[5] = f[5], f[4]
			return f
		}), 200, wire.CodeLicence},
		{"changed value", "POST", mutate(good(p, "saveSettings", settings), func(f wire.Fields) wire.Fields {
			f[6].Value = "2"
			return f
		}), 200, wire.CodeLicence},
		{"unknown portal", "POST", good(stranger, "saveSettings", settings).Encode(), 200, wire.CodeLicence},
		{"no BX_COMMAND", "POST", mutate(good(p, "saveSettings", settings), func(f wire.Fields) wire.Fields { return f[1:] }), 200, wire.CodeBadPacket},
		{"bad base64", "POST", signedWithData(t, p, "!!!not base64"), 200, wire.CodeBadPacket},
		{"bad serialize", "POST", signedWithData(t, p, base64.StdEncoding.EncodeToString([]byte(`a:1:{i:0;s:5:"ab";}`))), 200, wire.CodeBadPacket},
		{"object in DATA", "POST", signedWithData(t, p, base64.StdEncoding.EncodeToString([]byte(`a:1:{i:0;O:8:"stdClass":0:{}}`))), 200, wire.CodeBadPacket},
		{"reference in DATA", "POST", signedWithData(t, p, base64.StdEncoding.EncodeToString([]byte(`a:2:{i:0;a:0:{}i:1;R:2;}`))), 200, wire.CodeBadPacket},
		{"bad domain", "POST", unsigned(&wire.Packet{Command: "saveSettings", Licence: wire.Licence(p.key), Domain: "javascript:x", Connector: "echo", Line: "1", Data: []any{settings}}), 200, wire.CodeBadPacket},
		{"long line", "POST", unsigned(&wire.Packet{Command: "saveSettings", Licence: wire.Licence(p.key), Domain: p.URL(), Connector: "echo", Line: strings.Repeat("9", 65), Data: []any{settings}}), 200, wire.CodeBadPacket},
		{"unknown method", "POST", good(p, "dropDatabase", settings).Encode(), 200, wire.CodeMethodNotFound},
		{"unknown connector", "POST", unsigned(&wire.Packet{Command: "saveSettings", Licence: wire.Licence(p.key), Domain: p.URL(), Connector: "nope", Line: "1", Data: []any{settings}}), 200, wire.CodeUnknownConnector},
		{"settings not a map", "POST", good(p, "saveSettings", "x").Encode(), 200, wire.CodeFailedSaveSettings},
		{"nested setting", "POST", good(p, "saveSettings", wire.NewMap("a", []any{1})).Encode(), 200, wire.CodeFailedSaveSettings},
		{"message not an array", "POST", good(p, "sendMessage", []any{"x"}).Encode(), 200, wire.CodeBadPacket},
		{"delivered without ids", "POST", good(p, "setStatusDelivered", []any{wire.NewMap("chat", wire.NewMap("id", "1"))}).Encode(), 200, wire.CodeBadPacket},
		{"md5 packet to an hmac portal", "POST", resign(h, md5ToHMAC), 200, wire.CodeLicence},
		{"BX_SIGN to an md5 portal", "POST", resign(p, hmacToMD5), 200, wire.CodeLicence},
		{"stale timestamp", "POST", resign(h, staleSigner), 200, wire.CodeReplay},
		{"fresh hmac packet", "POST", replayed, 200, ""},
		{"reused nonce", "POST", replayed, 200, wire.CodeReplay},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s)
			status, code := rawPost(t, tc.method, s.PortalEndpoint(), "application/x-www-form-urlencoded", tc.body)
			want := string(tc.code)
			if want == "" {
				want = "OK"
			}
			if status != tc.status || code != want {
				t.Fatalf("answer %d %s, want %d %s", status, code, tc.status, want)
			}
			if after := snapshot(t, s); tc.code != "" && after != before {
				t.Errorf("the database changed:\n before %s\n after  %s", before, after)
			}
		})
	}
	// The server is still healthy.
	if code, _ := rawPost(t, "GET", s.URL()+"/healthz", "", ""); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	p.mustCall("testConnect", "echo", "1")
}

func TestWebhookBadInput(t *testing.T) {
	chs := NewChannels()
	_ = chs.Register("meth", func(env Env) (Channel, error) {
		e, _ := NewEcho(env)
		return methodChannel{e.(*Echo)}, nil
	})
	p := newFakePortal(t, "key-bad-webhook", nil)
	s := newTestServer(t, p, Config{Channels: chs, MaxBody: 32 << 10, NoDispatch: true})
	hook := p.connect("echo", "1", nil)
	other := p.connect("meth.x", "1", nil)
	u, _ := url.Parse(hook)
	hash := u.Query().Get("h")
	ou, _ := url.Parse(other)
	otherHash := ou.Query().Get("h")
	base := s.URL() + "/imwebhook/"
	good := string(echoItems("c", 1, 1))
	cases := []struct {
		name, method, url, body string
		status                  int
		code                    wire.Code
	}{
		{"GET", "GET", hook, "", 405, wire.CodeMethodNotAllowed},
		{"unknown channel", "POST", base + "nope?h=" + hash, good, 404, wire.CodeUnknownConnector},
		{"upper-case channel", "POST", base + "ECHO?h=" + hash, good, 404, wire.CodeUnknownConnector},
		{"no hash", "POST", base + "echo", good, 404, wire.CodeNotActiveLine},
		{"unknown hash", "POST", base + "echo?h=0123456789abcdef0123456789abcdef", good, 404, wire.CodeNotActiveLine},
		{"another channel's hash", "POST", base + "echo?h=" + otherHash, good, 404, wire.CodeNotActiveLine},
		{"oversize", "POST", hook, `{"items":[` + strings.Repeat(`{},`, 20000) + `{}]}`, 413, wire.CodeRequestEntityTooLarge},
		{"not JSON", "POST", hook, `<xml/>`, 400, wire.CodeBadPacket},
		{"empty body", "POST", hook, ``, 400, wire.CodeBadPacket},
		{"no items", "POST", hook, `{"items":[]}`, 400, wire.CodeBadPacket},
		{"an item without user.id", "POST", hook, `[` + good[10:len(good)-2] + `,{"message":{"id":"2"},"chat":{"id":"c"}}]`, 400, wire.CodeBadPacket},
		{"chat id too long", "POST", hook, `{"user":{"id":"u"},"message":{"id":"1"},"chat":{"id":"` + strings.Repeat("c", 300) + `"}}`, 400, wire.CodeBadPacket},
		{"deep nesting", "POST", hook, strings.Repeat("[", 100) + strings.Repeat("]", 100), 400, wire.CodeBadPacket},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s)
			status, code := rawPost(t, tc.method, tc.url, "application/json", tc.body)
			if status != tc.status || code != string(tc.code) {
				t.Fatalf("answer %d %s, want %d %s", status, code, tc.status, tc.code)
			}
			if after := snapshot(t, s); after != before {
				t.Errorf("the database changed:\n before %s\n after  %s", before, after)
			}
		})
	}
	if status, code := rawPost(t, "POST", hook, "application/json", good); status != 200 || code != "OK" {
		t.Errorf("a good webhook after the bad ones: %d %s", status, code)
	}
	if n := queueLen(t, s); n != 1 {
		t.Errorf("queued %d, want 1", n)
	}
}
