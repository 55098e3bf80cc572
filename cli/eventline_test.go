package cli

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/openlines"
)

// TestEventLinesGolden: the readable line of every kind of event.
func TestEventLinesGolden(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	text := func(s string) *string { return &s }
	ann := &eventUserJSON{ID: "u9", Name: "Ann", LastName: "Lee"}
	events := []eventJSON{
		{Event: EvReceivedMessage, Connector: "botframework.webchat", Line: "2", Type: "message", ChatID: "c9", MessageID: "m9",
			Text: text("thanks [ICON=…]"), RawText: text("thanks :+1:\nsee you"), User: ann, Files: []int64{4, 5}},
		{Event: EvReceivedMessageUpdate, Connector: "echo", Line: "2", Type: "message", ChatID: "c9", MessageID: "m9",
			RawText: text(strings.Repeat("long ", 50)), User: &eventUserJSON{ID: "u7"}},
		{Event: EvReceivedMessageDel, Connector: "echo", Line: "2", Type: "message", ChatID: "c9", MessageID: "m9", User: ann},
		{Event: EvReceivedCommandStart, Connector: "echo", Line: "2", Type: "command_start", ChatID: "c9", MessageID: "m10",
			RawText: text("/start"), User: ann, FileFailures: []eventFileFailure{{Index: 0, URL: "http://x", Code: "TOO_BIG"}},
			FailedBigFile: true},
		{Event: EvReceivedStatusDelivery, Connector: "echo", Line: "2", ChatID: "c9", IMMessageID: "op-1", ExternalIDs: []string{"echo-1"}},
		{Event: EvReceivedStatusReading, Connector: "vkgroup", Line: "2", ChatID: "c9", MessageID: "m9"},
		{Event: EvReceivedError, Connector: "botframework", Line: "2", ChatID: "c9", MessageID: "op-2",
			Error: &eventErrorJSON{Code: "CONNECTOR_NOT_SEND_MESSAGE_CHAT", Message: "the bot was removed"}},
		{Event: EvReceivedStatusBlock, Connector: "echo", Line: "2", ChatID: "c9", Type: "deny", User: ann},
		{Event: EvNewChatName, Connector: "echo", Line: "2", ChatID: "c9", ChatName: "Order #42"},
		{Event: EvUpdateStatusConnector, Connector: "botframework", Line: "1", Status: &openlines.LineStatus{Active: true, Error: true}},
		{Event: EvDeleteStatusConnector, Connector: "botframework", Line: "1", Status: &openlines.LineStatus{}},
	}
	var b strings.Builder
	for _, ev := range events {
		ev.At = at
		b.WriteString(eventLine(ev, time.UTC) + "\n")
	}
	golden(t, "serve-event-lines", b.String())
}

// TestServeOnATerminal: on a terminal `olctl serve` prints one readable line per event; with --json, and
// when piped (TestServePortalReceiver), one JSON line. Both stop with exit 0.
func TestServeOnATerminal(t *testing.T) {
	lineTime := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  `)
	for _, tc := range []struct {
		name string
		args []string
	}{{"readable", nil}, {"json", []string{"--json"}}} {
		t.Run(tc.name, func(t *testing.T) {
			creds := md5Creds()
			dir := t.TempDir()
			base := map[string]string{"OLCTL_LICENCE_KEY": creds.LicenceKey, "OLCTL_PORTAL_DB": filepath.Join(dir, "portal.db")}
			_, cm := startBackground(t, base, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0",
				"--db", filepath.Join(dir, "connector.db"), "--log-level", "error")
			env := map[string]string{"OLCTL_SERVER": cm[1]}
			for k, v := range base {
				env[k] = v
			}
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error"}, tc.args...)
			portalBG, pm := startBackgroundOn(t, env, true, portalReadyRE, args...)
			env["OLCTL_DOMAIN"], env["OLCTL_CONNECTOR"], env["OLCTL_LINE"] = pm[1], "echo", "2"
			var rep connectReport
			run(t, runOpts{env: env}, "connect", "--json", "--set", "entity=e2").wantCode(t, 0).decodeJSON(t, &rep)
			resp, err := http.Post(rep.WebhookURL, "application/json", strings.NewReader(
				`{"user":{"id":"u9","name":"Ann Lee"},"message":{"id":"m9","text":"thanks :+1:"},"chat":{"id":"c9"}}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			lines := waitLines(t, portalBG.out.String, 1)
			if code := portalBG.stop(t); code != 0 {
				t.Fatalf("serve exited %d:\n%s", code, portalBG.err.String())
			}
			if len(lines) != 1 {
				t.Fatalf("stdout:\n%s", portalBG.out.String())
			}
			if tc.name == "json" {
				var ev eventJSON
				if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.Event != EvReceivedMessage || ev.ChatID != "c9" {
					t.Fatalf("with --json on a terminal: %q (%v)", lines[0], err)
				}
				return
			}
			if !lineTime.MatchString(lines[0]) {
				t.Fatalf("line %q does not start with the time", lines[0])
			}
			golden(t, "serve-terminal", lineTime.ReplaceAllString(lines[0], "TIME  ")+"\n")
		})
	}
}
