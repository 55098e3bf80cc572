package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestConnectSave(t *testing.T) {
	fs := connectServer(t, md5Creds())
	bf := []string{"--yes", "--bot-handle", "b", "--app-id", "a", "--app-secret", "s"}
	home := t.TempDir()
	path := filepath.Join(home, ".config", "olctl", "config.yaml")
	writeAt(t, path, "# the test portal\nline: \"3\" # the bot's line\nserver: http://old.example.com\n")
	env := fs.env("HOME", home)

	r := run(t, runOpts{env: env}, append([]string{"connect", "--save"}, bf...)...).wantCode(t, 0)
	if !strings.Contains(r.out, "✓ saved the server, domain and licence key to "+path+"\n") {
		t.Fatalf("stdout %q", r.out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# the test portal\nline: \"3\" # the bot's line\nserver: " + fs.URL + "\ndomain: " + testDomain + "\nlicence_key: " + testLicenceKey + "\n"
	if string(b) != want {
		t.Fatalf("config file\n%s\nwant\n%s", b, want)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v, want 0600", st.Mode(), err)
	}
	// The next command needs no flag nor variable for them.
	var view configViewJSON
	run(t, runOpts{env: map[string]string{"HOME": home}}, "config", "view", "--json").wantCode(t, 0).decodeJSON(t, &view)
	for _, v := range view.Values {
		if (v.Key == KeyServer || v.Key == KeyDomain || v.Key == KeyLicenceKey) && v.Source != SourceFile {
			t.Errorf("%s comes from %s, want the file", v.Key, v.Source)
		}
	}

	// hmac-sha256: the signing and the secret are saved too; JSON names the file.
	hm := connectServer(t, hmacCreds())
	home = t.TempDir()
	var rep connectReport
	run(t, runOpts{env: hm.env("HOME", home)}, append([]string{"connect", "--save", "--json"}, bf...)...).wantCode(t, 0).decodeJSON(t, &rep)
	path = filepath.Join(home, ".config", "olctl", "config.yaml")
	b, _ = os.ReadFile(path)
	if rep.SavedTo != path || !strings.Contains(string(b), "signing: hmac-sha256\nsecret: hmac-secret-one-0001\n") {
		t.Fatalf("saved to %q:\n%s", rep.SavedTo, b)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v %v, want 0700", st.Mode(), err)
	}

	// A connection that fails saves nothing; a config file that is not YAML is refused.
	home = t.TempDir()
	run(t, runOpts{env: fs.env("HOME", home, "OLCTL_LICENCE_KEY", "wrong-key-0000000000")}, append([]string{"connect", "--save"}, bf...)...).
		wantCode(t, ExitAuth)
	if _, err := os.Stat(filepath.Join(home, ".config", "olctl", "config.yaml")); !os.IsNotExist(err) {
		t.Fatalf("a failed connection wrote the config file: %v", err)
	}
	jsonCfg := writeFile(t, "olctl.json", "{}")
	r = run(t, runOpts{env: fs.env("OLCTL_CONFIG", jsonCfg)}, append([]string{"connect", "--save"}, bf...)...).wantCode(t, ExitFailed)
	if !strings.Contains(r.err, "is not a YAML file: --save writes YAML") {
		t.Fatalf("stderr %q", r.err)
	}
}

// TestConnectWizardOffersWhatRuns: on a terminal, the wizard offers as defaults the connector server and
// the portal receiver that answer at its hints' addresses, and the first bot of a running bf serve, whose
// secret Enter takes without showing it.
func TestConnectWizardOffersWhatRuns(t *testing.T) {
	fs := connectServer(t, md5Creds())
	target, _ := url.Parse(fs.URL)
	server := httptest.NewServer(healthz(httputil.NewSingleHostReverseProxy(target))) // a connector server with /healthz
	t.Cleanup(server.Close)
	receiver := httptest.NewServer(healthz(http.NotFoundHandler()))
	t.Cleanup(receiver.Close)
	bfBG, _ := startBackground(t, nil, bfControlRE, "bf", "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0",
		"--app-id", "fake-app-1", "--app-id", "fake-app-2", "--app-secret", "fake-secret-1", "--app-secret", "fake-secret-2")
	control := bfControlRE.FindStringSubmatch(bfBG.err.String())[1]

	var out, errOut bytes.Buffer
	// Answers: server (Enter), domain (Enter), licence key, connector (Enter), line, bot handle, app id (Enter),
	// app secret (Enter), confirmation (Enter).
	stdin := "\n\n" + testLicenceKey + "\n\n5\nwizard-bot\n\n\n\n"
	f := testFactory(map[string]string{envPortalDB: filepath.Join(t.TempDir(), "portal.db")})
	f.IO = IO{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut, InTTY: true}
	cmd := NewCmdConnect(f, func(o *ConnectOptions) error {
		o.Hints = WizardHints{Server: server.URL, Receiver: receiver.URL, BFControl: control}
		return connectRun(o)
	})
	if err := parse(cmd); err != nil {
		t.Fatalf("connect: %v\n%s", err, errOut.String())
	}
	for _, w := range []string{"? Connector server URL [" + server.URL + "]: ", "? This portal's URL (BX_DOMAIN) [" + receiver.URL + "]: ",
		"? Microsoft App ID [fake-app-1]: ", "? Microsoft App password (secret) (input hidden; Enter for the fake's): "} {
		if !strings.Contains(errOut.String(), w) {
			t.Errorf("prompts lack %q:\n%s", w, errOut.String())
		}
	}
	if strings.Contains(errOut.String()+out.String(), "fake-secret-1") {
		t.Fatal("the fake's secret was shown")
	}
	calls := fs.received()
	if len(calls) != 3 || calls[0].Line != "5" || calls[0].Fields.Get("BX_DOMAIN") != receiver.URL ||
		describeValue(calls[0].Args[0]) != "{bot_handle=wizard-bot app_id=fake-app-1 app_secret=fake-secret-1}" {
		t.Fatalf("calls %+v", calls)
	}

	// Nothing runs at the hints: no defaults, the questions as before.
	none := WizardHints{Server: closedURL(t), Receiver: closedURL(t), BFControl: closedURL(t)}
	if got := none.probe(t.Context(), http.DefaultClient); got != (offered{}) {
		t.Fatalf("offered %+v", got)
	}
}

// healthz answers /healthz 200, the rest with h.
func healthz(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TestWizardHintsInjected: the wizard looks for running servers where Factory.WizardHints says (by default
// the servers' default addresses, nothing with OLCTL_CONNECT_PROBE=0), and nowhere in the tests' runs, so
// that what runs on the machine (a bf serve left running) changes nothing they see.
func TestWizardHintsInjected(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want WizardHints
		err  string
	}{
		{nil, defaultWizardHints(), ""},
		{map[string]string{envConnectProbe: "1"}, defaultWizardHints(), ""},
		{map[string]string{envConnectProbe: "0"}, WizardHints{}, ""},
		{map[string]string{envConnectProbe: "false"}, WizardHints{}, ""},
		{map[string]string{envConnectProbe: "maybe"}, WizardHints{}, `OLCTL_CONNECT_PROBE="maybe": want 1 or 0`},
	} {
		got, err := testFactory(tc.env).WizardHints()
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: hints %+v, err %v; want %+v, %q", tc.env, got, err, tc.want, tc.err)
		}
	}
	// The default of a run (run() sets none) reads the variable.
	byEnv := func(f *Factory) { f.WizardHints = nil }
	r := run(t, runOpts{env: map[string]string{envConnectProbe: "maybe"}, mutate: byEnv}, "connect").wantCode(t, ExitUsage)
	if !strings.Contains(r.err, "OLCTL_CONNECT_PROBE") {
		t.Errorf("stderr %q", r.err)
	}

	// A run looks where its Factory says, and only there.
	var asked atomic.Int32
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		asked.Add(1)
		_, _ = io.WriteString(w, `[{"app_id":"hinted-app","app_secret":"hinted-secret"}]`)
	}))
	defer control.Close()
	fs := connectServer(t, md5Creds())
	stdin := testLicenceKey + "\n\n5\nhint-bot\n\n\n\n" // licence key, connector, line, handle, app id, secret, confirmation
	hinted := func(f *Factory) {
		f.WizardHints = func() (WizardHints, error) { return WizardHints{BFControl: control.URL}, nil }
	}
	r = run(t, runOpts{env: fs.env("OLCTL_DOMAIN", testDomain), stdin: stdin, inTTY: true, mutate: hinted}, "connect").wantCode(t, 0)
	if asked.Load() != 1 || !strings.Contains(r.err, "? Microsoft App ID [hinted-app]: ") {
		t.Fatalf("asked %d times; prompts:\n%s", asked.Load(), r.err)
	}
	// Without hints (every test's run), the same questions have no defaults.
	r = run(t, runOpts{env: fs.env("OLCTL_DOMAIN", testDomain), stdin: testLicenceKey + "\n\n5\nhint-bot\napp-x\nsecret-x\n\n",
		inTTY: true}, "connect").wantCode(t, 0)
	if !strings.Contains(r.err, "? Microsoft App ID: ") || asked.Load() != 1 {
		t.Fatalf("prompts without hints:\n%s", r.err)
	}
}
