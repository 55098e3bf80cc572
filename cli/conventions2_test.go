package cli

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
)

func TestConfigFileUnknownKeysAndWhereItIs(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, ".config", "olctl", "config.yaml")
	writeAt(t, path, "server: https://connector.example.com\nlicence: abc\nlicense_key: def\ncolour: blue\n")
	r := run(t, runOpts{env: map[string]string{"HOME": home}}, "config", "view").wantCode(t, 0)
	golden(t, "config-view-unknown-keys", strings.ReplaceAll(r.err, home, "HOME")+"--- stdout\n"+strings.ReplaceAll(r.out, home, "HOME"))
	var doc configViewJSON
	run(t, runOpts{env: map[string]string{"HOME": home}}, "config", "view", "--json").wantCode(t, 0).decodeJSON(t, &doc)
	if doc.File != path || doc.Searched != path || strings.Join(doc.UnknownKeys, ",") != "colour,licence,license_key" {
		t.Fatalf("config view JSON: file %q searched %q unknown %v", doc.File, doc.Searched, doc.UnknownKeys)
	}

	// No file at the default path: config view names where it looked.
	empty := t.TempDir()
	r = run(t, runOpts{env: map[string]string{"HOME": empty}}, "config", "view").wantCode(t, 0)
	if want := "config file: none at " + filepath.Join(empty, ".config", "olctl", "config.yaml") +
		" (values come from flags, the environment and defaults)\n"; r.err != want {
		t.Fatalf("stderr %q, want %q", r.err, want)
	}
	run(t, runOpts{env: map[string]string{"HOME": empty}}, "config", "view", "--json").wantCode(t, 0).decodeJSON(t, &doc)
	if doc.File != "" || doc.Searched != filepath.Join(empty, ".config", "olctl", "config.yaml") || len(doc.UnknownKeys) != 0 {
		t.Fatalf("config view JSON without a file: %+v", doc)
	}
}

func TestNearestKey(t *testing.T) {
	for in, want := range map[string]string{"licence": "licence_key", "license_key": "licence_key", "licence-key": "licence_key",
		"Server": "server", "secrets": "secret", "colour": "", "retry": "retries"} {
		if got := nearestKey(in); got != want {
			t.Errorf("nearestKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// failingServer answers every request 503 and counts them.
func failingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func TestTimeoutIsTheWholeCallAndRetriesTheAttempts(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		attempts int32 // exactly, or at most with a short timeout
		atMost   bool
		took     time.Duration // the most the call may take
	}{
		{"no retries", []string{"--retries", "0"}, 1, false, 5 * time.Second},
		{"two retries", []string{"--retries", "2"}, 3, false, 5 * time.Second},
		// Five retries wait 0.1+0.2+0.4+0.8+1.6 s at least: the timeout cuts the call short.
		{"the timeout bounds the retries", []string{"--retries", "5", "--timeout", "400ms"}, 4, true, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, n := failingServer(t)
			env := map[string]string{"OLCTL_SERVER": s.URL, "OLCTL_DOMAIN": testDomain, "OLCTL_LICENCE_KEY": testLicenceKey}
			start := time.Now()
			r := run(t, runOpts{env: env}, append([]string{"listConnector"}, tt.args...)...).wantCode(t, ExitNetwork)
			took := time.Since(start)
			if got := n.Load(); got != tt.attempts && !(tt.atMost && got <= tt.attempts && got >= 1) {
				t.Fatalf("%d attempts, want %d (at most: %v); stderr %q", got, tt.attempts, tt.atMost, r.err)
			}
			if took > tt.took {
				t.Fatalf("the call took %v, want at most %v", took, tt.took)
			}
		})
	}
	r := olctl(t, "config", "view", "--retries", "-1").wantCode(t, ExitUsage)
	if !strings.Contains(r.err, `invalid retries (--retries, OLCTL_RETRIES, "retries" in`) {
		t.Fatalf("stderr %q", r.err)
	}
}

func TestDeletesAskOnATerminal(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	for _, m := range []string{"deleteConnector", "deleteLine"} {
		fs.answer(m, func(fakeCall) (any, error) { return map[string]any{"RESULT": "OK"}, nil })
	}
	tests := []struct {
		name   string
		args   []string
		stdin  string
		tty    bool
		code   int
		asked  string
		called bool
	}{
		{"deleteConnector, no", []string{"deleteConnector"}, "n\n", true, ExitFailed,
			"? Delete connector botframework of line 3 on SERVER (its settings and registration)? [y/N]: ", false},
		{"deleteConnector, empty answer is no", []string{"deleteConnector"}, "\n", true, ExitFailed, "? Delete connector", false},
		{"deleteConnector, yes", []string{"deleteConnector"}, "y\n", true, 0, "? Delete connector", true},
		{"deleteLine, yes", []string{"delete-line", "7"}, "yes\n", true, 0, "? Delete every connector of line 7 on SERVER? [y/N]: ", true},
		{"call deleteLine, no", []string{"call", "deleteLine", "7"}, "n\n", true, ExitFailed, "? Delete every connector of line 7", false},
		{"--yes", []string{"deleteLine", "7", "--yes"}, "", true, 0, "", true},
		{"-y", []string{"deleteConnector", "-y"}, "", true, 0, "", true},
		{"not a terminal", []string{"deleteLine", "7"}, "", false, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fs.received())
			r := run(t, runOpts{env: fs.env(), stdin: tt.stdin, inTTY: tt.tty}, tt.args...).wantCode(t, tt.code)
			prompt := strings.ReplaceAll(r.err, fs.URL, "SERVER")
			if tt.asked == "" && strings.Contains(prompt, "?") || !strings.Contains(prompt, tt.asked) {
				t.Fatalf("stderr %q, want the question %q", prompt, tt.asked)
			}
			if called := len(fs.received()) > before; called != tt.called {
				t.Fatalf("called the server: %v, want %v", called, tt.called)
			}
			if !tt.called && !strings.Contains(r.err, "cancelled, nothing deleted") {
				t.Fatalf("stderr %q", r.err)
			}
		})
	}
}

var unreachableRE = regexp.MustCompile(`olctl: warning: --domain is not set and --listen (\S+) binds every address: (\S+) is not a domain`)

func TestServeWarnsOfAnUnreachableDomain(t *testing.T) {
	env := map[string]string{"OLCTL_SERVER": "http://127.0.0.1:1", "OLCTL_LICENCE_KEY": testLicenceKey}
	_, m := startBackground(t, env, unreachableRE, "serve", "--listen", ":0", "--data-dir", t.TempDir(), "--log-level", "error")
	if m[1] != ":0" || !strings.HasPrefix(m[2], "http://[::]:") {
		t.Fatalf("warning %q", m[0])
	}
	// A loopback address or a --domain says nothing.
	env["OLCTL_DOMAIN"] = "http://portal.example.com:8090"
	bg, _ := startBackground(t, env, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "error")
	if strings.Contains(bg.err.String(), "warning") {
		t.Fatalf("stderr %q", bg.err.String())
	}
}

func TestBFSayRepliesZeroDoesNotWait(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hook.Close)
	r := olctl(t, "bf", "say", "--via", "", "--no-auth", "--replies", "0", "--webhook", hook.URL, "hi").wantCode(t, 0)
	if !regexp.MustCompile(`^sent activity \S+ to ` + regexp.QuoteMeta(hook.URL) + ` \(--replies 0: not waiting for replies\)\n$`).MatchString(r.err) {
		t.Fatalf("stderr %q", r.err)
	}
}

// TestBFServeTwoBotsTwoLines connects two lines, each to a bot of its own served by one bf serve, and sends a
// customer message to each: neither line takes the other's bot, so neither is deactivated.
func TestBFServeTwoBotsTwoLines(t *testing.T) {
	dir := t.TempDir()
	portalDB := filepath.Join(dir, defaultPortalDB)
	const second = "5eC0nd00-0000-4000-8000-0000000b0t02"
	bf, _ := startBackground(t, nil, bfControlRE, "bf", "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0",
		"--app-id", bftest.DefaultAppID, "--app-id", second, "--app-secret", bftest.DefaultAppSecret)
	for _, id := range []string{bftest.DefaultAppID, second} {
		if !strings.Contains(bf.err.String(), "app id / secret:  "+id+" / "+bftest.DefaultAppSecret) {
			t.Fatalf("bf serve does not list bot %s:\n%s", id, bf.err.String())
		}
	}
	bfURL := bfReadyRE.FindStringSubmatch(bf.err.String())[1]
	via := bfControlRE.FindStringSubmatch(bf.err.String())[1]
	_, cm := startBackground(t, map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey}, listeningRE, "connector", "serve",
		"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "connector.db"), "--bf-fake", bfURL, "--log-level", "error")
	env := map[string]string{"OLCTL_SERVER": cm[1], "OLCTL_LICENCE_KEY": testLicenceKey}
	portalBG, pm := startBackground(t, env, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--db", portalDB,
		"--data-dir", dir, "--log-level", "error")
	env["OLCTL_DOMAIN"], env[envPortalDB] = pm[1], portalDB

	webhooks := map[string]string{}
	for line, app := range map[string]string{"1": bftest.DefaultAppID, "2": second} {
		var rep connectReport
		run(t, runOpts{env: env}, "connect", "--json", "--connector", "botframework", "--line", line, "--bot-handle", "bot-"+line,
			"--app-id", app, "--app-secret", bftest.DefaultAppSecret).wantCode(t, 0).decodeJSON(t, &rep)
		webhooks[line] = rep.WebhookURL
	}
	for line, app := range map[string]string{"1": "", "2": second} {
		args := []string{"bf", "say", "--via", via, "--webhook", webhooks[line], "--conversation", "conv-" + line, "--replies", "0"}
		if app != "" {
			args = append(args, "--app-id", app)
		}
		run(t, runOpts{}, append(args, "hello")...).wantCode(t, 0)
		ev := waitEvent(t, portalBG.out.String, "message on line "+line, func(ev eventJSON) bool {
			return ev.Event == EvReceivedMessage && ev.ChatID == "conv-"+line
		})
		if ev.Line != line {
			t.Fatalf("event %+v, want line %s", ev, line)
		}
	}
	for _, line := range []string{"1", "2"} {
		if got, _ := lineStatusAt(t, portalDB, "botframework", line); got != connected {
			t.Fatalf("line %s: status %+v, want connected", line, got)
		}
	}
	// A bot this bf serve does not have is refused before anything is sent.
	r := run(t, runOpts{}, "bf", "say", "--via", via, "--webhook", webhooks["1"], "--app-id", "nobody", "--replies", "0", "hi").
		wantCode(t, ExitFailed)
	if !strings.Contains(r.err, `no bot with app id "nobody" here`) {
		t.Fatalf("stderr %q", r.err)
	}
}
