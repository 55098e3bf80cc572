package cli

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/syncbuf"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// setLineStatus writes the status of (connector, line) into the portal database at dsn, as connect does.
func setLineStatus(t *testing.T, dsn, connector, line string, st openlines.LineStatus) {
	t.Helper()
	store, err := openStatusStore(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.SetLineStatus(context.Background(), connector, line, st); err != nil {
		t.Fatal(err)
	}
}

// statuses returns "name=status" for every row of a report.
func statuses(rep checkReport) string {
	var parts []string
	for _, c := range rep.Checks {
		parts = append(parts, c.Name+"="+c.Status)
	}
	return strings.Join(parts, " ")
}

// TestCheckGolden: every check passes, the line's status in the portal database too.
func TestCheckGolden(t *testing.T) {
	fake := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	fs := newFakeServer(t, md5Creds())
	fs.setHeader("Date", fake.Now().Add(2*time.Second).Format(http.TimeFormat))
	host := strings.TrimPrefix(fs.URL, "http://")
	db := filepath.Join(t.TempDir(), "portal.db")
	setLineStatus(t, db, "botframework", "3", openlines.LineStatus{Active: true, Connection: true, Register: true})
	env := fs.env("OLCTL_PORTAL_DB", db)
	for _, tty := range []bool{false, true} {
		if tty {
			env["OLCTL_PORTAL_DB"] = "" // a path wraps where the table fits the terminal: it could not be replaced
		}
		r := run(t, runOpts{env: env, outTTY: tty, mutate: func(f *Factory) { f.Clock = fake }}, "check").wantCode(t, 0)
		out := strings.ReplaceAll(strings.ReplaceAll(r.out, host, "SERVER"), db, "portal.db")
		name := "check-plain"
		if tty {
			name = "check-table"
		}
		golden(t, name, out)
	}
}

func TestCheck(t *testing.T) {
	md5 := newFakeServer(t, md5Creds())
	hmac := newFakeServer(t, hmacCreds())
	failing := newFakeServer(t, md5Creds())
	failing.answer("testConnect", func(fakeCall) (any, error) {
		return nil, wire.Errorf(wire.CodeFailedTestConnector, "portal endpoint did not answer")
	})
	skewed := newFakeServer(t, hmacCreds())
	skewed.setHeader("Date", time.Now().Add(-10*time.Minute).UTC().Format(http.TimeFormat))
	skewedMD5 := newFakeServer(t, md5Creds())
	skewedMD5.setHeader("Date", time.Now().Add(10*time.Minute).UTC().Format(http.TimeFormat))
	html := newFakeServer(t, md5Creds())
	html.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>maintenance</html>"))
	})
	tlsSrv := newFakeTLSServer(t, md5Creds())

	tests := []struct {
		name     string
		env      map[string]string
		tls      *fakeServer
		code     int
		statuses string
		row      string // the row whose category and codes are checked
		category string
		codes    []string
	}{
		{name: "all pass md5", env: md5.env(), code: 0,
			statuses: "config=ok dns=ok tcp=ok tls=skip testConnect=ok clock=ok listConnector=ok portal=ok line=ok portal db=skip"},
		{name: "all pass hmac", env: hmac.env(), code: 0,
			statuses: "config=ok dns=ok tcp=ok tls=skip testConnect=ok clock=ok listConnector=ok portal=ok line=ok portal db=skip"},
		{name: "tls", env: tlsSrv.env(), tls: tlsSrv, code: 0,
			statuses: "config=ok dns=ok tcp=ok tls=ok testConnect=ok clock=ok listConnector=ok portal=ok line=ok portal db=skip"},
		{name: "localhost resolves", env: md5.env("OLCTL_SERVER", strings.Replace(md5.URL, "127.0.0.1", "localhost", 1)),
			code: 0, statuses: "config=ok dns=ok tcp=ok tls=skip testConnect=ok clock=ok listConnector=ok portal=ok line=ok portal db=skip"},
		{name: "licence refused", env: md5.env("OLCTL_LICENCE_KEY", "not-the-key-000000000"), code: 1,
			statuses: "config=ok dns=ok tcp=ok tls=skip testConnect=fail clock=ok listConnector=skip portal=skip line=skip portal db=skip",
			row:      "testConnect", category: "auth", codes: []string{"LICENCE_ERROR"}},
		{name: "other code", env: failing.env(), code: 1,
			statuses: "config=ok dns=ok tcp=ok tls=skip testConnect=fail clock=ok listConnector=ok portal=fail line=ok portal db=skip",
			row:      "testConnect", category: "server", codes: []string{"FAILED_TO_TEST_CONNECTOR"}},
		{name: "not the protocol", env: html.env(), code: 1,
			statuses: "config=ok dns=ok tcp=ok tls=skip testConnect=fail clock=ok listConnector=skip portal=skip line=skip portal db=skip",
			row:      "testConnect", category: "network", codes: []string{"ANSWER_MALFORMED"}},
		{name: "unreachable", env: md5.env("OLCTL_SERVER", closedURL(t)), code: 1,
			statuses: "config=ok dns=ok tcp=fail tls=skip testConnect=skip clock=skip listConnector=skip portal=skip line=skip portal db=skip",
			row:      "tcp", category: "network"},
		{name: "dns failure", env: md5.env("OLCTL_SERVER", "http://olctl-check.invalid", "OLCTL_TIMEOUT", "3s"), code: 1,
			statuses: "config=ok dns=fail tcp=skip tls=skip testConnect=skip clock=skip listConnector=skip portal=skip line=skip portal db=skip",
			row:      "dns", category: "network"},
		{name: "tls untrusted", env: tlsSrv.env(), code: 1,
			statuses: "config=ok dns=ok tcp=ok tls=fail testConnect=skip clock=skip listConnector=skip portal=skip line=skip portal db=skip",
			row:      "tls", category: "network"},
		{name: "clock skew hmac", env: skewed.env(), code: 1,
			statuses: "config=ok dns=ok tcp=ok tls=skip testConnect=ok clock=fail listConnector=ok portal=ok line=ok portal db=skip",
			row:      "clock", category: "auth"},
		{name: "clock skew md5 warns", env: skewedMD5.env(), code: 0,
			statuses: "config=ok dns=ok tcp=ok tls=skip testConnect=ok clock=warn listConnector=ok portal=ok line=ok portal db=skip"},
		{name: "missing config", env: md5.env("OLCTL_DOMAIN", ""), code: 2,
			statuses: "config=fail dns=skip tcp=skip tls=skip testConnect=skip clock=skip listConnector=skip portal=skip line=skip portal db=skip",
			row:      "config", category: "config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mutate := func(f *Factory) {
				if tt.tls != nil {
					hc := tt.tls.Client()
					f.HTTPClient = func() (*http.Client, error) { return hc, nil }
				}
			}
			r := run(t, runOpts{env: tt.env, mutate: mutate}, "check", "--json").wantCode(t, tt.code)
			var rep checkReport
			r.decodeJSON(t, &rep)
			if got := statuses(rep); got != tt.statuses {
				t.Fatalf("statuses\n got %s\nwant %s\n%s", got, tt.statuses, r.out)
			}
			if rep.ExitCode != tt.code || rep.OK != (tt.code == 0) {
				t.Fatalf("report exit %d ok %v", rep.ExitCode, rep.OK)
			}
			if tt.row == "" {
				return
			}
			for _, c := range rep.Checks {
				if c.Name != tt.row {
					continue
				}
				if c.Category != tt.category || strings.Join(c.Codes, ",") != strings.Join(tt.codes, ",") || c.Detail == "" {
					t.Fatalf("row %+v, want category %s codes %v", c, tt.category, tt.codes)
				}
			}
			// The same run as a table exits the same way and shows the failing row.
			tbl := run(t, runOpts{env: tt.env, mutate: mutate}, "check").wantCode(t, tt.code)
			if !strings.Contains(tbl.out, tt.row+"\tfail") {
				t.Fatalf("table lacks the failing row:\n%s", tbl.out)
			}
		})
	}
}

func TestCheckBadFlags(t *testing.T) {
	for _, args := range [][]string{{"check", "--watch", "soon"}, {"check", "extra"}, {"check", "--watch", "-1s"}} {
		olctl(t, args...).wantCode(t, ExitUsage)
	}
}

func TestCheckWatch(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	fake := clock.NewFake(time.Now())
	var out, errOut syncbuf.Buffer
	env := fs.env()
	f := &Factory{
		IO:        IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Clock:     fake,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- Run(ctx, f, []string{"check", "--watch", "30s"}) }()

	for i := 1; i <= 3; i++ {
		waitFor(t, func() bool { return fake.Waiters() == 1 }, out.String)
		if n := strings.Count(out.String(), "check at "); n != i {
			t.Fatalf("after %d waits: %d reports\n%s", i, n, out.String())
		}
		if i == 2 {
			fs.answer("testConnect", func(fakeCall) (any, error) { return nil, wire.Errorf(wire.CodeFailedTestConnector, "down") })
		}
		if i < 3 {
			fake.Advance(30 * time.Second)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitFailed {
			t.Fatalf("watch ended with %d, want 1 (the last run failed)", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop on cancel")
	}
	if got := len(fs.received()); got != 12 {
		t.Fatalf("server got %d calls, want 12 (testConnect, listConnector, testConnect of the portal, infoConnect ×3)", got)
	}
}

func TestNewCmdCheckParsing(t *testing.T) {
	tests := []struct {
		args  []string
		watch time.Duration
		err   string
	}{
		{args: nil},
		{args: []string{"--watch", "30s"}, watch: 30 * time.Second},
		{args: []string{"--watch", "-1s"}, err: "--watch -1s: must be positive"},
		{args: []string{"--watch", "soon"}, err: `invalid argument "soon"`},
		{args: []string{"extra"}, err: `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *CheckOptions
			err := parse(NewCmdCheck(testFactory(nil), func(o *CheckOptions) error { got = o; return nil }), tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil || got.Watch != tt.watch || got.HTTPClient == nil || got.Clock == nil {
				t.Fatalf("err %v, options %+v", err, got)
			}
		})
	}
}

// TestCheckWithoutConnector: testConnect tests a connector, so without one it is skipped, and the clock skew
// is read from listConnector's answer.
func TestCheckWithoutConnector(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	fs.setHeader("Date", time.Now().Add(-2*time.Hour).UTC().Format(http.TimeFormat))
	var rep checkReport
	run(t, runOpts{env: fs.env("OLCTL_CONNECTOR", "")}, "check", "--json").wantCode(t, 0).decodeJSON(t, &rep)
	if got := statuses(rep); got != "config=ok dns=ok tcp=ok tls=skip testConnect=skip clock=warn listConnector=ok portal=ok line=skip portal db=skip" {
		t.Fatalf("statuses %s", got)
	}
	// The portal's check names the first connector listed, with an empty LINE.
	calls := fs.received()
	if got := methodsOf(calls); got != "listConnector,testConnect" || calls[1].Connector != "botframework" || calls[1].Line != "" {
		t.Fatalf("server calls %s: %+v", got, calls)
	}
}
