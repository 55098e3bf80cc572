package cli

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/connector"
)

var portalReadyRE = regexp.MustCompile(`portal receiver listening on (http://[0-9.:]+)/pub/imconnector/`)

// waitLines waits until read returns at least n lines and returns them.
func waitLines(t *testing.T, read func() string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := strings.TrimSpace(read())
		var lines []string
		if s != "" {
			lines = strings.Split(s, "\n")
		}
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("wanted %d lines, have:\n%s", n, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServePortalReceiver runs the connector server and the portal receiver, connects a line and sends a
// customer message: the event is printed and the connector's queue drains. Under the legacy profile (both the
// connector's site and the portal) the queue drains only if the portal confirms the item with
// setStatusDelivered, since a legacy site's OK answer acknowledges nothing (docs/protocol.md §11).
func TestServePortalReceiver(t *testing.T) {
	for _, tc := range []struct {
		name    string
		toFile  bool
		profile string
	}{{"stdout", false, "current"}, {"events file", true, "current"}, {"legacy profile", false, "legacy"}} {
		toFile := tc.toFile
		t.Run(tc.name, func(t *testing.T) {
			creds := hmacCreds()
			base := map[string]string{"OLCTL_LICENCE_KEY": creds.LicenceKey, "OLCTL_SIGNING": "hmac-sha256",
				"OLCTL_SECRET": creds.Secrets[0], "OLCTL_PROFILE": tc.profile}
			dir := t.TempDir()
			_, cm := startBackground(t, base, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0",
				"--db", filepath.Join(dir, "connector.db"), "--log-level", "error")
			senv := map[string]string{"OLCTL_SERVER": cm[1]}
			for k, v := range base {
				senv[k] = v
			}
			args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error"}
			events := filepath.Join(dir, "events.jsonl")
			if toFile {
				args = append(args, "--events", events)
			}
			portalBG, pm := startBackground(t, senv, portalReadyRE, args...)
			if !strings.Contains(portalBG.err.String(), "profile "+tc.profile+")") {
				t.Fatalf("serve does not act as a %s portal: %s", tc.profile, portalBG.err.String())
			}

			env := map[string]string{"OLCTL_DOMAIN": pm[1], "OLCTL_CONNECTOR": "echo", "OLCTL_LINE": "2"}
			for k, v := range senv {
				env[k] = v
			}
			var rep connectReport
			run(t, runOpts{env: env}, "connect", "--json", "--set", "entity=e2", "--db", filepath.Join(dir, "portal.db")).
				wantCode(t, 0).decodeJSON(t, &rep)

			resp, err := http.Post(rep.WebhookURL, "application/json", strings.NewReader(
				`{"user":{"id":"u9","name":"Ann Lee"},"message":{"id":"m9","text":"thanks :+1:","date":1700000000},"chat":{"id":"c9"}}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			read := portalBG.out.String
			if toFile {
				read = func() string { b, _ := os.ReadFile(events); return string(b) }
			}
			lines := waitLines(t, read, 1)
			var ev eventJSON
			if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Event != EvReceivedMessage || ev.Connector != "echo" || ev.Line != "2" || ev.ChatID != "c9" || ev.MessageID != "m9" ||
				ev.Text == nil || *ev.Text != "thanks [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]" ||
				ev.RawText == nil || *ev.RawText != "thanks :+1:" || ev.UserID == "" || ev.User.Name != "Ann" || ev.User.LastName != "Lee" ||
				ev.Date == nil || ev.Date.Unix() != 1700000000 {
				t.Fatalf("event %s", lines[0])
			}
			if toFile && portalBG.out.String() != "" {
				t.Fatalf("events went to stdout too: %q", portalBG.out.String())
			}

			// The portal confirmed the item: the connector's queue drains.
			deadline := time.Now().Add(20 * time.Second)
			for {
				var stats connector.QueueStats
				run(t, runOpts{env: map[string]string{"OLCTL_CONNECTOR_DB": filepath.Join(dir, "connector.db")}},
					"connector", "queue", "stats", "--json").wantCode(t, 0).decodeJSON(t, &stats)
				if stats.Pending == 0 && len(stats.Lines) == 1 && stats.Dead == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("queue not drained: %+v", stats)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if code := portalBG.stop(t); code != 0 {
				t.Fatalf("serve exited %d: %s", code, portalBG.err.String())
			}
		})
	}
}
