package cli

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

func TestRemoteMethodsSuccess(t *testing.T) {
	for _, creds := range []wire.Credentials{md5Creds(), hmacCreds()} {
		for _, m := range remoteMethods {
			names := []string{m.Name}
			if m.Alias != m.Name {
				names = append(names, m.Alias)
			}
			for _, name := range names {
				t.Run(string(creds.Mode)+"/"+name, func(t *testing.T) {
					t.Parallel()
					fs := newFakeServer(t, creds)
					fs.answer(m.Name, func(c fakeCall) (any, error) {
						return json.RawMessage(`{"method":"` + c.Method + `","nested":{"b":2,"a":1}}`), nil
					})
					args := []string{name, "--json"}
					if m.Arg != "" {
						args = append(args, "7")
					}
					r := run(t, runOpts{env: fs.env()}, args...).wantCode(t, 0)
					// Connector-less methods go out with "all" and an empty LINE (docs/protocol.md §3.1); the JSON
					// of one about a line (infoConnectorsLine LINE) names that line.
					wantConnector, wantLine := "botframework", "3"
					if openlines.IsConnectorLess(m.Name) {
						wantConnector, wantLine = openlines.ConnectorAll, ""
						if m.Arg == "LINE" {
							wantLine = "7"
						}
					}
					var doc callResultJSON
					r.decodeJSON(t, &doc)
					if doc.Method != m.Name || !doc.OK || doc.Connector != wantConnector || doc.Line != wantLine {
						t.Fatalf("JSON %+v", doc)
					}
					if want := `{"method":"` + m.Name + `","nested":{"b":2,"a":1}}`; compactJSON(t, doc.Data) != want {
						t.Fatalf("data %s, want %s", doc.Data, want)
					}
					calls := fs.received()
					if len(calls) != 1 || calls[0].Method != m.Name {
						t.Fatalf("server received %+v", calls)
					}
					var wantArgs []any
					if m.Arg != "" {
						wantArgs = []any{"7"}
					}
					if len(calls[0].Args) != len(wantArgs) || (len(wantArgs) > 0 && !reflect.DeepEqual(calls[0].Args, wantArgs)) {
						t.Fatalf("args %#v, want %#v", calls[0].Args, wantArgs)
					}
					sentLine := wantLine
					if openlines.IsConnectorLess(m.Name) {
						sentLine = ""
					}
					if calls[0].Connector != wantConnector || calls[0].Line != sentLine {
						t.Fatalf("connector/line %q/%q", calls[0].Connector, calls[0].Line)
					}
				})
			}
		}
	}
}

func compactJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var b strings.Builder
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(out)
	return b.String()
}

func TestRemoteMethodTableGolden(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	fs.answer("infoConnect", func(fakeCall) (any, error) {
		return json.RawMessage(`{"STATUS":true,"name":"My bot\twith tab","links":["https://a","https://b"],"empty":[],"count":3,"none":null}`), nil
	})
	plain := run(t, runOpts{env: fs.env()}, "infoConnect").wantCode(t, 0)
	golden(t, "infoConnect-plain", plain.out)
	tty := run(t, runOpts{env: fs.env(), outTTY: true}, "info-connect").wantCode(t, 0)
	golden(t, "infoConnect-table", tty.out)

	fs.answer("unregister", func(fakeCall) (any, error) { return nil, nil })
	r := run(t, runOpts{env: fs.env()}, "unregister").wantCode(t, 0)
	if r.out != "unregister: OK\n" {
		t.Fatalf("empty answer printed %q", r.out)
	}
}

func TestRemoteMethodErrors(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	fs.answer("register", func(fakeCall) (any, error) {
		return nil, wire.Errorf(wire.CodeFailedRegister, "app id taken")
	})
	fs.answer("readSettings", func(fakeCall) (any, error) {
		return nil, wire.Errorf(wire.CodeNotActiveLine, "line 3 is not active")
	})
	wrongKey := fs.env("OLCTL_LICENCE_KEY", "wrong-licence-key-000000")
	hmacOnMD5 := fs.env("OLCTL_SIGNING", "hmac-sha256", "OLCTL_SECRET", "whatever-secret")
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr []string
	}{
		{"server error code", fs.env(), []string{"register"}, ExitFailed, []string{"FAILED_REGISTER_CONNECTOR", "app id taken"}},
		{"not active line", fs.env(), []string{"read-settings"}, ExitFailed, []string{"NOT_ACTIVE_LINE"}},
		{"unknown method via call", fs.env(), []string{"call", "noSuchMethod"}, ExitFailed, []string{"METHOD_NOT_FOUND"}},
		{"wrong licence key", wrongKey, []string{"testConnect"}, ExitAuth, []string{"LICENCE_ERROR"}},
		{"hmac to an md5 server", hmacOnMD5, []string{"listConnector"}, ExitAuth, []string{"LICENCE_ERROR"}},
		{"unreachable", fs.env("OLCTL_SERVER", closedURL(t), "OLCTL_TIMEOUT", "2s"), []string{"register"}, ExitNetwork,
			[]string{"register", "connection refused"}},
		{"missing server", fs.env("OLCTL_SERVER", ""), []string{"testConnect"}, ExitUsage,
			[]string{"missing server: set --server, OLCTL_SERVER or \"server\" in"}},
		{"missing licence key", fs.env("OLCTL_LICENCE_KEY", ""), []string{"testConnect"}, ExitUsage,
			[]string{"--licence-key, OLCTL_LICENCE_KEY", `"licence_key"`}},
		{"missing secret", fs.env("OLCTL_SIGNING", "hmac-sha256"), []string{"testConnect"}, ExitUsage,
			[]string{"--secret, OLCTL_SECRET"}},
		{"bound method without line", fs.env("OLCTL_LINE", ""), []string{"register"}, ExitUsage,
			[]string{"missing line: set --line, OLCTL_LINE"}},
		{"missing line argument", fs.env(), []string{"deleteLine"}, ExitUsage, []string{"olctl deleteLine needs LINE"}},
		{"the line as a flag", fs.env(), []string{"deleteLine", "--line", "3"}, ExitUsage,
			[]string{"olctl deleteLine needs LINE (the line is the argument here, not --line: olctl deleteLine 3)"}},
		{"extra argument", fs.env(), []string{"testConnect", "x"}, ExitUsage, []string{`unknown command "x"`}},
		{"bad flag", fs.env(), []string{"listConnector", "--bogus"}, ExitUsage, []string{"unknown flag: --bogus"}},
		{"saveSettings without settings", fs.env(), []string{"saveSettings"}, ExitUsage, []string{"no settings"}},
		{"saveSettings bad pair", fs.env(), []string{"saveSettings", "novalue"}, ExitUsage, []string{`"novalue": want key=value`}},
		{"saveSettings missing file", fs.env(), []string{"saveSettings", "--from-file", "/nonexistent.yaml"}, ExitUsage,
			[]string{"/nonexistent.yaml"}},
		{"call without method", fs.env(), []string{"call"}, ExitUsage, []string{"olctl call needs METHOD [ARG ...]"}},
		{"call a bound method without connector", fs.env("OLCTL_CONNECTOR", ""), []string{"call", "noSuchMethod"}, ExitUsage,
			[]string{"missing connector: set --connector, OLCTL_CONNECTOR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, runOpts{env: tt.env}, tt.args...).wantCode(t, tt.code)
			for _, w := range tt.stderr {
				if !strings.Contains(r.err, w) {
					t.Errorf("stderr %q lacks %q", r.err, w)
				}
			}
			if r.out != "" {
				t.Errorf("stdout %q on error", r.out)
			}
		})
	}
}

func TestRemoteErrorJSON(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	tests := []struct {
		name     string
		env      map[string]string
		code     int
		category string
		codes    []string
	}{
		{"server", fs.env(), ExitFailed, "server", []string{"METHOD_NOT_FOUND"}},
		{"auth", fs.env("OLCTL_LICENCE_KEY", "another-key-00000000000"), ExitAuth, "auth", []string{"LICENCE_ERROR"}},
		{"network", fs.env("OLCTL_SERVER", closedURL(t)), ExitNetwork, "network", []string{"NETWORK_ERROR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, runOpts{env: tt.env}, "call", "frobnicate", "--json").wantCode(t, tt.code)
			var doc errorJSON
			if err := json.Unmarshal([]byte(r.err), &doc); err != nil {
				t.Fatalf("stderr is not JSON: %v\n%s", err, r.err)
			}
			if doc.Error.Category != tt.category || doc.Error.ExitCode != tt.code ||
				!reflect.DeepEqual(doc.Error.Codes, tt.codes) || doc.Error.Message == "" {
				t.Fatalf("error JSON %+v", doc)
			}
		})
	}
}

func TestSaveSettings(t *testing.T) {
	file := writeFile(t, "settings.yaml", "bot_handle: from-file\napp_id: \"0123\"\nnested:\n  z: 1\n  a: [x, y]\n")
	jsonFile := writeFile(t, "settings.json", `{"app_id": "j1", "bot_handle": "jbot"}`)
	tests := []struct {
		name string
		args []string
		want string // the settings as PHP would print them, in order
	}{
		{"pairs", []string{"bot_handle=mybot", "app_id=1234", "app_secret=a=b"},
			"{bot_handle=mybot app_id=1234 app_secret=a=b}"},
		{"file keeps order", []string{"--from-file", file}, "{bot_handle=from-file app_id=0123 nested={z=1 a=[x y]}}"},
		{"pairs override file", []string{"--from-file", file, "app_id=9", "extra=1"},
			"{bot_handle=from-file app_id=9 nested={z=1 a=[x y]} extra=1}"},
		{"json file", []string{"--from-file", jsonFile}, "{app_id=j1 bot_handle=jbot}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, hmacCreds())
			fs.answer("saveSettings", func(fakeCall) (any, error) { return true, nil })
			run(t, runOpts{env: fs.env()}, append([]string{"save-settings"}, tt.args...)...).wantCode(t, 0)
			calls := fs.received()
			if len(calls) != 1 || len(calls[0].Args) != 1 {
				t.Fatalf("calls %+v", calls)
			}
			if got := describeValue(calls[0].Args[0]); got != tt.want {
				t.Fatalf("settings %s, want %s", got, tt.want)
			}
		})
	}
}

// describeValue prints a decoded PHP value compactly, keeping map order.
func describeValue(v any) string {
	switch x := v.(type) {
	case *wire.Map:
		parts := make([]string, 0, x.Len())
		for _, e := range x.Entries {
			parts = append(parts, fmt.Sprintf("%v=%s", e.Key, describeValue(e.Value)))
		}
		return "{" + strings.Join(parts, " ") + "}"
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, describeValue(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}

func TestCallArguments(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	fs.answer("anything", func(c fakeCall) (any, error) { return "ok", nil })
	run(t, runOpts{env: fs.env()}, "call", "anything", `{"b":1,"a":[true,null,2.5]}`, "plain text", "42", `"quoted"`, "{bad").
		wantCode(t, 0)
	calls := fs.received()
	if len(calls) != 1 {
		t.Fatalf("calls %+v", calls)
	}
	// null and false become #EMPTY# on the wire and "" after decoding (docs/protocol.md §3.3).
	want := "[{b=1 a=[true  2.5]} plain text 42 quoted {bad]"
	if got := describeValue(calls[0].Args); got != want {
		t.Fatalf("args %s, want %s", got, want)
	}
}

func TestParseArg(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"42", int64(42)},
		{"2.5", 2.5},
		{"true", true},
		{"null", nil},
		{`"s"`, "s"},
		{"text", "text"},
		{"1 2", "1 2"},
		{"{", "{"},
		{"[1,2]", []any{int64(1), int64(2)}},
	}
	for _, tt := range tests {
		if got := parseArg(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseArg(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}
