package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// lineStatusAt reads the status of (real connector, line) from the portal database at path, and whether one is
// stored.
func lineStatusAt(t *testing.T, path, connector, line string) (openlines.LineStatus, bool) {
	t.Helper()
	st, err := openStatusStore(context.Background(), path, clock.System())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, found, err := st.LookupLineStatus(context.Background(), connector, line)
	if err != nil {
		t.Fatal(err)
	}
	return s, found
}

// setLineStatusAt stores s for (connector, line) in the portal database at path.
func setLineStatusAt(t *testing.T, path, connector, line string, s openlines.LineStatus) {
	t.Helper()
	st, err := openStatusStore(context.Background(), path, clock.System())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetLineStatus(context.Background(), connector, line, s); err != nil {
		t.Fatal(err)
	}
}

var (
	connected          = openlines.LineStatus{Active: true, Connection: true, Register: true}
	connectedElsewhere = openlines.LineStatus{Active: true, Connection: true, Register: true, Error: true}
)

// TestConnectWritesLineStatus: connect writes the line's status into the portal database where the receiving
// portal's gate reads it, under the real connector id (docs/protocol.md §7, §10).
func TestConnectWritesLineStatus(t *testing.T) {
	bf := []string{"--bot-handle", "b", "--app-id", "a", "--app-secret", "s"}
	db := filepath.Join(t.TempDir(), "portal.db")
	ok := connectServer(t, md5Creds())
	setLineStatusAt(t, db, "botframework", "3", connectedElsewhere) // connected elsewhere: the ERROR of deactivateConnector

	var rep connectReport
	run(t, runOpts{env: ok.env(envPortalDB, db, "OLCTL_CONNECTOR", "botframework.skype")}, append([]string{"connect", "--json"}, bf...)...).
		wantCode(t, 0).decodeJSON(t, &rep)
	if s, _ := lineStatusAt(t, db, "botframework", "3"); s != connected || rep.LineStatus == nil || *rep.LineStatus != connected {
		t.Fatalf("status %+v, reported %+v; want %+v", s, rep.LineStatus, connected)
	}

	failing := connectServer(t, md5Creds())
	failing.answer("testConnect", func(fakeCall) (any, error) { return nil, wire.Errorf(wire.CodeFailedTestConnector, "no") })
	r := run(t, runOpts{env: failing.env(envPortalDB, db)}, append([]string{"connect"}, bf...)...).wantCode(t, ExitFailed)
	if s, _ := lineStatusAt(t, db, "botframework", "3"); s != (openlines.LineStatus{Active: true}) {
		t.Fatalf("status after a failed testConnect %+v", s)
	}
	if want := "line status of botframework on line 3 in " + db + ": active\n"; !strings.Contains(r.err, want) {
		t.Fatalf("stderr %q lacks %q", r.err, want)
	}

	none := filepath.Join(t.TempDir(), "none.db")
	run(t, runOpts{env: ok.env(envPortalDB, none)}, append([]string{"connect", "--db", ""}, bf...)...).wantCode(t, 0)
	if _, err := os.Stat(none); !os.IsNotExist(err) {
		t.Fatalf("--db \"\" wrote a database: %v", err)
	}
	r = run(t, runOpts{env: ok.env()}, append([]string{"connect", "--db", "mysql://"}, bf...)...).wantCode(t, ExitUsage)
	if !strings.Contains(r.err, "--db") {
		t.Fatalf("stderr %q", r.err)
	}
}

// TestRemoteMethodsWriteLineStatus: the methods that change a line write its status once the server accepted
// them; a refused call, call and the read-only methods write nothing.
func TestRemoteMethodsWriteLineStatus(t *testing.T) {
	fs := newFakeServer(t, hmacCreds())
	for _, m := range []string{"saveSettings", "register", "unregister", "deleteConnector"} {
		fs.answer(m, func(fakeCall) (any, error) { return true, nil })
	}
	db := filepath.Join(t.TempDir(), "portal.db")
	env := fs.env(envPortalDB, db)
	steps := []struct {
		args  []string
		want  openlines.LineStatus
		found bool
	}{
		{[]string{"saveSettings", "a=1"}, openlines.LineStatus{Active: true}, true},
		{[]string{"testConnect"}, openlines.LineStatus{Active: true}, true},
		{[]string{"call", "register"}, openlines.LineStatus{Active: true}, true},
		{[]string{"register"}, connected, true},
		{[]string{"unregister"}, openlines.LineStatus{Active: true, Connection: true}, true},
		{[]string{"register"}, connected, true},
		{[]string{"delete-connector"}, openlines.LineStatus{}, false},
	}
	for _, s := range steps {
		run(t, runOpts{env: env}, s.args...).wantCode(t, 0)
		if got, found := lineStatusAt(t, db, "botframework", "3"); got != s.want || found != s.found {
			t.Fatalf("after %v: status %+v (stored %v), want %+v (stored %v)", s.args, got, found, s.want, s.found)
		}
	}

	setLineStatusAt(t, db, "botframework", "3", connectedElsewhere)
	var doc callResultJSON
	run(t, runOpts{env: env}, "register", "--json").wantCode(t, 0).decodeJSON(t, &doc)
	if doc.LineStatus == nil || *doc.LineStatus != connected {
		t.Fatalf("register reported %+v", doc.LineStatus)
	}

	fs.answer("unregister", func(fakeCall) (any, error) { return nil, wire.Errorf(wire.CodeNotActiveLine, "no") })
	run(t, runOpts{env: env}, "unregister").wantCode(t, ExitFailed)
	if got, _ := lineStatusAt(t, db, "botframework", "3"); got != connected {
		t.Fatalf("a refused unregister changed the status to %+v", got)
	}
}
