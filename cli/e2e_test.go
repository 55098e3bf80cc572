package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
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
