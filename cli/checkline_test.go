package cli

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/syncbuf"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// rowOf returns the row of a report named name.
func rowOf(t *testing.T, rep checkReport, name string) checkRow {
	t.Helper()
	for _, r := range rep.Checks {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no row %q in %+v", name, rep.Checks)
	return checkRow{}
}

// TestCheckLine: the line is looked at on both sides, the connector server's infoConnect and the portal
// database; a line that is deactivated or not connected on either fails the check (exit 1).
func TestCheckLine(t *testing.T) {
	open := openlines.LineStatus{Active: true, Connection: true, Register: true}
	status := func(st openlines.LineStatus) func(fakeCall) (any, error) {
		return func(c fakeCall) (any, error) {
			return map[string]any{"ID": c.Connector, "LINE": c.Line, "STATUS": map[string]any{"ACTIVE": st.Active,
				"CONNECTION": st.Connection, "REGISTER": st.Register, "ERROR": st.Error}}, nil
		}
	}
	tests := []struct {
		name   string
		info   func(fakeCall) (any, error) // nil: the fake's, all set
		db     *openlines.LineStatus       // the line's status in the portal database; nil: another line's only
		noDB   bool                        // --db names a file that is not there
		code   int
		line   string // status of the line row, then of the portal db row
		dbRow  string
		detail string // in the failing row's detail
	}{
		{name: "connected on both sides", db: &open, code: 0, line: "ok", dbRow: "ok"},
		{name: "deactivated on the server", info: status(openlines.LineStatus{Active: true, Error: true}), db: &open, code: 1,
			line: "fail", dbRow: "ok", detail: "botframework on line 3 is deactivated on the connector server (active, error): connect it again"},
		{name: "not set up on the server", info: func(fakeCall) (any, error) {
			return nil, wire.Errorf(wire.CodeNotActiveLine, "connector botframework is not set up on line 3 (saveSettings first)")
		}, db: &open, code: 1, line: "fail", dbRow: "ok", detail: "botframework on line 3 is not set up on the connector server"},
		{name: "deactivated in the portal database", db: &openlines.LineStatus{Active: true, Connection: true, Register: true, Error: true},
			code: 1, line: "ok", dbRow: "fail", detail: "the connector server sent deactivateConnector"},
		{name: "not connected in the portal database", db: &openlines.LineStatus{Active: true}, code: 1, line: "ok", dbRow: "fail",
			detail: "is not connected in"},
		{name: "no status in the portal database", code: 0, line: "ok", dbRow: "warn"},
		{name: "--db not there", noDB: true, code: 2, line: "ok", dbRow: "fail", detail: "no such database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := newFakeServer(t, md5Creds())
			if tt.info != nil {
				fs.answer("infoConnect", tt.info)
			}
			db := filepath.Join(t.TempDir(), "portal.db")
			if !tt.noDB {
				setLineStatus(t, db, "botframework", "9", open)
			}
			if tt.db != nil {
				setLineStatus(t, db, "botframework", "3", *tt.db)
			}
			var rep checkReport
			run(t, runOpts{env: fs.env()}, "check", "--json", "--db", db).wantCode(t, tt.code).decodeJSON(t, &rep)
			line, dbRow := rowOf(t, rep, checkLine), rowOf(t, rep, checkPortalDB)
			if line.Status != tt.line || dbRow.Status != tt.dbRow {
				t.Fatalf("line %+v\nportal db %+v", line, dbRow)
			}
			if tt.detail != "" && !strings.Contains(line.Detail+dbRow.Detail, tt.detail) {
				t.Fatalf("no %q in\n%s\n%s", tt.detail, line.Detail, dbRow.Detail)
			}
		})
	}
}

// TestCheckLineDeactivatedGolden: the output of a check whose line is deactivated on both sides.
func TestCheckLineDeactivatedGolden(t *testing.T) {
	fake := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	fs := newFakeServer(t, md5Creds())
	fs.setHeader("Date", fake.Now().Format(http.TimeFormat))
	fs.answer("infoConnect", func(c fakeCall) (any, error) {
		return map[string]any{"ID": c.Connector, "LINE": c.Line, "STATUS": map[string]any{"ACTIVE": "Y", "CONNECTION": "Y",
			"REGISTER": "N", "ERROR": "Y"}}, nil
	})
	db := filepath.Join(t.TempDir(), "portal.db")
	setLineStatus(t, db, "botframework", "3", openlines.LineStatus{Error: true})
	r := run(t, runOpts{env: fs.env("OLCTL_PORTAL_DB", db), mutate: func(f *Factory) { f.Clock = fake }}, "check").wantCode(t, 1)
	golden(t, "check-line-deactivated", strings.NewReplacer(strings.TrimPrefix(fs.URL, "http://"), "SERVER", db, "portal.db").Replace(r.out))
}

// TestCheckPortal: the connector server is asked to call the portal back (testConnect with an empty LINE);
// its refusal is a failed check whose category is that of the cause it names.
func TestCheckPortal(t *testing.T) {
	for _, tc := range []struct {
		name, cause, category string
	}{
		{"unreachable", "NETWORK_ERROR: Post \"https://portal.example.com/pub/imconnector/\": dial tcp: connection refused", "network"},
		{"signature refused", "LICENCE_ERROR: the signature does not match", "auth"},
		{"no code named", "the portal answered HTTP 404", "server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := newFakeServer(t, md5Creds())
			fs.answer("testConnect", func(c fakeCall) (any, error) {
				if c.Line != "" {
					return map[string]any{"RESULT": "OK"}, nil
				}
				return nil, wire.Errorf(wire.CodeFailedTestConnector, "the portal's endpoint %s/pub/imconnector/ does not answer testConnect: %s",
					testDomain, tc.cause)
			})
			var rep checkReport
			run(t, runOpts{env: fs.env()}, "check", "--json").wantCode(t, 1).decodeJSON(t, &rep)
			row := rowOf(t, rep, checkPortal)
			if row.Status != "fail" || row.Category != tc.category || strings.Join(row.Codes, ",") != "FAILED_TO_TEST_CONNECTOR" ||
				!strings.HasPrefix(row.Detail, "the connector server cannot reach this portal at "+testDomain+": ") ||
				!strings.Contains(row.Detail, tc.cause) {
				t.Fatalf("row %+v", row)
			}
			if got := statuses(rep); got != "config=ok dns=ok tcp=ok tls=skip testConnect=ok clock=ok listConnector=ok portal=fail line=ok portal db=skip" {
				t.Fatalf("statuses %s", got)
			}
		})
	}
}

// TestCheckTLSFlags: --ca-file (or OLCTL_CA_FILE) trusts a test server's certificate; --insecure passes
// with a warning; a --ca-file that is not there, or holds no certificate, is exit 2.
func TestCheckTLSFlags(t *testing.T) {
	srv := newFakeTLSServer(t, md5Creds())
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := writeFile(t, "x.pem", "not a certificate")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		tls  string
	}{
		{"--ca-file", srv.env(), []string{"--ca-file", ca}, 0, "ok"},
		{"OLCTL_CA_FILE", srv.env("OLCTL_CA_FILE", ca), nil, 0, "ok"},
		{"--insecure", srv.env(), []string{"--insecure"}, 0, "warn"},
		{"neither", srv.env(), nil, 1, "fail"},
		{"--ca-file missing", srv.env(), []string{"--ca-file", filepath.Join(dir, "nope.pem")}, 2, ""},
		{"--ca-file not PEM", srv.env(), []string{"--ca-file", notPEM}, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, runOpts{env: tc.env}, append([]string{"check", "--json"}, tc.args...)...).wantCode(t, tc.code)
			if tc.tls == "" {
				if !strings.Contains(r.err, "--ca-file") {
					t.Fatalf("stderr %s", r.err)
				}
				return
			}
			var rep checkReport
			r.decodeJSON(t, &rep)
			row := rowOf(t, rep, "tls")
			if row.Status != tc.tls || tc.tls == "warn" && !strings.Contains(row.Detail, "not verified (--insecure)") {
				t.Fatalf("tls row %+v", row)
			}
			if tc.code == 0 && rowOf(t, rep, openlines.MethodTestConnect).Status != "ok" {
				t.Fatalf("the signed calls do not trust it: %+v", rep.Checks)
			}
		})
	}
}

// TestCheckWatchJSON: check --watch --json writes one JSON document per line, a line per run.
func TestCheckWatchJSON(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	fake := clock.NewFake(time.Now())
	var out syncbuf.Buffer
	env := fs.env("OLCTL_PORTAL_DB", "")
	f := &Factory{
		IO:        IO{In: strings.NewReader(""), Out: &out, ErrOut: &syncbuf.Buffer{}},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Clock:     fake,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- Run(ctx, f, []string{"check", "--watch", "10s", "--json"}) }()
	for i := 1; i <= 2; i++ {
		waitFor(t, func() bool { return fake.Waiters() == 1 && strings.Count(out.String(), "\n") == i }, out.String)
		if i == 1 {
			fake.Advance(10 * time.Second)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		var rep checkReport
		if err := json.Unmarshal([]byte(l), &rep); err != nil || !rep.OK || len(rep.Checks) != 10 {
			t.Fatalf("line %q: %v", l, err)
		}
	}
}

// TestCheckEndToEnd runs check against the connector server and the portal receiver: everything passes
// on a connected line; once its connection moved to another line (deactivateConnector), the first line
// fails on both sides, exit 1; once the portal is down, the server's call back to it fails as a network
// failure, exit 1.
func TestCheckEndToEnd(t *testing.T) {
	dir := t.TempDir()
	base := map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey, "OLCTL_PORTAL_DB": filepath.Join(dir, "portal.db")}
	_, cm := startBackground(t, base, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0",
		"--db", filepath.Join(dir, "connector.db"), "--log-level", "error")
	env := map[string]string{"OLCTL_SERVER": cm[1], "OLCTL_CONNECTOR": "echo"}
	for k, v := range base {
		env[k] = v
	}
	portalBG, pm := startBackground(t, env, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error")
	env["OLCTL_DOMAIN"] = pm[1]
	check := func(line string, code int) (checkReport, result) {
		t.Helper()
		r := run(t, runOpts{env: env}, "check", "--json", "--line", line).wantCode(t, code)
		var rep checkReport
		r.decodeJSON(t, &rep)
		return rep, r
	}

	run(t, runOpts{env: env}, "connect", "--json", "--yes", "--line", "1", "--set", "entity=e1").wantCode(t, 0)
	if rep, _ := check("1", 0); statuses(rep) != "config=ok dns=ok tcp=ok tls=skip testConnect=ok clock=ok listConnector=ok portal=ok line=ok portal db=ok" {
		t.Fatalf("connected: %s\n%+v", statuses(rep), rep.Checks)
	}

	// The same entity on line 2: the server deletes line 1's connector and tells the portal.
	run(t, runOpts{env: env}, "connect", "--json", "--yes", "--line", "2", "--set", "entity=e1").wantCode(t, 0)
	waitEvent(t, portalBG.out.String, "deactivation", func(ev eventJSON) bool {
		return ev.Event == EvUpdateStatusConnector && ev.Line == "1"
	})
	rep, _ := check("1", 1)
	if line, db := rowOf(t, rep, checkLine), rowOf(t, rep, checkPortalDB); line.Status != "fail" || db.Status != "fail" ||
		!strings.Contains(line.Detail, "echo on line 1 is not set up on the connector server") ||
		!strings.Contains(db.Detail, "echo on line 1 is deactivated in") {
		t.Fatalf("moved line:\n%+v\n%+v", line, db)
	}
	plain := run(t, runOpts{env: env}, "check", "--line", "1").wantCode(t, 1)
	golden(t, "check-moved-line", strings.NewReplacer(cm[1], "http://SERVER", strings.TrimPrefix(cm[1], "http://"), "SERVER",
		pm[1], "http://PORTAL", env["OLCTL_PORTAL_DB"], "portal.db").Replace(
		stamp.ReplaceAllString(skew.ReplaceAllString(timing.ReplaceAllString(plain.out, "\tN.Nms\t"), "server clock +0s"), "TIME")))

	// The portal stops: the server cannot call it back.
	if code := portalBG.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	rep, _ = check("2", 1)
	portal := rowOf(t, rep, checkPortal)
	if portal.Status != "fail" || portal.Category != "network" || !strings.Contains(portal.Detail, "NETWORK_ERROR") ||
		!strings.HasPrefix(portal.Detail, "the connector server cannot reach this portal at "+pm[1]+": ") {
		t.Fatalf("portal down: %+v", portal)
	}
}

var (
	timing = regexp.MustCompile(`\t\d+(\.\d)?ms\t`)
	skew   = regexp.MustCompile(`server clock [+-]\d+s`) // ±1 s: the Date header has whole seconds
	stamp  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
)

// TestCheckWithoutConnectorListRefused: without --connector the portal's check names a connector from
// listConnector's answer; when that is refused there is none to name, and the check says so.
func TestCheckWithoutConnectorListRefused(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	fs.answer("listConnector", func(fakeCall) (any, error) { return nil, wire.Errorf(wire.CodeModuleNotInstalled, "no module") })
	var rep checkReport
	run(t, runOpts{env: fs.env("OLCTL_CONNECTOR", "")}, "check", "--json").wantCode(t, 1).decodeJSON(t, &rep)
	if got := statuses(rep); got != "config=ok dns=ok tcp=ok tls=skip testConnect=skip clock=ok listConnector=fail portal=skip line=skip portal db=skip" {
		t.Fatalf("statuses %s", got)
	}
	if d := rowOf(t, rep, checkPortal).Detail; d != "no connector to name in the call (--connector)" {
		t.Fatalf("portal row: %s", d)
	}
}
