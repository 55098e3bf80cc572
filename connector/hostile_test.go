package connector

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/olctl/olctl/wire"
)

// TestRegisterNeedsTestConnect: register is FAILED_REGISTER_CONNECTOR unless a testConnect of the line
// connector succeeded since its settings were last saved (docs/protocol.md §10).
func TestRegisterNeedsTestConnect(t *testing.T) {
	p := newFakePortal(t, "key-register", nil)
	newTestServer(t, p, Config{})
	p.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "e1"))
	if code := callErr(t, p, "register", "echo", "1"); code != wire.CodeFailedRegister {
		t.Fatalf("register without testConnect: %q", code)
	}
	p.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "e1", "fail_test", "Y"))
	if code := callErr(t, p, "testConnect", "echo", "1"); code != wire.CodeFailedTestConnector {
		t.Fatalf("failing testConnect: %q", code)
	}
	if code := callErr(t, p, "register", "echo", "1"); code != wire.CodeFailedRegister {
		t.Fatalf("register after a failed testConnect: %q", code)
	}
	p.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "e1"))
	p.mustCall("testConnect", "echo", "1")
	if out := p.mustCall("register", "echo", "1"); out["RESULT"] != "OK" {
		t.Fatalf("register after testConnect: %v", out)
	}
	// New settings need a new test.
	p.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "e2"))
	if code := callErr(t, p, "register", "echo", "1"); code != wire.CodeFailedRegister {
		t.Fatalf("register after new settings: %q", code)
	}
}

// TestEchoRefusesUnknownCommands: an echo item whose command no portal knows (or in another case) is
// refused at the webhook with BAD_PACKET naming it, and nothing of the body is queued.
func TestEchoRefusesUnknownCommands(t *testing.T) {
	p := newFakePortal(t, "key-echo-cmd", nil)
	s := newTestServer(t, p, Config{NoDispatch: true})
	hook := p.connect("echo", "1", nil)
	for _, cmd := range []string{"bogus", "receivingmessage", ""} {
		body := `[{"user":{"id":"u"},"message":{"id":"m1","text":"ok"},"chat":{"id":"c"}},` +
			`{"command":"` + cmd + `","user":{"id":"u"},"message":{"id":"m2","text":"x"},"chat":{"id":"c"}}]`
		status, b := postWebhook(t, hook, []byte(body))
		if status != http.StatusBadRequest || !strings.Contains(string(b), "BAD_PACKET") || !strings.Contains(string(b), "items[1].command") {
			t.Errorf("command %q: %d %s", cmd, status, b)
		}
	}
	if n := queueLen(t, s); n != 0 {
		t.Fatalf("%d items queued", n)
	}
}

// unauthorizedChannel refuses every webhook with 401, as a channel does for a bad token.
type unauthorizedChannel struct{ *Echo }

func (unauthorizedChannel) ID() string { return "locked" }
func (unauthorizedChannel) Receive(context.Context, *Line, *http.Request, []byte) ([]Incoming, error) {
	return nil, &StatusError{Status: http.StatusUnauthorized, Err: errors.New("no bearer token")}
}

// TestWebhookUnauthorized: a channel's 401 is answered 401 with the code UNAUTHORIZED and counted so in the
// metrics, not as INTERNAL_ERROR.
func TestWebhookUnauthorized(t *testing.T) {
	chs := NewChannels()
	if err := chs.Register("locked", func(env Env) (Channel, error) {
		e, _ := NewEcho(env)
		return unauthorizedChannel{e.(*Echo)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	p := newFakePortal(t, "key-401", nil)
	s := newTestServer(t, p, Config{Channels: chs})
	hook := p.connect("locked", "1", nil)
	status, b := postWebhook(t, hook, []byte(`{}`))
	if status != http.StatusUnauthorized || !strings.Contains(string(b), `"CODE":"UNAUTHORIZED"`) {
		t.Fatalf("answer %d %s", status, b)
	}
	if got := scrape(t, s.URL(), `olctl_connector_requests_total{code="UNAUTHORIZED",endpoint="webhook"}`); got != 1 {
		t.Errorf("UNAUTHORIZED webhooks = %v, want 1", got)
	}
	if got := scrape(t, s.URL(), `olctl_connector_requests_total{code="INTERNAL_ERROR",endpoint="webhook"}`); got != 0 {
		t.Errorf("INTERNAL_ERROR webhooks = %v, want 0", got)
	}
}
