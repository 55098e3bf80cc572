package cli

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/syncbuf"
)

var (
	// The values of a Bot Framework exchange that change from run to run: activity ids (random hex, or the
	// connector's own), the activities' timestamps, the token's expiry.
	bfTraceIDRE  = regexp.MustCompile(`\b[0-9a-f]{24}\b`)
	bfTraceTSRE  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	bfTraceExpRE = regexp.MustCompile(`("expires_in":|"ext_expires_in":)\d+`)
)

// TestBFServeTraceGolden: `bf serve --trace` traces a whole exchange on stderr with authentication on: the
// customer's activity posted to the line's webhook, the token request of the connector server, the
// operator's reply; the app secret and the tokens are never shown. stdout is the activities' JSON lines as
// without --trace.
func TestBFServeTraceGolden(t *testing.T) {
	const appID, appSecret = "trace-app-id", "trace-app-secret-p+w/d=1&x"
	dir := t.TempDir()
	bf, _ := startBackground(t, nil, bfControlRE, "bf", "serve", "--trace", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0",
		"--app-id", appID, "--app-secret", appSecret)
	bfURL := bfReadyRE.FindStringSubmatch(bf.err.String())[1]
	via := bfControlRE.FindStringSubmatch(bf.err.String())[1]
	_, cm := startBackground(t, map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey}, listeningRE, "connector", "serve",
		"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "connector.db"), "--bf-fake", bfURL, "--log-level", "error")
	env := map[string]string{"OLCTL_SERVER": cm[1], "OLCTL_LICENCE_KEY": testLicenceKey}
	portalBG, pm := startBackground(t, env, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir,
		"--log-level", "error")
	env["OLCTL_DOMAIN"], env["OLCTL_LINE"] = pm[1], "4"
	var rep connectReport
	run(t, runOpts{env: env}, "connect", "--json", "--connector", "botframework", "--bot-handle", "trace-bot",
		"--app-id", appID, "--app-secret", appSecret, "--db", filepath.Join(dir, "portal.db")).wantCode(t, 0).decodeJSON(t, &rep)

	say := make(chan result, 1)
	go func() {
		say <- run(t, runOpts{}, "bf", "say", "--via", via, "--webhook", rep.WebhookURL, "--conversation", "conv-trace",
			"--wait", "30s", "hello")
	}()
	ev := waitEvent(t, portalBG.out.String, "message", func(ev eventJSON) bool { return ev.Event == EvReceivedMessage })
	run(t, runOpts{env: env}, "send", "--connector", ev.Connector, "--chat", "conv-trace", "--message-id", "op-1",
		"--db", filepath.Join(dir, "portal.db"), "Hi there").wantCode(t, 0)
	select {
	case r := <-say:
		r.wantCode(t, 0)
	case <-time.After(40 * time.Second):
		t.Fatal("bf say did not return")
	}
	// The reply is traced once its answer is written, a moment after bf say read it.
	waitFor(t, func() bool { return strings.Count(bf.err.String(), "<-- in") >= 2 }, bf.err.String)
	if code := bf.stop(t); code != 0 {
		t.Fatalf("bf serve exited %d", code)
	}

	// The banner names the fake's own credentials, for connect; the trace never shows them.
	var trace strings.Builder
	for _, b := range traceBlocks(bf.err.String()) {
		trace.WriteString(b.head + "\n" + strings.Join(b.lines, "\n") + "\n")
	}
	all := trace.String()
	for _, s := range []string{appSecret, "trace-app-secret-p%2Bw%2Fd%3D1%26x", "eyJ"} { // eyJ: a JWT's start
		if strings.Contains(all, s) {
			t.Errorf("the trace shows the secret %q:\n%s", s, all)
		}
	}
	if strings.Contains(bf.out.String(), "<--") || strings.Count(bf.out.String(), "\n") != 1 {
		t.Errorf("stdout is not the one activity's JSON line:\n%s", bf.out.String())
	}
	names := map[string]string{bfURL: "http://BF", cm[1]: "http://SERVER", pm[1]: "http://PORTAL"}
	got := normalTrace(all, names)
	got = bfTraceTSRE.ReplaceAllString(got, "TIME")
	got = bfTraceIDRE.ReplaceAllString(got, "ID")
	got = bfTraceExpRE.ReplaceAllString(got, "${1}N")
	golden(t, "bf-serve-trace", got)
	if !strings.Contains(got, `"access_token":"********"`) || !strings.Contains(got, "client_secret=********") {
		t.Errorf("the token request and answer are not traced masked:\n%s", got)
	}
}

// TestBFTraceMethods: the trace of the fake shows every call made to it with its method, an update (PUT)
// and a delete (DELETE) of an activity as well as a send (POST), and leaves the reads out (GET: the
// OpenID metadata and keys).
func TestBFTraceMethods(t *testing.T) {
	var trace syncbuf.Buffer
	o := BFServiceOptions{Listen: "127.0.0.1:0", NoAuth: true, AppIDs: []string{"m-app"}, AppSecrets: []string{"m-secret"}}
	s, err := o.start(clock.System(), &trace)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conv := s.URL() + "/v3/conversations/c-m/activities"
	for _, req := range []struct{ method, url, body string }{
		{http.MethodPost, conv, `{"type":"message","text":"first"}`},
		{http.MethodPut, conv + "/c-m%7C0000001", `{"type":"message","text":"changed"}`},
		{http.MethodDelete, conv + "/c-m%7C0000001", ""},
		{http.MethodGet, s.OpenIDMetadataURL(), ""},
	} {
		r, err := http.NewRequest(req.method, req.url, strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	waitFor(t, func() bool { return len(traceBlocks(trace.String())) == 3 }, trace.String)
	var urls []string
	for _, b := range traceBlocks(trace.String()) {
		urls = append(urls, strings.Fields(b.lines[0])[1]) // url  METHOD URL
	}
	if got := strings.Join(urls, " "); got != "POST PUT DELETE" {
		t.Fatalf("methods traced %q:\n%s", got, trace.String())
	}
	if strings.Contains(trace.String(), "openid") || !strings.Contains(trace.String(), `"text":"changed"`) {
		t.Fatalf("trace:\n%s", trace.String())
	}
}
