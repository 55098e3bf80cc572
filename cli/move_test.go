package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/olctl/olctl/bftest"
)

var (
	stepTimes   = regexp.MustCompile(`\d+(\.\d)?ms`)
	webhookHash = regexp.MustCompile(`h=[0-9a-f]+`)
)

// TestConnectMovesTheBot: connecting on line 2 the bot of line 1 says so before doing it, asks on a
// terminal, needs --yes otherwise, prints the move with the three steps and names it in moved_from; the
// moved line's infoConnect says where it went.
func TestConnectMovesTheBot(t *testing.T) {
	dir := t.TempDir()
	portalDB := filepath.Join(dir, defaultPortalDB)
	bf, _ := startBackground(t, nil, bfControlRE, "bf", "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0")
	bfURL := bfReadyRE.FindStringSubmatch(bf.err.String())[1]
	_, cm := startBackground(t, map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey}, listeningRE, "connector", "serve",
		"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "connector.db"), "--bf-fake", bfURL, "--log-level", "error")
	env := map[string]string{"OLCTL_SERVER": cm[1], "OLCTL_LICENCE_KEY": testLicenceKey, "OLCTL_CONNECTOR": "botframework"}
	portalBG, pm := startBackground(t, env, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--db", portalDB,
		"--data-dir", dir, "--log-level", "error")
	env["OLCTL_DOMAIN"], env[envPortalDB] = pm[1], portalDB
	bot := []string{"--bot-handle", "move-bot", "--app-id", bftest.DefaultAppID, "--app-secret", bftest.DefaultAppSecret}
	connect := func(o runOpts, line string, args ...string) result {
		t.Helper()
		o.env = env
		return run(t, o, append(append([]string{"connect", "--line", line}, bot...), args...)...)
	}
	clean := func(s string) string {
		s = strings.NewReplacer(cm[1], "SERVER", bftest.DefaultAppID, "APP", dir, "DIR").Replace(s)
		return webhookHash.ReplaceAllString(stepTimes.ReplaceAllString(s, "TIME"), "h=HASH")
	}

	var rep connectReport
	connect(runOpts{}, "1", "--json").wantCode(t, 0).decodeJSON(t, &rep)
	if rep.MovedFrom != nil {
		t.Fatalf("the first connection moved %+v", rep.MovedFrom)
	}

	// No terminal, no --yes: nothing is sent, and the error says what would happen.
	r := connect(runOpts{}, "2").wantCode(t, ExitUsage)
	golden(t, "connect-move-refused", clean(r.err))
	if got, _ := lineStatusAt(t, portalDB, "botframework", "1"); got != connected {
		t.Fatalf("line 1 after the refusal: %+v", got)
	}
	if _, ok := lineStatusAt(t, portalDB, "botframework", "2"); ok {
		t.Fatal("line 2 got a status")
	}

	// On a terminal: said, then asked; "no" sends nothing.
	r = connect(runOpts{inTTY: true, stdin: "n\n"}, "2").wantCode(t, ExitFailed)
	if !strings.Contains(r.err, "? Move the bot from line 1 to line 2? [y/N]: ") || !strings.Contains(r.err, "connect: cancelled") {
		t.Fatalf("stderr %q", r.err)
	}
	// "yes": the three steps, the move, the webhook.
	r = connect(runOpts{inTTY: true, stdin: "y\n"}, "2").wantCode(t, 0)
	golden(t, "connect-move", clean(r.out)+"--- stderr\n"+clean(r.err))
	waitEvent(t, portalBG.out.String, "deactivation of line 1", func(ev eventJSON) bool {
		return ev.Event == EvUpdateStatusConnector && ev.Line == "1" && ev.Status != nil && ev.Status.Error
	})
	if got, _ := lineStatusAt(t, portalDB, "botframework", "1"); got != connectedElsewhere {
		t.Fatalf("line 1 after the move: %+v", got)
	}

	// The moved line's infoConnect says where it went.
	r = run(t, runOpts{env: env}, "infoConnect", "--line", "1").wantCode(t, ExitFailed)
	if !regexp.MustCompile(`NOT_ACTIVE_LINE: connector botframework of line 1 moved to line 2: its entity \(the bot\) was registered there`).
		MatchString(r.err) {
		t.Fatalf("infoConnect of the moved line: %q", r.err)
	}

	// --yes, JSON: moved_from names line 2 when the bot goes back to line 1.
	rep = connectReport{}
	connect(runOpts{}, "1", "--yes", "--json").wantCode(t, 0).decodeJSON(t, &rep)
	if !rep.OK || rep.MovedFrom == nil || *rep.MovedFrom != (lineRef{Connector: "botframework", Line: "2"}) || len(rep.Steps) != 3 {
		t.Fatalf("report %+v", rep)
	}
	if got, _ := lineStatusAt(t, portalDB, "botframework", "2"); got != connectedElsewhere {
		t.Fatalf("line 2 after the move back: %+v", got)
	}
}
