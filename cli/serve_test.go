package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/olctl/olctl/connector"
)

var portalReadyRE = regexp.MustCompile(`portal receiver listening on (http://[0-9.:]+)/pub/imconnector/`)

// waitLines waits until read returns at least n lines and returns them.
func waitLines(t *testing.T, read func() string, n int) []string {
	t.Helper()
	var lines []string
	waitFor(t, func() bool {
		lines = nil
		if s := strings.TrimSpace(read()); s != "" {
			lines = strings.Split(s, "\n")
		}
		return len(lines) >= n
	}, func() string { return fmt.Sprintf("wanted %d lines, have:\n%s", n, read()) })
	return lines
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
			var stats connector.QueueStats
			waitFor(t, func() bool {
				stats = connector.QueueStats{}
				run(t, runOpts{env: map[string]string{"OLCTL_CONNECTOR_DB": filepath.Join(dir, "connector.db")}},
					"connector", "queue", "stats", "--json").wantCode(t, 0).decodeJSON(t, &stats)
				return stats.Pending == 0 && len(stats.Lines) == 1 && stats.Dead == 0
			}, func() string { return fmt.Sprintf("queue not drained: %+v", stats) })
			if code := portalBG.stop(t); code != 0 {
				t.Fatalf("serve exited %d: %s", code, portalBG.err.String())
			}
		})
	}
}

// portalPair is a connector server and a portal receiver run as commands, with the environment that
// configures olctl for them.
type portalPair struct {
	dir    string
	env    map[string]string // server, licence key, domain of the portal; connector echo, line 2
	portal *background
}

// startPortalPair starts `olctl connector serve` and `olctl serve` with serveArgs on the portal database in a
// temporary directory.
func startPortalPair(t *testing.T, serveArgs ...string) *portalPair {
	t.Helper()
	dir := t.TempDir()
	key := map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey}
	_, cm := startBackground(t, key, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0",
		"--db", filepath.Join(dir, "connector.db"), "--log-level", "error")
	env := map[string]string{"OLCTL_SERVER": cm[1], "OLCTL_LICENCE_KEY": testLicenceKey}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error"}, serveArgs...)
	bg, pm := startBackground(t, env, portalReadyRE, args...)
	pair := &portalPair{dir: dir, portal: bg, env: map[string]string{"OLCTL_DOMAIN": pm[1], "OLCTL_CONNECTOR": "echo",
		"OLCTL_LINE": "2", envPortalDB: filepath.Join(dir, defaultPortalDB)}}
	for k, v := range env {
		pair.env[k] = v
	}
	return pair
}

// say posts an echo item to the line's webhook.
func say(t *testing.T, webhook, item string) {
	t.Helper()
	resp, err := http.Post(webhook, "application/json", strings.NewReader(item))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
}

// TestServeSwitches: the emoji switches and the big-file warning reach the pipeline, and
// --admit-unknown-lines lets in a line that has no status (connect --db "" wrote none).
func TestServeSwitches(t *testing.T) {
	item := `{"user":{"id":"u1"},"message":{"id":"m1","text":"ok :+1: :) :F09F918D:","failed_big_file":true},"chat":{"id":"c1"}}`
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"defaults", nil, "[b]Attention![/b]\n[i]Your contact attempted to send a very large file that we cannot deliver.\n" +
			"Please ask the user to send the file using other means (for example, file hosting service).[/i]\n\n" +
			"ok [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:] [ICON=/bitrix/images/emoji/1f642.svg?v=2.2.5 title=:)] " +
			"[ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:thumbsup:]"},
		{"no icons", []string{"--icons=false", "--big-file-warning", "TOO BIG: "}, "TOO BIG: ok :+1: :) 👍"},
		{"no smileys, no hex", []string{"--smileys=false", "--hex-escapes=false", "--big-file-warning", "! "},
			"! ok [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:] :) :F09F918D:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pair := startPortalPair(t, append(tt.args, "--admit-unknown-lines")...)
			var rep connectReport
			run(t, runOpts{env: pair.env}, "connect", "--json", "--set", "entity=e1", "--db", "").wantCode(t, 0).decodeJSON(t, &rep)
			if rep.LineStatus != nil {
				t.Fatalf("connect --db \"\" wrote a status: %+v", rep.LineStatus)
			}
			say(t, rep.WebhookURL, item)
			var ev eventJSON
			if err := json.Unmarshal([]byte(waitLines(t, pair.portal.out.String, 1)[0]), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Event != EvReceivedMessage || ev.Text == nil || *ev.Text != tt.want || !ev.FailedBigFile {
				t.Fatalf("event %+v, text %q, want %q", ev, *ev.Text, tt.want)
			}
		})
	}
}
