package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/connector/botframework/schema"
)

var bfReadyRE = regexp.MustCompile(`fake Bot Framework service on (http://\S+)`)

func postActivity(t *testing.T, url string, a schema.Activity) int {
	t.Helper()
	b, _ := json.Marshal(a)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestBFServe(t *testing.T) {
	bg, m := startBackground(t, nil, bfReadyRE, "bf", "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--no-auth")
	base := m[1]
	if code := postActivity(t, base+"/v3/conversations/a%2Fb/activities",
		schema.Activity{Type: "message", Text: "hello from the bot", From: schema.ChannelAccount{ID: "28:bot"}}); code != 200 && code != 201 {
		t.Fatalf("Connector API answered %d", code)
	}
	waitFor(t, func() bool { return strings.Contains(bg.out.String(), "\n") },
		func() string { return "no activity printed; stderr:\n" + bg.err.String() })
	if code := bg.stop(t); code != 0 {
		t.Fatalf("bf serve exited %d", code)
	}
	var a bfActivityJSON
	if err := json.Unmarshal([]byte(strings.SplitN(bg.out.String(), "\n", 2)[0]), &a); err != nil {
		t.Fatal(err)
	}
	if a.Op != "send" || a.ConversationID != "a/b" || a.Text != "hello from the bot" || a.From != "28:bot" || a.ActivityID == "" {
		t.Fatalf("activity %+v", a)
	}
	for _, w := range []string{"service URL:", "token URL:", "OpenID metadata:", "auth:             off"} {
		if !strings.Contains(bg.err.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, bg.err.String())
		}
	}
}

// echoBot is a bot webhook that answers every message by posting "echo: <text>" to the activity's service URL
// (anonymously: the fake runs with --no-auth).
func echoBot(t *testing.T, reply bool) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a schema.Activity
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.WriteHeader(http.StatusOK)
		if !reply {
			return
		}
		go func() {
			out := schema.Activity{Type: "message", Text: "echo: " + a.Text, From: a.Recipient, Recipient: a.From,
				Conversation: a.Conversation, ReplyToID: a.ID}
			b, _ := json.Marshal(out)
			resp, err := http.Post(strings.TrimRight(a.ServiceURL, "/")+"/v3/conversations/"+a.Conversation.ID+"/activities",
				"application/json", bytes.NewReader(b))
			if err == nil {
				resp.Body.Close()
			}
		}()
	}))
	t.Cleanup(s.Close)
	return s
}

func TestBFSay(t *testing.T) {
	bot := echoBot(t, true)
	r := olctl(t, "bf", "say", "--via", "", "--no-auth", "--webhook", bot.URL, "--conversation", "c-7", "--wait", "10s", "where", "is", "my", "order?").
		wantCode(t, 0)
	var a bfActivityJSON
	if err := json.Unmarshal([]byte(r.out), &a); err != nil {
		t.Fatalf("stdout %q: %v", r.out, err)
	}
	if a.Text != "echo: where is my order?" || a.ConversationID != "c-7" || a.Status/100 != 2 {
		t.Fatalf("reply %+v", a)
	}
	if !strings.Contains(r.err, "sent activity ") {
		t.Fatalf("stderr %q", r.err)
	}

	silent := echoBot(t, false)
	r = olctl(t, "bf", "say", "--via", "", "--no-auth", "--webhook", silent.URL, "--wait", "200ms", "hi").wantCode(t, ExitFailed)
	if !strings.Contains(r.err, "no reply within 200ms") {
		t.Fatalf("stderr %q", r.err)
	}
	olctl(t, "bf", "say", "--via", "", "--no-auth", "--webhook", silent.URL, "--replies", "0", "hi").wantCode(t, 0)
}

func TestBFErrors(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad token", http.StatusUnauthorized)
	}))
	defer refusing.Close()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no webhook", []string{"bf", "say", "hi"}, ExitUsage, "missing --webhook"},
		{"bad webhook", []string{"bf", "say", "--webhook", "ftp://x", "hi"}, ExitUsage, "not an http(s) URL"},
		{"no text", []string{"bf", "say", "--webhook", refusing.URL}, ExitUsage, "olctl bf say needs TEXT"},
		{"bad wait", []string{"bf", "say", "--webhook", refusing.URL, "--wait", "0s", "hi"}, ExitUsage, "--wait"},
		{"webhook refuses", []string{"bf", "say", "--via", "", "--webhook", refusing.URL, "hi"}, ExitFailed, "401"},
		{"webhook unreachable", []string{"bf", "say", "--via", "", "--webhook", closedURL(t), "hi"}, ExitNetwork, "connection refused"},
		{"no bf serve", []string{"bf", "say", "--via", closedURL(t), "--webhook", refusing.URL, "hi"}, ExitNetwork, "no 'olctl bf serve' at --via"},
		{"bad replies", []string{"bf", "say", "--webhook", refusing.URL, "--replies", "-1", "hi"}, ExitUsage, "--replies"},
		{"bf without subcommand", []string{"bf"}, ExitUsage, "needs a subcommand: say, serve"},
		{"serve bad listen", []string{"bf", "serve", "--listen", "127.0.0.1:99999"}, ExitUsage, "listen"},
		{"serve bad control", []string{"bf", "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:99999"}, ExitUsage, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := olctl(t, tt.args...).wantCode(t, tt.code)
			if !strings.Contains(r.err, tt.want) {
				t.Fatalf("stderr %q lacks %q", r.err, tt.want)
			}
		})
	}
}

var bfControlRE = regexp.MustCompile(`control \(bf say\): (http://\S+)`)

// TestBFSayVia sends through a running bf serve: the bot's reply goes to the serve's Connector API, which
// prints it and streams it back to say.
func TestBFSayVia(t *testing.T) {
	serve, _ := startBackground(t, nil, bfControlRE, "bf", "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--no-auth")
	via := bfControlRE.FindStringSubmatch(serve.err.String())[1]
	bot := echoBot(t, true)
	r := olctl(t, "bf", "say", "--via", via, "--webhook", bot.URL, "--conversation", "v-1", "ping").wantCode(t, 0)
	var a bfActivityJSON
	if err := json.Unmarshal([]byte(r.out), &a); err != nil {
		t.Fatalf("stdout %q: %v", r.out, err)
	}
	if a.Text != "echo: ping" || a.ConversationID != "v-1" {
		t.Fatalf("reply %+v", a)
	}
	lines := waitLines(t, serve.out.String, 1)
	if !strings.Contains(lines[0], `"text":"echo: ping"`) {
		t.Fatalf("bf serve printed %q", lines[0])
	}

	silent := echoBot(t, false)
	r = olctl(t, "bf", "say", "--via", via, "--webhook", silent.URL, "--wait", "300ms", "hi").wantCode(t, ExitFailed)
	if !strings.Contains(r.err, "no reply within 300ms") {
		t.Fatalf("stderr %q", r.err)
	}
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad token", http.StatusUnauthorized)
	}))
	defer refusing.Close()
	r = olctl(t, "bf", "say", "--via", via, "--webhook", refusing.URL, "hi").wantCode(t, ExitFailed)
	if !strings.Contains(r.err, "401") {
		t.Fatalf("stderr %q", r.err)
	}
}

func TestNewCmdBFServeParsing(t *testing.T) {
	var got *BFServeOptions
	err := parse(NewCmdBFServe(testFactory(nil), func(o *BFServeOptions) error { got = o; return nil }),
		"--listen", ":1", "--control", ":2", "--no-auth", "--app-id", "a", "--app-secret", "s", "--channel", "skype")
	want := BFServiceOptions{Listen: ":1", NoAuth: true, AppIDs: []string{"a"}, AppSecrets: []string{"s"}, ChannelID: "skype"}
	if err != nil || got == nil || !reflect.DeepEqual(got.Service, want) || got.Control != ":2" || got.Clock == nil {
		t.Fatalf("err %v, options %+v", err, got)
	}
	got = nil
	err = parse(NewCmdBFServe(testFactory(nil), func(o *BFServeOptions) error { got = o; return nil }))
	want = BFServiceOptions{Listen: "127.0.0.1:3978", AppIDs: []string{bftest.DefaultAppID}, AppSecrets: []string{bftest.DefaultAppSecret},
		ChannelID: bftest.DefaultChannelID}
	if err != nil || got == nil || !reflect.DeepEqual(got.Service, want) || got.Control != "127.0.0.1:3979" {
		t.Fatalf("defaults: err %v, options %+v", err, got)
	}
	got = nil
	err = parse(NewCmdBFServe(testFactory(nil), func(o *BFServeOptions) error { got = o; return nil }),
		"--app-id", "a", "--app-id", "b", "--app-secret", "s1", "--app-secret", "s2")
	if err != nil || got == nil || !reflect.DeepEqual(got.Service.AppIDs, []string{"a", "b"}) ||
		!reflect.DeepEqual(got.Service.AppSecrets, []string{"s1", "s2"}) {
		t.Fatalf("two bots: err %v, options %+v", err, got)
	}
}

func TestBFServiceBots(t *testing.T) {
	tests := []struct {
		ids, secrets []string
		want         [][2]string
		err          string
	}{
		{[]string{"a"}, []string{"s"}, [][2]string{{"a", "s"}}, ""},
		{[]string{"a", "b"}, []string{"s"}, [][2]string{{"a", "s"}, {"b", "s"}}, ""},
		{[]string{"a", "b"}, []string{"s1", "s2"}, [][2]string{{"a", "s1"}, {"b", "s2"}}, ""},
		{[]string{"a", "b", "c"}, []string{"s1", "s2"}, nil, "--app-secret: give one for every bot, or one for each of the 3 --app-id"},
		{[]string{"a", "a"}, []string{"s"}, nil, `--app-id "a": app ids must be non-empty and distinct`},
		{nil, []string{"s"}, nil, "--app-id: give at least one"},
	}
	for _, tt := range tests {
		got, err := (&BFServiceOptions{AppIDs: tt.ids, AppSecrets: tt.secrets}).bots()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || ExitCode(err) != ExitUsage {
				t.Errorf("%v/%v: err %v, want %q", tt.ids, tt.secrets, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v/%v: %v, %v; want %v", tt.ids, tt.secrets, got, err, tt.want)
		}
	}
}

func TestNewCmdBFSayParsing(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(o *BFSayOptions) bool
		err  string
	}{
		{name: "defaults", args: []string{"--webhook", "http://h/w", "hello", "there"}, want: func(o *BFSayOptions) bool {
			return o.Via == "http://127.0.0.1:3979" && o.Webhook == "http://h/w" && o.Conversation == "olctl-conversation" &&
				o.User == "olctl-customer" && o.Wait == 10*time.Second && o.Replies == 1 &&
				strings.Join(o.Text, "|") == "hello|there" && o.Service.Listen == "127.0.0.1:0"
		}},
		{name: "own fake", args: []string{"--via", "", "--no-auth", "--webhook", "https://h/w", "--conversation", "c", "--user", "u",
			"--wait", "2s", "--replies", "0", "hi"}, want: func(o *BFSayOptions) bool {
			return o.Via == "" && o.Service.NoAuth && o.Conversation == "c" && o.User == "u" && o.Wait == 2*time.Second && o.Replies == 0
		}},
		{name: "no webhook", args: []string{"hi"}, err: "missing --webhook"},
		{name: "bad webhook", args: []string{"--webhook", "ftp://x", "hi"}, err: "not an http(s) URL"},
		{name: "bad wait", args: []string{"--webhook", "http://h", "--wait", "0s", "hi"}, err: "--wait 0s: want a positive duration"},
		{name: "bad replies", args: []string{"--webhook", "http://h", "--replies", "-1", "hi"}, err: "--replies -1: want 0 (do not wait) or more"},
		{name: "wait past bf serve's", args: []string{"--webhook", "http://h", "--wait", "11m", "hi"}, err: "waits at most 10m0s"},
		{name: "a long wait of its own", args: []string{"--via", "", "--webhook", "http://h", "--wait", "11m", "hi"},
			want: func(o *BFSayOptions) bool { return o.Wait == 11*time.Minute && o.Trace == nil }},
		{name: "no text", args: []string{"--webhook", "http://h"}, err: "say needs TEXT"},
		{name: "via not a URL", args: []string{"--via", "nope", "--webhook", "http://h", "hi"}, err: `--via "nope" is not an http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *BFSayOptions
			err := parse(NewCmdBFSay(testFactory(nil), func(o *BFSayOptions) error { got = o; return nil }), tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil || got.HTTPClient == nil || !tt.want(got) {
				t.Fatalf("err %v, options %+v", err, got)
			}
		})
	}
}
