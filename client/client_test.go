package client

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/wire"
)

func fieldNames(s signing) []string {
	names := []string{"BX_COMMAND", "BX_LICENCE", "BX_DOMAIN", "BX_TYPE", "BX_VERSION", "CONNECTOR", "LINE", "DATA"}
	if s.mode == wire.HMACSHA256 {
		names = append(names, "BX_TIMESTAMP", "BX_NONCE", "BX_SIGN")
	}
	return append(names, "BX_HASH")
}

func TestCallSendsSignedPacketInOrder(t *testing.T) {
	for _, s := range signings() {
		t.Run(s.name, func(t *testing.T) {
			fs := newFakeServer(t, s, func(_ int, p received, w http.ResponseWriter) {
				answer(w, map[string]any{"echo": p.Packet.Command, "n": 12345678901234})
			})
			c := fs.client(t)
			res, err := c.Call(ctxT(t), "saveSettings", wire.NewMap("bot_handle", "mybot", "app_id", "42"))
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			got := fs.received()
			if len(got) != 1 {
				t.Fatalf("server got %d packets, want 1", len(got))
			}
			p := got[0]
			if p.Err != nil {
				t.Fatalf("server refused the packet: %v", p.Err)
			}
			if !reflect.DeepEqual(p.Fields.Names(), fieldNames(s)) {
				t.Errorf("field order %v, want %v", p.Fields.Names(), fieldNames(s))
			}
			want := map[string]string{
				"BX_COMMAND": "saveSettings", "BX_LICENCE": wire.Licence(testLicenceKey), "BX_DOMAIN": testDomain,
				"BX_TYPE": "CP", "BX_VERSION": "test-1", "CONNECTOR": "botframework.skype", "LINE": "3",
			}
			for k, v := range want {
				if g := p.Fields.Get(k); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
			if s.mode == wire.HMACSHA256 && p.Fields.Get("BX_SIGN") != "hmac-sha256" {
				t.Errorf("BX_SIGN = %q", p.Fields.Get("BX_SIGN"))
			}
			if len(p.Args) != 1 {
				t.Fatalf("DATA has %d arguments, want 1: %#v", len(p.Args), p.Args)
			}
			m, ok := p.Args[0].(*wire.Map)
			if !ok || m.String("bot_handle") != "mybot" || m.String("app_id") != "42" {
				t.Errorf("argument = %#v", p.Args[0])
			}
			if ct := p.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type %q", ct)
			}
			if ua := p.Header.Get("User-Agent"); ua != DefaultUserAgent {
				t.Errorf("User-Agent %q", ua)
			}
			d, ok := res.Data().(map[string]any)
			if !ok || d["echo"] != "saveSettings" || d["n"] != json.Number("12345678901234") {
				t.Errorf("Data = %#v", res.Data())
			}
			var typed struct {
				Echo string `json:"ECHO"`
				N    int64
			}
			if err := res.Decode(&typed); err != nil || typed.Echo != "saveSettings" || typed.N != 12345678901234 {
				t.Errorf("Decode = %+v, %v", typed, err)
			}
			if res.StatusCode != 200 || res.Attempts != 1 || !strings.Contains(res.Header.Get("Content-Type"), "json") {
				t.Errorf("Result status %d attempts %d header %v", res.StatusCode, res.Attempts, res.Header)
			}
		})
	}
}

func TestCallArguments(t *testing.T) {
	emptyData := base64.StdEncoding.EncodeToString([]byte(`s:7:"#EMPTY#";`))
	tests := []struct {
		name     string
		args     []any
		wantData string // raw DATA when not ""
		want     []any
	}{
		{name: "no arguments", args: nil, wantData: emptyData, want: nil},
		{name: "one string", args: []any{"5"}, want: []any{"5"}},
		{name: "zero is not empty", args: []any{0, "0"}, want: []any{int64(0), "0"}},
		{name: "empty values stubbed", args: []any{"", false, nil, []any{}}, want: []any{"", "", "", ""}},
		{name: "list of items", args: []any{[]StatusItem{{Chat: ChatRef{ID: "c1"}, Message: MessageRef{ID: "m1"}}}},
			want: []any{[]any{wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "m1"))}}},
	}
	for _, s := range signings() {
		fs := newFakeServer(t, s, nil)
		c := fs.client(t)
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.name, func(t *testing.T) {
				before := fs.count()
				if _, err := c.CallWith(ctxT(t), "anyMethod", tt.args); err != nil {
					t.Fatalf("Call: %v", err)
				}
				p := fs.received()[before]
				if p.Err != nil {
					t.Fatalf("server refused: %v", p.Err)
				}
				if tt.wantData != "" && p.Fields.Get("DATA") != tt.wantData {
					t.Errorf("DATA = %q, want %q", p.Fields.Get("DATA"), tt.wantData)
				}
				if !reflect.DeepEqual(p.Args, tt.want) {
					t.Errorf("arguments %#v, want %#v", p.Args, tt.want)
				}
			})
		}
	}
}

func TestCallOptionsOverrideConnectorAndLine(t *testing.T) {
	s := signings()[0]
	fs := newFakeServer(t, s, nil)
	c := fs.client(t)
	ctx := ctxT(t)
	if _, err := c.CallWith(ctx, "register", nil, Connector("telegrambot"), Line("7")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, "register"); err != nil {
		t.Fatal(err)
	}
	noDefaults, err := New(fs.srv.URL, WithDomain(testDomain), WithLicenceKey(testLicenceKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noDefaults.Call(ctx, "listConnector"); err != nil {
		t.Fatal(err)
	}
	got := fs.received()
	for i, want := range [][2]string{{"telegrambot", "7"}, {"botframework.skype", "3"}, {"all", "#EMPTY#"}} {
		if g := [2]string{got[i].Fields.Get("CONNECTOR"), got[i].Fields.Get("LINE")}; g != want {
			t.Errorf("call %d: CONNECTOR, LINE = %v, want %v", i+1, g, want)
		}
	}
}

func TestNewValidation(t *testing.T) {
	ok := []Option{WithDomain(testDomain), WithLicenceKey(testLicenceKey)}
	tests := []struct {
		name    string
		url     string
		opts    []Option
		wantErr []string // substrings; none means success
	}{
		{name: "minimal md5", url: "http://127.0.0.1:1", opts: ok},
		{name: "hmac", url: "https://srv.example.com/base/", opts: append(ok[:2:2], WithHMAC("x"))},
		{name: "nothing", url: "", wantErr: []string{"server URL is missing", "WithDomain", "WithLicenceKey"}},
		{name: "bad scheme", url: "ftp://x", opts: ok, wantErr: []string{"not http or https"}},
		{name: "no host", url: "http://", opts: ok, wantErr: []string{"has no host"}},
		{name: "query", url: "http://x/?a=1", opts: ok, wantErr: []string{"query"}},
		{name: "bad domain", url: "http://x", opts: []Option{WithDomain("portal"), WithLicenceKey("k")},
			wantErr: []string{`portal domain "portal"`}},
		{name: "hmac without secret", url: "http://x", opts: append(ok[:2:2], WithSigning(wire.HMACSHA256)),
			wantErr: []string{"needs a secret"}},
		{name: "hmac empty secret", url: "http://x", opts: append(ok[:2:2], WithSigning(wire.HMACSHA256, "a", "")),
			wantErr: []string{"secret #2 is empty"}},
		{name: "md5 with secret", url: "http://x", opts: append(ok[:2:2], WithSigning(wire.MD5, "a")),
			wantErr: []string{"takes no secrets"}},
		{name: "unknown mode", url: "http://x", opts: append(ok[:2:2], WithSigning("sha1")), wantErr: []string{"WithSigning"}},
		{name: "path", url: "http://x", opts: append(ok[:2:2], WithPath("p.php")), wantErr: []string{"must start with /"}},
		{name: "nil http client is the default", url: "http://x", opts: append(ok[:2:2], WithHTTPClient(nil), WithLogger(nil), WithClock(nil))},
		{name: "negative timeout", url: "http://x", opts: append(ok[:2:2], WithTimeout(-1)), wantErr: []string{"WithTimeout"}},
		{name: "negative ttl", url: "http://x", opts: append(ok[:2:2], WithCacheTTL(-time.Second)), wantErr: []string{"WithCacheTTL"}},
		{name: "retry waits", url: "http://x", opts: append(ok[:2:2], WithRetry(Retry{MaxRetries: 1, MinWait: 2, MaxWait: 1})),
			wantErr: []string{"MaxWait"}},
		{name: "retry count", url: "http://x", opts: append(ok[:2:2], WithRetry(Retry{MaxRetries: -1})), wantErr: []string{"MaxRetries"}},
		{name: "max response", url: "http://x", opts: append(ok[:2:2], WithMaxResponse(0)), wantErr: []string{"WithMaxResponse"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.url, tt.opts...)
			if len(tt.wantErr) == 0 {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not match ErrConfig", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestURLJoinsPath(t *testing.T) {
	tests := []struct{ base, path, want string }{
		{"http://srv", "", "http://srv/imwebhook/portal.php"},
		{"http://srv/", "", "http://srv/imwebhook/portal.php"},
		{"https://srv/prefix", "/in", "https://srv/prefix/in"},
	}
	for _, tt := range tests {
		opts := []Option{WithDomain(testDomain), WithLicenceKey("k")}
		if tt.path != "" {
			opts = append(opts, WithPath(tt.path))
		}
		c, err := New(tt.base, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if c.URL() != tt.want {
			t.Errorf("URL(%q, %q) = %q, want %q", tt.base, tt.path, c.URL(), tt.want)
		}
	}
}
