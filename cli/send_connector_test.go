package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/wire"
)

// TestSendFindsTheChatsConnector: a chat whose context the portal keeps under a virtual connector
// (botframework.webchat, as its messages came) is answered with that connector when --connector is the real
// one, and refused by name with another virtual one.
func TestSendFindsTheChatsConnector(t *testing.T) {
	path := portalDBWithContext(t, bfcontext.Context{ChatID: "c1", Connector: "botframework.webchat",
		From: wire.NewMap("id", "28:bot", "name", "Bot"), ServiceURL: "https://webchat.example.com/"})
	fs := newFakeServer(t, md5Creds())
	fs.answer("sendMessage", func(fakeCall) (any, error) { return true, nil })

	tests := []struct {
		name, connector, chat string
		code                  int
		sentWith              string // the CONNECTOR of the call, "" for none
		out, err              string
	}{
		{"the real id finds the virtual one", "botframework", "c1", 0, "botframework.webchat",
			"sent message m to chat c1 (botframework.webchat, line 3)\n",
			"chat c1 is known under botframework.webchat: sending with --connector botframework.webchat\n"},
		{"the virtual id as stored", "botframework.webchat", "c1", 0, "botframework.webchat",
			"sent message m to chat c1 (botframework.webchat, line 3)\n", ""},
		{"another virtual id", "botframework.skype", "c1", ExitUsage, "", "",
			"olctl: chat c1 is known under --connector botframework.webchat, not botframework.skype\n"},
		{"a chat the portal never saw", "botframework", "c9", 0, "botframework", "sent message m to chat c9 (botframework, line 3)\n",
			"olctl: warning: no Bot Framework context of chat c9 in DB: the message goes without the bot account and service URL " +
				"to answer through (is --db the database of the olctl serve that took the chat's messages?)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fs.received())
			r := run(t, runOpts{env: fs.env("OLCTL_CONNECTOR", tt.connector)}, "send", "--chat", tt.chat, "--db", path,
				"--message-id", "m", "hi").wantCode(t, tt.code)
			if r.out != tt.out || strings.ReplaceAll(r.err, path, "DB") != tt.err {
				t.Fatalf("stdout %q\nstderr %q", r.out, r.err)
			}
			calls := fs.received()[before:]
			if tt.sentWith == "" {
				if len(calls) != 0 {
					t.Fatalf("sent %+v", calls)
				}
				return
			}
			if len(calls) != 1 || calls[0].Connector != tt.sentWith {
				t.Fatalf("calls %+v, want one with %s", calls, tt.sentWith)
			}
			if tt.chat == "c1" && !regexp.MustCompile(`service_url=https://webchat.example.com/`).MatchString(describeValue(calls[0].Args)) {
				t.Fatalf("the chat's context was not merged: %s", describeValue(calls[0].Args))
			}
		})
	}
}
