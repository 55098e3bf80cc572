package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/portal"
)

// deadLetterDB makes a portal database at path whose receivingMessage items m1, m2 (line 3) and m3 (line 4)
// are dead letters: a portal whose subscriber fails takes them and retries each once.
func deadLetterDB(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	p, err := portal.New(ctx, portal.Config{Credentials: md5Creds(), ServerURL: "http://127.0.0.1:1", Domain: testDomain,
		DSN: path, DataDir: filepath.Dir(path), AdmitUnknownLines: true,
		Retry: portal.RetryPolicy{Schedule: []time.Duration{time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.OnReceivedMessage(func(context.Context, portal.Message) error { return errors.New("backend down") })
	srv := httptest.NewServer(portalMux("/pub/imconnector/", p.Handler()))
	defer srv.Close()
	for _, m := range []struct{ line, id string }{{"3", "m1"}, {"3", "m2"}, {"4", "m3"}} {
		if err := postToPortal(t, srv.URL, "botframework.webchat", m.line, m.id); err != nil {
			t.Fatal(err)
		}
	}
	var st portal.ItemStats
	waitFor(t, func() bool {
		st, err = p.ItemStats(ctx)
		return err == nil && st.Dead == 3
	}, func() string { return fmt.Sprintf("no dead letters: %+v %v", st, err) })
}

var deadTimes = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

func TestPortalDeadAndRedrive(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, defaultPortalDB)
	deadLetterDB(t, db)
	env := map[string]string{envPortalDB: db}

	r := run(t, runOpts{env: env}, "portal", "dead").wantCode(t, 0)
	golden(t, "portal-dead", deadTimes.ReplaceAllString(r.out, "TIME"))
	var dead []portal.DeadLetter
	run(t, runOpts{env: env}, "portal", "dead", "--json").wantCode(t, 0).decodeJSON(t, &dead)
	if len(dead) != 3 || dead[0].Line != "3" || dead[2].Line != "4" || dead[0].Attempts != 2 ||
		!strings.Contains(dead[0].LastError, "backend down") {
		t.Fatalf("dead letters %+v", dead)
	}
	// --line selects; --limit says when more follow.
	r = run(t, runOpts{env: env}, "portal", "dead", "--line", "3", "--limit", "1").wantCode(t, 0)
	if n := strings.Count(r.out, "\n"); n != 2 || !strings.HasPrefix(strings.Split(r.out, "\n")[1], itoa(dead[0].ID)+"\t") {
		t.Fatalf("one row wanted:\n%s", r.out)
	}
	if want := "the first 1 dead letters; more follow: --after " + itoa(dead[0].ID) + " for the next page, --all for every one\n"; r.err != want {
		t.Fatalf("stderr %q, want %q", r.err, want)
	}

	// redrive needs a selection; a wrong id is refused.
	for _, args := range [][]string{{"portal", "redrive"}, {"portal", "redrive", "x"}, {"portal", "redrive", "1", "--all"}} {
		run(t, runOpts{env: env}, args...).wantCode(t, ExitUsage)
	}
	r = run(t, runOpts{env: env}, "portal", "redrive", "999").wantCode(t, ExitFailed)
	if !strings.Contains(r.err, "none of the ids is a dead letter") {
		t.Fatalf("stderr %q", r.err)
	}

	// While olctl serve runs on the SQLite file, redrive takes the write.
	serveEnv := map[string]string{"OLCTL_SERVER": "http://127.0.0.1:1", "OLCTL_LICENCE_KEY": testLicenceKey, envPortalDB: db}
	bg, _ := startBackground(t, serveEnv, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--admit-unknown-lines",
		"--log-level", "error")
	var red redriveJSON
	run(t, runOpts{env: env}, "portal", "redrive", "--line", "3", "--json").wantCode(t, 0).decodeJSON(t, &red)
	if red.Redriven != 2 || len(red.IDs) != 2 || red.IDs[0] != dead[0].ID || red.IDs[1] != dead[1].ID {
		t.Fatalf("redrive %+v", red)
	}
	r = run(t, runOpts{env: env}, "portal", "redrive", "--all").wantCode(t, 0)
	if r.out != "redrove 1 dead letter; a running 'olctl serve' tries them within 1m0s, in order (else the next to start)\n" {
		t.Fatalf("stdout %q", r.out)
	}
	if r := run(t, runOpts{env: env}, "portal", "dead").wantCode(t, 0); r.out != "ID\tCOMMAND\tCONNECTOR\tLINE\tATTEMPTS\tRECEIVED\tDIED\tLAST ERROR\n" {
		t.Fatalf("dead letters after the redrive:\n%s", r.out)
	}
	bg.stop(t)

	// The next serve to start delivers them at once, in the order received.
	bg, _ = startBackground(t, serveEnv, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--admit-unknown-lines",
		"--log-level", "error")
	for _, id := range []string{"m1", "m2", "m3"} {
		waitEvent(t, bg.out.String, "redriven "+id, func(ev eventJSON) bool { return ev.Event == EvReceivedMessage && ev.MessageID == id })
	}
	events := bg.out.String()
	if n := strings.Count(events, `"event":"OnReceivedMessage"`); n != 3 {
		t.Fatalf("%d message events, want 3 (once each):\n%s", n, events)
	}
	if i1, i2, i3 := strings.Index(events, `"m1"`), strings.Index(events, `"m2"`), strings.Index(events, `"m3"`); !(i1 < i2 && i2 < i3) {
		t.Fatalf("events out of order:\n%s", events)
	}

	// Another database is refused by name.
	r = run(t, runOpts{}, "portal", "dead", "--db", filepath.Join(dir, "nosuch.db")).wantCode(t, ExitUsage)
	if !strings.Contains(r.err, "no such database") {
		t.Fatalf("stderr %q", r.err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestQueueListSaysWhenMoreFollow(t *testing.T) {
	creds := md5Creds()
	down, _ := fakePortal(t, creds)
	db := filepath.Join(t.TempDir(), "connector.db")
	_, m := startBackground(t, nil, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0", "--db", db, "--schedule", "1h",
		"--log-level", "error", "--licence-key", creds.LicenceKey)
	env := map[string]string{"OLCTL_SERVER": m[1], "OLCTL_DOMAIN": down.URL, "OLCTL_LICENCE_KEY": creds.LicenceKey,
		"OLCTL_CONNECTOR": "echo", "OLCTL_LINE": "1"}
	var rep connectReport
	run(t, runOpts{env: env}, "connect", "--json", "--set", "entity=e1").wantCode(t, 0).decodeJSON(t, &rep)
	for _, id := range []string{"m1", "m2", "m3"} {
		resp, err := http.Post(rep.WebhookURL, "application/json",
			strings.NewReader(`{"user":{"id":"u1"},"message":{"id":"`+id+`","text":"hi"},"chat":{"id":"c1"}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	qenv := map[string]string{envConnectorDB: db}
	var all []queueItemJSON
	run(t, runOpts{env: qenv}, "connector", "queue", "ls", "--json").wantCode(t, 0).decodeJSON(t, &all)
	if len(all) != 3 {
		t.Fatalf("queued %+v", all)
	}
	r := run(t, runOpts{env: qenv}, "connector", "queue", "ls", "--limit", "2").wantCode(t, 0)
	if strings.Count(r.out, "\n") != 3 {
		t.Fatalf("two rows wanted:\n%s", r.out)
	}
	if want := "the first 2 items (--limit); more follow: --after " + itoa(all[1].ID) + " for the next page, --all for every one\n"; r.err != want {
		t.Fatalf("stderr %q, want %q", r.err, want)
	}
	if r := run(t, runOpts{env: qenv}, "connector", "queue", "ls", "--limit", "3").wantCode(t, 0); r.err != "" {
		t.Fatalf("a full list said %q", r.err)
	}
	run(t, runOpts{env: qenv}, "connector", "queue", "ls", "--limit", "0").wantCode(t, ExitUsage)
}
