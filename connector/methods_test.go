package connector

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/wire"
)

func callErr(t *testing.T, p *fakePortal, method, connector, line string, args ...any) wire.Code {
	t.Helper()
	_, err := p.call(context.Background(), method, connector, line, args...)
	if err == nil {
		return ""
	}
	var re *wire.ResponseError
	if !errors.As(err, &re) || len(re.Errors) == 0 {
		t.Fatalf("%s: not an OK:false answer: %v", method, err)
	}
	return re.Errors[0].Code
}

func TestRemoteMethods(t *testing.T) {
	p := newFakePortal(t, "key-methods", nil)
	s := newTestServer(t, p, Config{})
	settings := wire.NewMap("entity", "bot-1", "token", "s3cret", "name", "Echo bot")

	// Methods that need a line connector refuse before saveSettings.
	for _, m := range []string{"register", "readSettings", "infoConnect", "sendMessage", "unregister", "infoConnectLink"} {
		if code := callErr(t, p, m, "echo.x", "1"); code != wire.CodeNotActiveLine {
			t.Errorf("%s before saveSettings: %q, want NOT_ACTIVE_LINE", m, code)
		}
	}
	out := p.mustCall("SAVESETTINGS", "Echo.X", "1", settings) // case-insensitive method, lower-cased connector
	if !strings.Contains(out["URL_WEBHOOK"].(string), "/imwebhook/echo?h=") {
		t.Errorf("saveSettings: %v", out)
	}
	// readSettings masks secrets; sending the mask back keeps the stored secret.
	resp, err := p.call(context.Background(), "readSettings", "echo.x", "1")
	if err != nil || string(resp.Data) != `{"entity":"bot-1","name":"Echo bot","token":"********"}` {
		t.Fatalf("readSettings: %s %v", resp.Data, err)
	}
	p.mustCall("saveSettings", "echo.x", "1", wire.NewMap("entity", "bot-1", "token", SecretMask, "name", "Echo bot 2"))
	l, _ := s.store.lineBy(context.Background(), s.store.db, `connector = ?`, "echo.x")
	if l.params["token"] != "s3cret" || l.params["name"] != "Echo bot 2" {
		t.Errorf("stored params after a masked save: %v", l.params)
	}
	if out := p.mustCall("testConnect", "echo.x", "1"); out["RESULT"] != "OK" {
		t.Errorf("testConnect: %v", out)
	}
	// testConnect reached the portal's own endpoint with a signed testConnect.
	if pk := p.Packets(); len(pk) == 0 || pk[len(pk)-1].Command != "testConnect" || pk[len(pk)-1].Line != "1" {
		t.Errorf("the portal got no testConnect: %+v", pk)
	}
	out = p.mustCall("register", "echo.x", "1")
	if out["RESULT"] != "OK" || out["URL_WEBHOOK"] == nil || out["webhook"] == nil {
		t.Errorf("register: %v", out)
	}
	out = p.mustCall("infoConnect", "echo.x", "1")
	st, _ := out["STATUS"].(map[string]any)
	if out["ID"] != "echo.x" || st["ACTIVE"] != true || st["CONNECTION"] != true || st["REGISTER"] != true || st["ERROR"] != false || out["entity"] != "bot-1" {
		t.Errorf("infoConnect: %v", out)
	}
	if out := p.mustCall("infoConnectLink", "echo.x", "1"); out["URL_WEBHOOK"] == nil {
		t.Errorf("infoConnectLink: %v", out)
	}
	if out := p.mustCall("listConnector", "all", ""); out["echo"] != "echo" {
		t.Errorf("listConnector: %v", out)
	}
	p.mustCall("saveSettings", "echo.y", "1", wire.NewMap("name", "y"))
	out = p.mustCall("infoConnectorsLine", "all", "", "1")
	if len(out) != 2 || out["echo.x"] == nil || out["echo.y"] == nil {
		t.Errorf("infoConnectorsLine: %v", out)
	}
	// sendMessage goes to the channel; its delivery report is queued to the portal.
	msg := wire.NewMap("im", wire.NewMap("chat_id", "11", "message_id", "22"), "message", wire.NewMap("user_id", "1", "text", "hi"), "chat", wire.NewMap("id", "c-1"))
	if out := p.mustCall("sendMessage", "echo.x", "1", []any{msg}); out["COUNT"] != float64(1) {
		t.Errorf("sendMessage: %v", out)
	}
	ch, _ := s.Channel("echo")
	if sent := ch.(*Echo).Sent(); len(sent) != 1 || sent[0].Method != "sendMessage" || sent[0].Line != "1" {
		t.Errorf("channel got %+v", sent)
	}
	eventually.True(t, 5*time.Second, "receivingStatusDelivery at the portal", func() bool {
		for _, pk := range p.Packets() {
			if pk.Command == "receivingStatusDelivery" && scalarString(path(pk.Items[0], "im", "message_id")) == "22" {
				return true
			}
		}
		return false
	})
	for _, m := range []string{"setStatusReading", "initializeReceiveMessages"} {
		p.mustCall(m, "echo.x", "1", []any{})
	}
	if code := callErr(t, p, "noSuchMethod", "echo.x", "1"); code != wire.CodeMethodNotFound {
		t.Errorf("unknown method: %q", code)
	}
	if code := callErr(t, p, "saveSettings", "nochannel", "1", wire.NewMap("a", "b")); code != wire.CodeUnknownConnector {
		t.Errorf("unknown connector: %q", code)
	}
	if code := callErr(t, p, "saveSettings", "echo", "1", "not settings"); code != wire.CodeFailedSaveSettings {
		t.Errorf("bad settings: %q", code)
	}
	if code := callErr(t, p, "saveSettings", "echo", "1", wire.NewMap("entity_required", "Y")); code != wire.CodeFailedSaveSettings {
		t.Errorf("channel refusal: %q", code)
	}
	p.mustCall("saveSettings", "echo.f", "1", wire.NewMap("fail_test", "Y", "fail_register", "Y"))
	if code := callErr(t, p, "testConnect", "echo.f", "1"); code != wire.CodeFailedTestConnector {
		t.Errorf("failing test: %q", code)
	}
	if code := callErr(t, p, "register", "echo.f", "1"); code != wire.CodeFailedRegister {
		t.Errorf("failing register: %q", code)
	}
	out = p.mustCall("infoConnect", "echo.f", "1")
	if st, _ := out["STATUS"].(map[string]any); st["ERROR"] != true {
		t.Errorf("ERROR flag not set: %v", out)
	}
	// testConnect fails when the portal's endpoint does not answer.
	p.down.Store(true)
	if code := callErr(t, p, "testConnect", "echo.x", "1"); code != wire.CodeFailedTestConnector {
		t.Errorf("testConnect with the portal down: %q", code)
	}
	p.down.Store(false)
	p.mustCall("unregister", "echo.x", "1")
	p.mustCall("deleteConnector", "echo.y", "1")
	p.mustCall("deleteConnector", "echo.y", "1") // idempotent
	out = p.mustCall("deleteLine", "all", "", "1")
	if out["DELETED"] != float64(2) {
		t.Errorf("deleteLine: %v", out)
	}
	if out := p.mustCall("infoConnectorsLine", "all", "", "1"); len(out) != 0 {
		t.Errorf("after deleteLine: %v", out)
	}
}

// TestSendVirtualConnector sends for a virtual connector (echo.web) carried by the line's real one (echo): the
// channel gets the virtual id, and the delivery report goes back to the portal under it, the connector its
// chat belongs to.
func TestSendVirtualConnector(t *testing.T) {
	p := newFakePortal(t, "key-virtual", nil)
	s := newTestServer(t, p, Config{})
	p.connect("echo", "2", nil)
	msg := wire.NewMap("im", wire.NewMap("chat_id", "11", "message_id", "33"), "message", wire.NewMap("user_id", "1", "text", "hi"), "chat", wire.NewMap("id", "c-1"))
	if out := p.mustCall("sendMessage", "Echo.Web", "2", []any{msg}); out["COUNT"] != float64(1) {
		t.Fatalf("sendMessage: %v", out)
	}
	ch, _ := s.Channel("echo")
	if sent := ch.(*Echo).Sent(); len(sent) != 1 || sent[0].Line != "2" {
		t.Fatalf("channel got %+v", sent)
	}
	eventually.True(t, 5*time.Second, "receivingStatusDelivery at the portal", func() bool {
		for _, pk := range p.Packets() {
			if pk.Command == "receivingStatusDelivery" {
				if pk.Connector != "echo.web" || pk.Line != "2" {
					t.Fatalf("delivery report under connector %q line %q, want echo.web, 2", pk.Connector, pk.Line)
				}
				return true
			}
		}
		return false
	})
}

func TestUniquenessMovesEntity(t *testing.T) {
	a := newFakePortal(t, "key-portal-a", nil)
	b := newFakePortal(t, "key-portal-b", nil)
	s := newTestServer(t, a, Config{Sites: []Site{b.site()}})
	b.setServer(s.PortalEndpoint())
	oldHook := a.connect("echo.skype", "3", map[string]string{"entity": "app-123"})
	a.connect("echo.telegram", "3", map[string]string{"entity": "app-123"}) // same line: both keep it
	newHook := b.connect("echo.skype", "9", map[string]string{"entity": "app-123"})

	eventually.True(t, 5*time.Second, "deactivateConnector at portal A", func() bool {
		n := 0
		for _, pk := range a.Packets() {
			if pk.Command == "deactivateConnector" && pk.Line == "3" && len(pk.Items) == 0 {
				n++
			}
		}
		return n == 2
	})
	// The old line's connection data is gone: its webhook is dead, its methods refuse.
	if code, _ := postWebhook(t, oldHook, echoItems("c", 1, 1)); code != http.StatusNotFound {
		t.Errorf("old webhook answered %d, want 404", code)
	}
	if code := callErr(t, a, "readSettings", "echo.skype", "3"); code != wire.CodeNotActiveLine {
		t.Errorf("old line readSettings: %q", code)
	}
	if code, body := postWebhook(t, newHook, echoItems("c", 1, 1)); code != 200 {
		t.Errorf("new webhook: %d %s", code, body)
	}
	eventually.True(t, 5*time.Second, "delivery to portal B", func() bool { return len(b.Events()) == 1 })
	var owner struct {
		site int64
		line string
	}
	if err := s.store.db.QueryRow(`SELECT site_id, line FROM conn_entity WHERE entity_key = 'app-123'`).Scan(&owner.site, &owner.line); err != nil || owner.line != "9" {
		t.Errorf("entity owner: %+v %v", owner, err)
	}
	// Re-registering on the owner line moves nothing.
	before := len(b.Packets())
	b.mustCall("register", "echo.skype", "9")
	// register queues a deactivateConnector in its own transaction: once the dispatcher is idle, one is
	// either still queued or delivered.
	settle(t, s)
	if n := queueLen(t, s); n != 0 {
		t.Errorf("%d packets queued after the re-registration", n)
	}
	for _, pk := range b.Packets()[before:] {
		if pk.Command == "deactivateConnector" {
			t.Error("the owner was deactivated by its own re-registration")
		}
	}
}

// methodChannel is an echo channel with an extra method and its own infoConnectLink.
type methodChannel struct{ *Echo }

func (m methodChannel) ID() string { return "meth" }
func (m methodChannel) Methods() map[string]Method {
	return map[string]Method{
		"customPing": func(_ context.Context, l *Line, args []any) (any, error) {
			return map[string]any{"PONG": l.LineID, "ARGS": len(args)}, nil
		},
		"InfoConnectLink": func(_ context.Context, l *Line, _ []any) (any, error) {
			return map[string]any{"skype": "https://join.skype.com/bot/x"}, nil
		},
	}
}

func TestChannelMethods(t *testing.T) {
	chs := NewChannels()
	if err := chs.Register("meth", func(env Env) (Channel, error) {
		e, _ := NewEcho(env)
		return methodChannel{e.(*Echo)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	p := newFakePortal(t, "key-meth", nil)
	newTestServer(t, p, Config{Channels: chs})
	if out := p.mustCall("custompING", "meth.a", "4", "x", "y"); out["PONG"] != "4" || out["ARGS"] != float64(2) {
		t.Errorf("extra method: %v", out)
	}
	if out := p.mustCall("infoConnectLink", "meth.a", "4"); out["skype"] == nil {
		t.Errorf("overridden infoConnectLink: %v", out)
	}
	if code := callErr(t, p, "customPing", "echo", "4"); code != wire.CodeMethodNotFound {
		t.Errorf("another channel's method: %q", code)
	}
}
