package client

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olctl/olctl/client/clienttest"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// The headers, the query and the fields of each profile, as the server receives them.
func TestProfileWire(t *testing.T) {
	t.Parallel()
	licence := wire.Licence(testLicenceKey)
	tests := []struct {
		name      string
		opts      []Option
		userAgent string
		referer   string
		close     bool // Connection: close and an empty Expect
		query     string
		fields    []string
		version   string
		region    string
		emptyStub string // DATA of testConnect()
	}{
		{name: "current", userAgent: "Bitrix Connector Client CP", referer: testDomain, close: true,
			query:   "connector=botframework.skype&command=testConnect",
			fields:  []string{"BX_COMMAND", "BX_LICENCE", "BX_DOMAIN", "BX_TYPE", "BX_VERSION", "CONNECTOR", "LINE", "DATA", "BX_HASH"},
			version: "22.800.0", emptyStub: `s:13:"#EMPTY_ARRAY#";`},
		{name: "current with region", opts: []Option{WithRegion("eu")}, userAgent: "Bitrix Connector Client CP",
			referer: testDomain, close: true, query: "connector=botframework.skype&command=testConnect",
			fields:  []string{"BX_COMMAND", "BX_LICENCE", "BX_DOMAIN", "BX_TYPE", "BX_REGION", "BX_VERSION", "CONNECTOR", "LINE", "DATA", "BX_HASH"},
			version: "22.800.0", region: "eu", emptyStub: `s:13:"#EMPTY_ARRAY#";`},
		{name: "current, explicit", opts: []Option{WithProfile(wire.Current), WithVersion("25.100.3")},
			userAgent: "Bitrix Connector Client CP", referer: testDomain, close: true,
			query:   "connector=botframework.skype&command=testConnect",
			fields:  []string{"BX_COMMAND", "BX_LICENCE", "BX_DOMAIN", "BX_TYPE", "BX_VERSION", "CONNECTOR", "LINE", "DATA", "BX_HASH"},
			version: "25.100.3", emptyStub: `s:13:"#EMPTY_ARRAY#";`},
		{name: "legacy", opts: []Option{WithProfile(wire.Legacy)}, userAgent: "Bitrix Connector Client",
			fields:  []string{"BX_COMMAND", "BX_LICENCE", "BX_DOMAIN", "BX_TYPE", "BX_VERSION", "CONNECTOR", "LINE", "DATA", "BX_HASH"},
			version: "21.1100.0", emptyStub: `s:7:"#EMPTY#";`},
		{name: "legacy 18.7", opts: []Option{WithProfile(wire.Legacy), WithVersion("18.7.150")}, userAgent: "Bitrix Connector Client",
			fields:  []string{"BX_COMMAND", "BX_LICENCE", "BX_DOMAIN", "BX_TYPE", "BX_VERSION", "CONNECTOR", "LINE", "DATA", "BX_HASH"},
			version: "18.7.150", emptyStub: `s:7:"#EMPTY#";`},
	}
	for _, s := range signings() {
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.name, func(t *testing.T) {
				f := newFixture(t, s)
				if err := f.client(t, tt.opts...).TestConnect(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				got := f.Last(t)
				h := got.Header
				if h.Get("User-Agent") != tt.userAgent || h.Get("X-Bitrix-Licence") != licence || h.Get("Referer") != tt.referer {
					t.Errorf("headers User-Agent %q, x-bitrix-licence %q, Referer %q", h.Get("User-Agent"),
						h.Get("X-Bitrix-Licence"), h.Get("Referer"))
				}
				if ct := h.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
					t.Errorf("Content-Type %q", ct)
				}
				expect, hasExpect := h["Expect"]
				if tt.close != (h.Get("Connection") == "close") || tt.close != (hasExpect && slices.Equal(expect, []string{""})) {
					t.Errorf("Connection %q, Expect %q (present %v); want close and empty Expect: %v", h.Get("Connection"),
						expect, hasExpect, tt.close)
				}
				if got.URL.Path != DefaultPath || got.URL.RawQuery != tt.query {
					t.Errorf("URL %s, want %s?%s", got.URL, DefaultPath, tt.query)
				}
				names := got.Fields.Names()
				if s.creds.Mode == wire.HMACSHA256 { // the hmac fields come before BX_HASH
					tt.fields = append(slices.Clone(tt.fields[:len(tt.fields)-1]), "BX_TIMESTAMP", "BX_NONCE", "BX_SIGN", "BX_HASH")
				}
				if !slices.Equal(names, tt.fields) {
					t.Errorf("fields %v\nwant   %v", names, tt.fields)
				}
				fv := got.Fields.Get
				if fv("BX_VERSION") != tt.version || fv("BX_REGION") != tt.region || fv("BX_TYPE") != "CP" ||
					fv("BX_LICENCE") != licence || fv("BX_DOMAIN") != testDomain || fv("CONNECTOR") != "botframework.skype" || fv("LINE") != "3" {
					t.Errorf("fields %v", got.Fields)
				}
				if data := decodeBase64(t, fv("DATA")); data != tt.emptyStub {
					t.Errorf("DATA of testConnect() = %s, want %s", data, tt.emptyStub)
				}
			})
		}
	}
}

// BX_LICENCE and the md5 secret use K = DEMO for an empty key and "demo" in any case, in both profiles.
func TestDemoLicence(t *testing.T) {
	t.Parallel()
	demo := wire.Credentials{Mode: wire.MD5, LicenceKey: "DEMO"}
	for _, key := range []string{"", "demo", "DeMo", "DEMO"} {
		for _, p := range []wire.Profile{wire.Current, wire.Legacy} {
			srv := clienttest.NewServer(t, demo)
			c, err := New(srv.URL, WithDomain(testDomain), WithLicenceKey(key), WithProfile(p), WithConnector("botframework"))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.TestConnect(ctxT(t)); err != nil {
				t.Fatalf("key %q, %s: %v", key, p, err)
			}
			got := srv.Last(t)
			if lic := got.Fields.Get("BX_LICENCE"); lic != "9300e3d70f5eb313b91e90b11fe0bdea" || got.Header.Get("X-Bitrix-Licence") != lic {
				t.Errorf("key %q, %s: BX_LICENCE %s, header %s", key, p, lic, got.Header.Get("X-Bitrix-Licence"))
			}
		}
	}
}

// Connector-less methods go out with CONNECTOR all and an empty LINE whatever the options; the query names
// "all" too.
func TestConnectorLessCalls(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	c := f.client(t) // defaults botframework.skype, line 3
	ctx := ctxT(t)
	calls := []struct {
		method string
		run    func() error
		args   []any
	}{
		{"listConnector", func() error { _, err := c.ListConnector(ctx, Connector("vkgroup"), Line("9")); return err }, []any{}},
		{"infoConnectorsLine", func() error { _, err := c.InfoConnectorsLine(ctx, "7", Connector("vkgroup")); return err }, []any{"7"}},
		{"deleteLine", func() error { return c.DeleteLine(ctx, "7", Line("9")) }, []any{"7"}},
		{"saveDomainSite", func() error {
			_, err := c.Call(ctx, "saveDomainSite", []any{"https://new.example.com"}, Connector("vkgroup"))
			return err
		}, []any{"https://new.example.com"}},
		{"DELETELINE", func() error { _, err := c.Call(ctx, "DELETELINE", []any{"8"}); return err }, []any{"8"}},
	}
	for _, tc := range calls {
		if err := tc.run(); err != nil {
			t.Fatalf("%s: %v", tc.method, err)
		}
		got := f.Last(t)
		if got.Method != tc.method || got.Fields.Get("CONNECTOR") != "all" || got.Fields.Get("LINE") != wire.EmptyStub {
			t.Errorf("%s: sent %s CONNECTOR %q LINE %q", tc.method, got.Method, got.Fields.Get("CONNECTOR"), got.Fields.Get("LINE"))
		}
		if got.URL.RawQuery != "connector=all&command="+tc.method {
			t.Errorf("%s: query %q", tc.method, got.URL.RawQuery)
		}
		if len(got.Args) != len(tc.args) || (len(tc.args) > 0 && got.Args[0] != tc.args[0]) {
			t.Errorf("%s: args %v, want %v", tc.method, got.Args, tc.args)
		}
	}
}

// Connector-bound methods without a connector, or with "all", are refused locally with Bitrix's code; so are
// send/update/deleteMessage with all.
func TestConnectorBoundCallsNeedAConnector(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	noDefault, err := New(f.URL, WithDomain(testDomain), WithLicenceKey(testLicenceKey))
	if err != nil {
		t.Fatal(err)
	}
	withDefault := f.client(t)
	ctx := ctxT(t)
	msg := []openlines.OutgoingMessage{{Chat: openlines.ChatRef{ID: "c"}, Message: openlines.OutgoingContent{Text: "hi"}}}
	cases := []struct {
		name string
		run  func() error
	}{
		{"testConnect without a connector", func() error { return noDefault.TestConnect(ctx) }},
		{"saveSettings without a connector", func() error { return noDefault.SaveSettings(ctx, Settings{"a": "b"}, Line("3")) }},
		{"register with all", func() error { _, err := withDefault.Register(ctx, Connector("all")); return err }},
		{"sendMessage with all", func() error { return withDefault.SendMessage(ctx, msg, Connector("all")) }},
		{"updateMessage with ALL", func() error { return withDefault.UpdateMessage(ctx, msg, Connector("ALL")) }},
		{"deleteMessage with all", func() error { return withDefault.DeleteMessage(ctx, msg, Connector("all")) }},
		{"deleteMessage without a connector", func() error { return noDefault.DeleteMessage(ctx, msg) }},
		{"setStatusDelivered without a connector", func() error {
			return noDefault.SetStatusDelivered(ctx, []openlines.StatusItem{{Chat: openlines.ChatRef{ID: "c"}}})
		}},
		{"a custom method without a connector", func() error { _, err := noDefault.Call(ctx, "finishSession", nil); return err }},
		{"Connect without a connector", func() error { _, err := noDefault.Connect(ctx, Settings{"a": "b"}); return err }},
	}
	for _, tc := range cases {
		err := tc.run()
		if got := codesOf(t, err); !slices.Equal(got, []wire.Code{wire.CodeNoConnector}) {
			t.Errorf("%s: %v, want CONNECTOR_ID_NOT_SPECIFIED", tc.name, err)
		}
		var e *Error
		if errors.As(err, &e) && e.Attempts != 0 {
			t.Errorf("%s: %d attempts", tc.name, e.Attempts)
		}
	}
	if f.Count() != 0 {
		t.Fatalf("the server got %d packets", f.Count())
	}
}

// Every portal → server vector is reproduced byte for byte: the fields in order, DATA and BX_HASH.
func TestPortalToServerVectors(t *testing.T) {
	t.Parallel()
	vs := loadVectors(t)
	n := 0
	for name, v := range vs {
		if !strings.HasPrefix(name, "portal_to_server_") {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			srv := clienttest.NewServer(t, wire.Credentials{Mode: wire.MD5, LicenceKey: v.LicenceKey})
			opts := []Option{WithDomain(v.Fields.Get("BX_DOMAIN")), WithLicenceKey(v.LicenceKey),
				WithVersion(v.Fields.Get("BX_VERSION")), WithConnector(v.Fields.Get("CONNECTOR")),
				WithLine(wire.UnstubField(v.Fields.Get("LINE")))}
			if v.Profile == "" { // the vectors without a profile are legacy
				opts = append(opts, WithProfile(wire.Legacy))
			}
			if r, ok := v.Fields.Lookup("BX_REGION"); ok {
				opts = append(opts, WithRegion(r))
			}
			c, err := New(srv.URL, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Call(ctxT(t), v.Fields.Get("BX_COMMAND"), v.Args); err != nil {
				t.Fatal(err)
			}
			got := srv.Last(t).Fields
			if !slices.Equal(got, v.Fields) {
				t.Fatalf("fields\n got %v\nwant %v", got, v.Fields)
			}
			if v.Serialized != "" && decodeBase64(t, got.Get("DATA")) != v.Serialized {
				t.Fatalf("DATA encodes %s, want %s", decodeBase64(t, got.Get("DATA")), v.Serialized)
			}
		})
	}
	if n != 4 {
		t.Fatalf("%d portal_to_server vectors, want 4", n)
	}
}

type vector struct {
	LicenceKey string
	Profile    string
	Serialized string
	Args       []any // data_php, objects as *wire.Map in their order
	Fields     wire.Fields
}

func loadVectors(t *testing.T) map[string]vector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "wire", "testdata", "vectors", "packets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]struct {
		LicenceKey string          `json:"licence_key"`
		Profile    string          `json:"profile"`
		Serialized string          `json:"serialized"`
		DataPHP    json.RawMessage `json:"data_php"`
		Fields     json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]vector{}
	for name, r := range raw {
		v := vector{LicenceKey: r.LicenceKey, Profile: r.Profile, Serialized: r.Serialized}
		fields, err := orderedJSON(r.Fields)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, e := range fields.(*wire.Map).Entries {
			v.Fields = append(v.Fields, wire.Field{Name: e.Key.(string), Value: e.Value.(string)})
		}
		if len(r.DataPHP) > 0 {
			args, err := orderedJSON(r.DataPHP)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			v.Args, _ = args.([]any) // server → portal ones may be one map
		}
		out[name] = v
	}
	return out
}

// orderedJSON decodes JSON keeping the key order of objects (*wire.Map).
func orderedJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var read func() (any, error)
	read = func() (any, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case json.Delim('{'):
			m := wire.NewMap()
			for dec.More() {
				k, _ := dec.Token()
				v, err := read()
				if err != nil {
					return nil, err
				}
				m.Set(k.(string), v)
			}
			_, err := dec.Token()
			return m, err
		case json.Delim('['):
			l := []any{}
			for dec.More() {
				v, err := read()
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token()
			return l, err
		}
		return tok, nil
	}
	return read()
}

func decodeBase64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("DATA %q: %v", s, err)
	}
	return string(b)
}
