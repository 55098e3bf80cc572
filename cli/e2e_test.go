package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/internal/syncbuf"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// TestStandaloneCommandsEndToEnd runs the standalone commands together, as an operator would in four
// terminals, with authentication on: bf serve, connector serve --bf-fake, serve, connect; then a customer
// message with bf say, seen by the portal, and an operator reply with send that comes back to bf say.
func TestStandaloneCommandsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	key := map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey}

	bf, _ := startBackground(t, nil, bfControlRE, "bf", "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0")
	bfURL := bfReadyRE.FindStringSubmatch(bf.err.String())[1]
	via := bfControlRE.FindStringSubmatch(bf.err.String())[1]

	_, cm := startBackground(t, key, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0",
		"--db", filepath.Join(dir, "connector.db"), "--bf-fake", bfURL, "--log-level", "error")
	env := map[string]string{"OLCTL_SERVER": cm[1], "OLCTL_LICENCE_KEY": testLicenceKey}

	portalBG, pm := startBackground(t, env, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir,
		"--log-level", "error")
	env["OLCTL_DOMAIN"] = pm[1]
	env["OLCTL_LINE"] = "4"

	var rep connectReport
	run(t, runOpts{env: env}, "connect", "--json", "--connector", "botframework", "--bot-handle", "e2e-bot",
		"--app-id", bftest.DefaultAppID, "--app-secret", bftest.DefaultAppSecret, "--db", filepath.Join(dir, "portal.db")).
		wantCode(t, 0).decodeJSON(t, &rep)

	say := make(chan result, 1)
	go func() {
		say <- run(t, runOpts{}, "bf", "say", "--via", via, "--webhook", rep.WebhookURL, "--conversation", "conv-e2e",
			"--wait", "30s", "hello :wave:")
	}()

	lines := waitLines(t, portalBG.out.String, 1)
	var got eventJSON
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got.Event != EvReceivedMessage || got.ChatID != "conv-e2e" || got.Connector != "botframework.webchat" ||
		!strings.Contains(*got.Text, "[ICON=/bitrix/images/emoji/1f44b.svg") {
		t.Fatalf("portal event %s", lines[0])
	}

	run(t, runOpts{env: env}, "send", "--connector", got.Connector, "--chat", "conv-e2e", "--message-id", "op-1",
		"--db", filepath.Join(dir, "portal.db"), "Hi there :smile:").wantCode(t, 0)

	var r result
	select {
	case r = <-say:
	case <-time.After(40 * time.Second):
		t.Fatal("bf say did not return")
	}
	r.wantCode(t, 0)
	var a bfActivityJSON
	if err := json.Unmarshal([]byte(r.out), &a); err != nil {
		t.Fatalf("bf say printed %q: %v", r.out, err)
	}
	if a.Text != "Hi there 😄" || a.ConversationID != "conv-e2e" || a.Status/100 != 2 {
		t.Fatalf("reply %+v", a)
	}
	// The delivery comes back to the portal with the activity id.
	lines = waitLines(t, portalBG.out.String, 2)
	if !strings.Contains(lines[1], `"event":"OnReceivedStatusDelivery"`) || !strings.Contains(lines[1], `"im_message_id":"op-1"`) {
		t.Fatalf("portal event %s", lines[1])
	}
	if !strings.Contains(bf.out.String(), `"text":"Hi there 😄"`) {
		t.Fatalf("bf serve printed %q", bf.out.String())
	}
}

// waitEvent waits until read holds a JSON event line that match accepts, and returns it.
func waitEvent(t *testing.T, read func() string, what string, match func(eventJSON) bool) eventJSON {
	t.Helper()
	var found eventJSON
	waitFor(t, func() bool {
		for _, l := range strings.Split(read(), "\n") {
			var ev eventJSON
			if json.Unmarshal([]byte(l), &ev) == nil && match(ev) {
				found = ev
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("no %s event; the portal printed:\n%s", what, read()) })
	return found
}

// postToPortal sends the portal at base a receivingMessage packet for (connector, line), signed as the
// connector server signs it, and returns the portal's answer.
func postToPortal(t *testing.T, base, connector, line, messageID string) error {
	t.Helper()
	item := wire.NewMap("user", wire.NewMap("id", "direct-customer"), "message", wire.NewMap("id", messageID, "text", "hi"),
		"chat", wire.NewMap("id", "direct-chat"))
	p := wire.Packet{Command: openlines.CommandReceivingMessage, Version: "olctl-test", Connector: connector, Line: line,
		Data: []any{item}}
	fields, err := p.Encode(wire.ToPortal)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := wire.NewSigner(md5Creds(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if fields, err = signer.Sign(fields); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/pub/imconnector/", "application/x-www-form-urlencoded", strings.NewReader(fields.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wire.ParseResponse(body)
	return err
}

// TestWalkthroughLineGate runs the four-terminal walkthrough of the README with the receiving portal's line gate
// on: bf serve; connector serve --bf-fake; serve --db (the portal database); connect without --db, which
// writes the line's status into that same database; a customer message with bf say reaches serve's events.
// Connecting the same bot (app id) on another line makes the connector server deactivate the first
// (deactivateConnector: ERROR on the line), whose messages the portal then refuses with NOT_ACTIVE_LINE until
// it is connected again (docs/protocol.md §7, §10, §11).
func TestWalkthroughLineGate(t *testing.T) {
	dir := t.TempDir()
	portalDB := filepath.Join(dir, defaultPortalDB)
	bf, _ := startBackground(t, nil, bfControlRE, "bf", "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0")
	bfURL := bfReadyRE.FindStringSubmatch(bf.err.String())[1]
	via := bfControlRE.FindStringSubmatch(bf.err.String())[1]
	_, cm := startBackground(t, map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey}, listeningRE, "connector", "serve",
		"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "connector.db"), "--bf-fake", bfURL, "--log-level", "error")
	env := map[string]string{"OLCTL_SERVER": cm[1], "OLCTL_LICENCE_KEY": testLicenceKey}
	portalBG, pm := startBackground(t, env, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--db", portalDB,
		"--data-dir", dir, "--log-level", "error")
	portalURL := pm[1]
	// The default of connect's --db, as in the working directory of the walkthrough.
	env["OLCTL_DOMAIN"], env[envPortalDB] = portalURL, portalDB
	events := portalBG.out.String

	connect := func(line string) connectReport {
		t.Helper()
		var rep connectReport
		run(t, runOpts{env: env}, "connect", "--json", "--yes", "--connector", "botframework", "--line", line, "--bot-handle", "gate-bot",
			"--app-id", bftest.DefaultAppID, "--app-secret", bftest.DefaultAppSecret).wantCode(t, 0).decodeJSON(t, &rep)
		if got, _ := lineStatusAt(t, portalDB, "botframework", line); got != connected || rep.LineStatus == nil || *rep.LineStatus != connected {
			t.Fatalf("line %s after connect: status %+v, reported %+v", line, got, rep.LineStatus)
		}
		return rep
	}
	sayOn := func(rep connectReport, line, conv string) {
		t.Helper()
		run(t, runOpts{}, "bf", "say", "--via", via, "--webhook", rep.WebhookURL, "--conversation", conv, "--replies", "0",
			"hello :wave:").wantCode(t, 0)
		ev := waitEvent(t, events, "message of "+conv, func(ev eventJSON) bool {
			return ev.Event == EvReceivedMessage && ev.ChatID == conv
		})
		if ev.Line != line || ev.Connector != "botframework.webchat" || !strings.Contains(*ev.Text, "[ICON=/bitrix/images/emoji/1f44b.svg") {
			t.Fatalf("event %+v", ev)
		}
	}
	deactivated := func(line string) {
		t.Helper()
		waitEvent(t, events, "deactivation of line "+line, func(ev eventJSON) bool {
			return ev.Event == EvUpdateStatusConnector && ev.Connector == "botframework" && ev.Line == line && ev.Status != nil &&
				ev.Status.Error
		})
		if got, _ := lineStatusAt(t, portalDB, "botframework", line); got != connectedElsewhere {
			t.Fatalf("line %s after deactivateConnector: status %+v", line, got)
		}
		if err := postToPortal(t, portalURL, "botframework.webchat", line, "refused-"+line); !errors.Is(err, wire.CodeNotActiveLine) {
			t.Fatalf("a message to the deactivated line %s: %v, want NOT_ACTIVE_LINE", line, err)
		}
	}

	one := connect("1")
	sayOn(one, "1", "conv-1")

	two := connect("2") // the same bot: the connector server moves it, deactivating line 1
	deactivated("1")
	sayOn(two, "2", "conv-2")

	one = connect("1") // connected again: line 1 takes messages, line 2 is deactivated in turn
	deactivated("2")
	if err := postToPortal(t, portalURL, "botframework.webchat", "1", "accepted-1"); err != nil {
		t.Fatalf("a message to the reconnected line 1: %v", err)
	}
	sayOn(one, "1", "conv-1b")
}

// process is a built olctl running in a directory, its output kept.
type process struct {
	cmd      *exec.Cmd
	out, err *syncbuf.Buffer
	done     chan error // the result of Wait
}

// startProcess runs bin with args in dir and env (the process's own environment is not passed on), waits until
// its stderr matches ready and returns the match. The process is interrupted when the test ends.
func startProcess(t *testing.T, bin, dir string, env []string, ready *regexp.Regexp, args ...string) (*process, []string) {
	t.Helper()
	p := &process{cmd: exec.Command(bin, withPrivateNetworks(args)...), out: &syncbuf.Buffer{}, err: &syncbuf.Buffer{}, done: make(chan error, 1)}
	p.cmd.Dir, p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = dir, env, p.out, p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	var m []string
	waitFor(t, func() bool {
		if m = ready.FindStringSubmatch(p.err.String()); m != nil {
			return true
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("olctl %v exited (%v) before it was ready:\n%s", args, err, p.err.String())
		default:
		}
		return false
	}, func() string { return fmt.Sprintf("olctl %v not ready:\n%s", args, p.err.String()) })
	return p, m
}

// TestReadmeWalkthroughBinary runs the built olctl as the README's four terminals do, in one working
// directory, with the README's flags only: `olctl serve --db portal.db` and `olctl connect` (no --db) meet in
// the same portal database, so the line gate lets the customer's message in.
func TestReadmeWalkthroughBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildOlctl(t)
	dir := t.TempDir()
	env := []string{"HOME=" + dir, "LANG=C.UTF-8"}
	bf, _ := startProcess(t, bin, dir, env, bfControlRE, "bf", "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0")
	bfURL := bfReadyRE.FindStringSubmatch(bf.err.String())[1]
	via := bfControlRE.FindStringSubmatch(bf.err.String())[1]
	_, cm := startProcess(t, bin, dir, env, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0", "--db", "connector.db",
		"--licence-key", testLicenceKey, "--bf-fake", bfURL, "--log-level", "error")
	env = append(env, "OLCTL_SERVER="+cm[1], "OLCTL_LICENCE_KEY="+testLicenceKey)
	serve, pm := startProcess(t, bin, dir, env, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--db", "portal.db", "--log-level", "error")
	env = append(env, "OLCTL_DOMAIN="+pm[1])

	olctlIn := func(args ...string) string {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Dir, c.Env = dir, env
		out, err := c.Output()
		if err != nil {
			t.Fatalf("olctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	var rep connectReport
	if err := json.Unmarshal([]byte(olctlIn("connect", "--json", "--yes", "--connector", "botframework", "--line", "1",
		"--bot-handle", "readme-bot", "--app-id", bftest.DefaultAppID, "--app-secret", bftest.DefaultAppSecret)), &rep); err != nil {
		t.Fatal(err)
	}
	if got, _ := lineStatusAt(t, filepath.Join(dir, defaultPortalDB), "botframework", "1"); got != connected {
		t.Fatalf("connect wrote %+v into the working directory's portal.db", got)
	}
	olctlIn("bf", "say", "--via", via, "--webhook", rep.WebhookURL, "--conversation", "c1", "--replies", "0", "hello :wave:")
	ev := waitEvent(t, serve.out.String, "customer message", func(ev eventJSON) bool { return ev.Event == EvReceivedMessage })
	if ev.ChatID != "c1" || ev.Line != "1" {
		t.Fatalf("event %+v", ev)
	}
}
