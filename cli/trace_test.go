package cli

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
)

// traceBlock is one packet of a trace: its head line and its indented lines.
type traceBlock struct {
	head  string
	lines []string
}

// traceBlocks cuts the packets out of a stream (a server's stderr also holds its log lines).
func traceBlocks(s string) []traceBlock {
	var out []traceBlock
	for _, l := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(l, "<-- ") || strings.HasPrefix(l, "--> "):
			out = append(out, traceBlock{head: l})
		case strings.HasPrefix(l, "    ") && len(out) > 0:
			out[len(out)-1].lines = append(out[len(out)-1].lines, l)
		}
	}
	return out
}

var (
	traceTimeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`)
	traceMSRE   = regexp.MustCompile(`\b\d+\.\dms\b`)
	traceIDRE   = regexp.MustCompile(` #\d+ `)
	traceHashRE = regexp.MustCompile(`\bh=[0-9a-f]{32}\b`)
	traceDateRE = regexp.MustCompile(`("id":\["echo-1"\],"date":)\d+`) // the delivery's time
	// The values that change with each run: the hmac fields (the time, a random nonce, the hash over them)
	// and DATA, whose items carry the time; DATA is shown decoded on its data line.
	traceVaryRE = regexp.MustCompile(`^(    (?:BX_TIMESTAMP|BX_NONCE|BX_HASH|DATA)\s+)\S+$`)
)

// normalTrace writes the blocks of a stream in the order they started (a packet received starts before
// the packets its handling sends, and before those it causes later, so that the order is the exchange's
// whatever order they ended in), with the values that change from run to run replaced by placeholders.
func normalTrace(s string, names map[string]string) string {
	blocks := traceBlocks(s)
	sort.SliceStable(blocks, func(i, j int) bool {
		ti, tj := traceTimeRE.FindString(blocks[i].head), traceTimeRE.FindString(blocks[j].head)
		if ti != tj {
			return ti < tj
		}
		return strings.HasPrefix(blocks[i].head, "<--") && strings.HasPrefix(blocks[j].head, "-->")
	})
	var b strings.Builder
	for _, bl := range blocks {
		for _, l := range append([]string{bl.head}, bl.lines...) {
			for from, to := range names {
				l = strings.ReplaceAll(l, from, to)
			}
			l = traceTimeRE.ReplaceAllString(l, "TIME")
			l = traceMSRE.ReplaceAllString(l, "N.Nms")
			l = traceIDRE.ReplaceAllString(l, " #n ")
			l = traceHashRE.ReplaceAllString(l, "h=LINE_HASH")
			l = traceDateRE.ReplaceAllString(l, "${1}UNIX_TIME")
			l = traceVaryRE.ReplaceAllString(l, "${1}(varies)")
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// TestTraceGolden traces a whole exchange from the three sides, with hmac-sha256 signing: the connect flow
// (saveSettings, testConnect with the server's call back to the portal, register), a customer message
// through the echo webhook to the portal, and an operator reply whose delivery comes back. Nothing secret
// is shown anywhere: not the licence key, md5's shared secret, the hmac secret, the app secret or the
// channel's token.
func TestTraceGolden(t *testing.T) {
	const appSecret, token = "app-secret-value-9876", "echo-token-value-5432"
	creds := hmacCreds()
	dir := t.TempDir()
	base := map[string]string{"OLCTL_LICENCE_KEY": creds.LicenceKey, "OLCTL_SIGNING": "hmac-sha256",
		"OLCTL_SECRET": creds.Secrets[0], "OLCTL_PORTAL_DB": filepath.Join(dir, "portal.db")}
	conn, cm := startBackground(t, base, listeningRE, "connector", "serve", "--trace", "--listen", "127.0.0.1:0",
		"--db", filepath.Join(dir, "connector.db"), "--log-level", "error")
	penv := map[string]string{"OLCTL_SERVER": cm[1], "OLCTL_TRACE": "1"}
	for k, v := range base {
		penv[k] = v
	}
	portalBG, pm := startBackground(t, penv, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir,
		"--log-level", "error")
	env := map[string]string{"OLCTL_DOMAIN": pm[1], "OLCTL_CONNECTOR": "echo", "OLCTL_LINE": "1"}
	for k, v := range penv {
		env[k] = v
	}

	var rep connectReport
	connect := run(t, runOpts{env: env}, "connect", "--json", "--set", "entity=e1", "--set", "app_secret="+appSecret,
		"--set", "token="+token).wantCode(t, 0)
	connect.decodeJSON(t, &rep)
	resp, err := http.Post(rep.WebhookURL, "application/json", strings.NewReader(
		`{"user":{"id":"u1","name":"Ann"},"message":{"id":"m1","text":"hello","date":1700000000},"chat":{"id":"c1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitEvent(t, portalBG.out.String, "message", func(ev eventJSON) bool { return ev.Event == EvReceivedMessage })
	send := run(t, runOpts{env: env}, "send", "--chat", "c1", "--message-id", "op-1", "Hi Ann").wantCode(t, 0)
	waitEvent(t, portalBG.out.String, "delivery", func(ev eventJSON) bool { return ev.Event == EvReceivedStatusDelivery })
	// The last packets are written once their answers are in: wait for the delivery's on both servers.
	waitFor(t, func() bool {
		return strings.Contains(conn.err.String(), " receivingStatusDelivery connector=") && strings.Count(portalBG.err.String(), "<-- in") == 3
	}, func() string { return conn.err.String() + "\n-----\n" + portalBG.err.String() })

	names := map[string]string{cm[1]: "http://SERVER", pm[1]: "http://PORTAL"}
	var b strings.Builder
	for _, part := range []struct{ name, out string }{
		{"olctl connect (stderr)", connect.err}, {"olctl send (stderr)", send.err},
		{"olctl connector serve --trace (stderr)", conn.err.String()}, {"OLCTL_TRACE=1 olctl serve (stderr)", portalBG.err.String()},
	} {
		b.WriteString("== " + part.name + "\n" + normalTrace(part.out, names))
	}
	got := b.String()
	sum := md5.Sum([]byte(creds.LicenceKey))
	secrets := []string{creds.LicenceKey, hex.EncodeToString(sum[:]), creds.Secrets[0], appSecret, token}
	all := connect.err + send.err + conn.err.String() + portalBG.err.String()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("a trace shows the secret %q", s)
		}
	}
	// DATA is shown encoded too: the masked one, encoded again.
	for _, m := range regexp.MustCompile(`\n    DATA\s+(\S+)`).FindAllStringSubmatch(all, -1) {
		raw, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatalf("DATA %q: %v", m[1], err)
		}
		for _, s := range secrets {
			if strings.Contains(string(raw), s) {
				t.Errorf("DATA %s holds the secret %q", raw, s)
			}
		}
	}
	golden(t, "trace-exchange", got)
}

// waitFor polls cond for up to 20 s; state tells what there was when it did not hold.
func waitFor(t *testing.T, cond func() bool, state func() string) {
	t.Helper()
	held := false
	defer func() { // eventually.True ends the test's goroutine on a time-out; this runs then
		if !held {
			t.Logf("at the time-out:\n%s", state())
		}
	}()
	eventually.True(t, 20*time.Second, "the condition", cond)
	held = true
}

// TestLogLevelDebugOneLinePerRequest: `connector serve --log-level debug` logs each portal call in one
// line, with its site, method, connector, line and code, whether it succeeded or was refused.
func TestLogLevelDebugOneLinePerRequest(t *testing.T) {
	srv, cm := startBackground(t, map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey}, listeningRE, "connector", "serve",
		"--listen", "127.0.0.1:0", "--log-level", "debug")
	env := map[string]string{"OLCTL_SERVER": cm[1], "OLCTL_LICENCE_KEY": testLicenceKey, "OLCTL_DOMAIN": "http://127.0.0.1:9",
		"OLCTL_CONNECTOR": "echo", "OLCTL_LINE": "4"}
	run(t, runOpts{env: env}, "listConnector").wantCode(t, 0)
	run(t, runOpts{env: env}, "infoConnect").wantCode(t, 1) // not set up: NOT_ACTIVE_LINE
	waitFor(t, func() bool { return strings.Count(srv.err.String(), `msg="connector: portal call`) == 2 }, srv.err.String)
	var lines []string
	for _, l := range strings.Split(srv.err.String(), "\n") {
		if strings.Contains(l, `msg="connector: portal call`) {
			lines = append(lines, regexp.MustCompile(`^time=\S+ | took=\S+`).ReplaceAllString(l, ""))
		}
	}
	want := []string{
		`level=DEBUG msg="connector: portal call" site=http://127.0.0.1:9 command=listConnector connector=all line="" code=OK`,
		`level=INFO msg="connector: portal call refused" site=http://127.0.0.1:9 command=infoConnect connector=echo line=4 code=NOT_ACTIVE_LINE`,
	}
	if len(lines) != 2 || lines[0] != want[0] || !strings.HasPrefix(lines[1], want[1]+" err=") {
		t.Fatalf("log lines\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestTraceSwitch: --trace and OLCTL_TRACE=1 turn the trace on (the flag wins over the variable), and leave
// stdout as it is; a value of OLCTL_TRACE that is not a boolean is exit 2.
func TestTraceSwitch(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	plain := run(t, runOpts{env: fs.env()}, "listConnector").wantCode(t, 0)
	for _, tc := range []struct {
		name  string
		env   []string
		args  []string
		trace bool
	}{
		{"--trace", nil, []string{"--trace"}, true},
		{"OLCTL_TRACE=1", []string{"OLCTL_TRACE", "1"}, nil, true},
		{"OLCTL_TRACE=true", []string{"OLCTL_TRACE", "true"}, nil, true},
		{"OLCTL_TRACE=0", []string{"OLCTL_TRACE", "0"}, nil, false},
		{"--trace=false wins", []string{"OLCTL_TRACE", "1"}, []string{"--trace=false"}, false},
		{"off", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, runOpts{env: fs.env(tc.env...)}, append(tc.args, "listConnector")...).wantCode(t, 0)
			if r.out != plain.out {
				t.Fatalf("stdout changed:\n%s", r.out)
			}
			blocks := traceBlocks(r.err)
			if !tc.trace {
				if r.err != "" {
					t.Fatalf("stderr %q", r.err)
				}
				return
			}
			if len(blocks) != 1 || !strings.HasPrefix(blocks[0].head, "--> out #1 ") ||
				!strings.HasSuffix(traceMSRE.ReplaceAllString(blocks[0].head, "N"), " listConnector connector=all line=- signed OK N") {
				t.Fatalf("trace:\n%s", r.err)
			}
		})
	}
	r := run(t, runOpts{env: fs.env("OLCTL_TRACE", "maybe")}, "listConnector").wantCode(t, ExitUsage)
	if !strings.Contains(r.err, `OLCTL_TRACE="maybe": want 1 or 0`) {
		t.Fatalf("stderr %q", r.err)
	}
}

// TestDemoTrace: demo --trace traces both of its servers: each packet once as sent and once as received,
// the app secret masked; stdout is the demo's as without it.
func TestDemoTrace(t *testing.T) {
	r := olctl(t, "demo", "--trace").wantCode(t, 0)
	blocks := traceBlocks(r.err)
	count := map[string]int{}
	for _, b := range blocks {
		f := strings.Fields(b.head) // arrow, direction, id, time, command
		count[f[1]+" "+f[4]]++
	}
	for _, cmd := range []string{"saveSettings", "testConnect", "register", "receivingMessage", "sendMessage", "receivingStatusDelivery"} {
		if count["out "+cmd] == 0 || count["out "+cmd] != count["in "+cmd] {
			t.Errorf("%s: sent %d, received %d", cmd, count["out "+cmd], count["in "+cmd])
		}
	}
	if !strings.Contains(r.err, `"app_secret":"********"`) || strings.Contains(r.out, "--> out") {
		t.Fatalf("stderr:\n%s\nstdout:\n%s", r.err, r.out)
	}
}
