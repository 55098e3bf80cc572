package cli

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// connectServer is a fake server whose register answers a webhook URL.
func connectServer(t *testing.T, creds wire.Credentials) *fakeServer {
	t.Helper()
	fs := newFakeServer(t, creds)
	fs.answer("saveSettings", func(fakeCall) (any, error) { return true, nil })
	fs.answer("register", func(c fakeCall) (any, error) {
		return map[string]any{"bot": "mybot", "webhook_url": fs.URL + "/imwebhook/botframework?h=abc123"}, nil
	})
	return fs
}

func methodsOf(calls []fakeCall) string {
	var m []string
	for _, c := range calls {
		m = append(m, c.Method)
	}
	return strings.Join(m, ",")
}

func TestConnectNonInteractive(t *testing.T) {
	fake := clock.NewFake(time.Now())
	fs := connectServer(t, md5Creds())
	r := run(t, runOpts{env: fs.env(), mutate: func(f *Factory) { f.Clock = fake }},
		"connect", "--yes", "--bot-handle", "mybot", "--app-id", "app-1", "--app-secret", "s3cr3t", "--set", "extra=1").
		wantCode(t, 0)
	golden(t, "connect", strings.ReplaceAll(r.out, fs.URL, "SERVER"))
	calls := fs.received()
	if got := methodsOf(calls); got != "saveSettings,testConnect,register" {
		t.Fatalf("calls %s", got)
	}
	if got := describeValue(calls[0].Args[0]); got != "{bot_handle=mybot app_id=app-1 app_secret=s3cr3t extra=1}" {
		t.Fatalf("settings %s", got)
	}
	if calls[2].Connector != "botframework" || calls[2].Line != "3" {
		t.Fatalf("register for %q/%q", calls[2].Connector, calls[2].Line)
	}
}

func TestConnectJSON(t *testing.T) {
	fs := connectServer(t, hmacCreds())
	r := run(t, runOpts{env: fs.env()}, "connect", "--json", "--bot-handle", "b", "--app-id", "a", "--app-secret", "s").
		wantCode(t, 0)
	var rep connectReport
	r.decodeJSON(t, &rep)
	if !rep.OK || len(rep.Steps) != 3 || rep.WebhookURL != fs.URL+"/imwebhook/botframework?h=abc123" ||
		rep.Connector != "botframework" || rep.Line != "3" {
		t.Fatalf("report %+v", rep)
	}
	for _, s := range rep.Steps {
		if s.Status != "ok" || s.LatencyMS < 0 {
			t.Fatalf("step %+v", s)
		}
	}
}

func TestConnectWebhookFromInfoConnectLink(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	fs.answer("saveSettings", func(fakeCall) (any, error) { return true, nil })
	fs.answer("register", func(fakeCall) (any, error) { return true, nil })
	fs.answer("infoConnectLink", func(fakeCall) (any, error) {
		return map[string]any{"links": []any{"https://connector.example.com/imwebhook/echo?h=zz"}}, nil
	})
	r := run(t, runOpts{env: fs.env("OLCTL_CONNECTOR", "echo")}, "connect", "--set", "a=b").wantCode(t, 0)
	if !strings.Contains(r.out, "https://connector.example.com/imwebhook/echo?h=zz") {
		t.Fatalf("no webhook URL:\n%s", r.out)
	}
}

func TestConnectFailures(t *testing.T) {
	testFails := connectServer(t, md5Creds())
	testFails.answer("testConnect", func(fakeCall) (any, error) {
		return nil, wire.Errorf(wire.CodeFailedTestConnector, "token request refused")
	})
	ok := connectServer(t, md5Creds())
	bf := []string{"--bot-handle", "b", "--app-id", "a", "--app-secret", "s"}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		out     []string
		err     []string
		methods string
		srv     *fakeServer
	}{
		{"step fails", testFails.env(), bf, ExitFailed,
			[]string{"✓ saveSettings", "✗ testConnect", "FAILED_TO_TEST_CONNECTOR: token request refused"},
			[]string{"FAILED_TO_TEST_CONNECTOR"}, "saveSettings,testConnect", testFails},
		{"licence refused", ok.env("OLCTL_LICENCE_KEY", "wrong-key-0000000000"), bf, ExitAuth,
			[]string{"✗ saveSettings", "LICENCE_ERROR"}, nil, "", ok},
		{"unreachable", ok.env("OLCTL_SERVER", closedURL(t)), bf, ExitNetwork, []string{"✗ saveSettings"}, nil, "", nil},
		{"missing secret, no prompt on a pipe", ok.env(), []string{"--bot-handle", "b", "--app-id", "a"}, ExitUsage,
			nil, []string{"missing Bot Framework setting app_secret: give --app-secret"}, "", ok},
		{"missing licence key", ok.env("OLCTL_LICENCE_KEY", ""), bf, ExitUsage,
			nil, []string{"--licence-key, OLCTL_LICENCE_KEY"}, "", ok},
		{"missing line", ok.env("OLCTL_LINE", ""), bf, ExitUsage, nil, []string{"--line, OLCTL_LINE"}, "", ok},
		{"bad --set", ok.env(), append([]string{"--set", "novalue"}, bf...), ExitUsage, nil, []string{`--set "novalue"`}, "", ok},
		{"bad flag", ok.env(), []string{"--nope"}, ExitUsage, nil, []string{"unknown flag"}, "", ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := 0
			if tt.srv != nil {
				before = len(tt.srv.received())
			}
			r := run(t, runOpts{env: tt.env}, append([]string{"connect"}, tt.args...)...).wantCode(t, tt.code)
			for _, w := range tt.out {
				if !strings.Contains(r.out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.out)
				}
			}
			for _, w := range tt.err {
				if !strings.Contains(r.err, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.err)
				}
			}
			if tt.srv != nil {
				if got := methodsOf(tt.srv.received()[before:]); got != tt.methods {
					t.Errorf("server calls %q, want %q", got, tt.methods)
				}
			}
		})
	}
}

func TestConnectPrompts(t *testing.T) {
	fs := connectServer(t, md5Creds())
	env := fs.env("OLCTL_LICENCE_KEY", "", "OLCTL_CONNECTOR", "", "OLCTL_LINE", "")
	// Answers in order: licence key, connector (default), line, bot handle, app id (empty first: asked again),
	// app secret, confirmation.
	stdin := testLicenceKey + "\n\n7\nmybot\n\napp-9\nhidden-secret\ny\n"
	r := run(t, runOpts{env: env, stdin: stdin, inTTY: true}, "connect").wantCode(t, 0)
	for _, w := range []string{"? Licence key (input hidden): ", "? Connector [botframework]: ", "? Line [1]: ",
		"? Bot handle: ", "? Microsoft App ID: ", "Microsoft App ID is required", "? Microsoft App password (secret) (input hidden): ",
		"? Connect botframework on line 7 of " + fs.URL + "? [Y/n]: "} {
		if !strings.Contains(r.err, w) {
			t.Errorf("prompts lack %q:\n%s", w, r.err)
		}
	}
	if strings.Contains(r.out, "hidden-secret") || strings.Contains(r.err, "hidden-secret") {
		t.Fatal("the secret was printed")
	}
	calls := fs.received()
	if len(calls) != 3 || calls[0].Line != "7" ||
		describeValue(calls[0].Args[0]) != "{bot_handle=mybot app_id=app-9 app_secret=hidden-secret}" {
		t.Fatalf("calls %+v", calls)
	}

	// Declining the confirmation sends nothing.
	before := len(fs.received())
	r = run(t, runOpts{env: fs.env(), stdin: "b\na\ns\nn\n", inTTY: true}, "connect").wantCode(t, ExitFailed)
	if !strings.Contains(r.err, "cancelled") || len(fs.received()) != before {
		t.Fatalf("declined connect: %q, %d calls", r.err, len(fs.received())-before)
	}
	// stdin closing mid-wizard is an error, not a hang.
	run(t, runOpts{env: fs.env(), stdin: "b\n", inTTY: true}, "connect").wantCode(t, ExitFailed)
	// --yes never prompts, even on a terminal.
	r = run(t, runOpts{env: fs.env(), stdin: "b\na\ns\ny\n", inTTY: true}, "connect", "--yes").wantCode(t, ExitUsage)
	if strings.Contains(r.err, "?") {
		t.Fatalf("--yes prompted: %q", r.err)
	}
}

func TestFindWebhookURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"webhook_url":"https://c/imwebhook/botframework?h=1"}`, "https://c/imwebhook/botframework?h=1"},
		{`{"a":{"b":["x","https://c/imwebhook/echo?h=2"]}}`, "https://c/imwebhook/echo?h=2"},
		{`{"server":"https://c/imwebhook/portal.php"}`, ""},
		{`true`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := findWebhookURL(json.RawMessage(tt.in)); got != tt.want {
			t.Errorf("findWebhookURL(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNewCmdConnectParsing(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want ConnectOptions
		err  string
	}{
		{name: "none", want: ConnectOptions{BotFramework: map[string]string{}, DB: defaultPortalDB}},
		{name: "every flag", args: []string{"-y", "--bot-handle", "b", "--app-id", "a", "--app-secret", "s", "--set", "k=v", "--set", "x=y",
			"--db", "mysql://p"},
			want: ConnectOptions{Yes: true, BotFramework: map[string]string{"bot_handle": "b", "app_id": "a", "app_secret": "s"},
				Set: []string{"k=v", "x=y"}, DB: "mysql://p"}},
		{name: "save", args: []string{"--save"}, want: ConnectOptions{BotFramework: map[string]string{}, DB: defaultPortalDB, Save: true}},
		{name: "db from the environment", env: map[string]string{envPortalDB: "env.db"},
			want: ConnectOptions{BotFramework: map[string]string{}, DB: "env.db"}},
		{name: "no status", args: []string{"--db", ""}, want: ConnectOptions{BotFramework: map[string]string{}}},
		{name: "argument", args: []string{"now"}, err: `unknown command "now"`},
		{name: "bad flag", args: []string{"--nope"}, err: "unknown flag: --nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *ConnectOptions
			err := parse(NewCmdConnect(testFactory(tt.env), func(o *ConnectOptions) error { got = o; return nil }), tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil || got.Config == nil || got.HTTPClient == nil || got.Clock == nil {
				t.Fatalf("err %v, options %+v", err, got)
			}
			g := *got
			if g.Hints != defaultWizardHints() {
				t.Fatalf("hints %+v, want the default addresses", g.Hints)
			}
			g.Context, g.IO, g.Config, g.HTTPClient, g.Clock, g.Hints = nil, IO{}, nil, nil, nil, WizardHints{}
			if !reflect.DeepEqual(g, tt.want) {
				t.Fatalf("options\n got %+v\nwant %+v", g, tt.want)
			}
		})
	}
}
