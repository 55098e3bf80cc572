package portal_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// TestVectorsAcceptedAsTheyAre posts the PHP vectors of docs/protocol.md §12 as they are, each to a portal of
// its profile, and checks what each fires. The connector of every vector is botframework.skype (legacy) or
// botframework.webchat (current), lines connected.
func TestVectorsAcceptedAsTheyAre(t *testing.T) {
	bigfileText := portal.DefaultLocale.BigFile + "Here I am [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:thumbsup:]" +
		"\nMain office\n1 Example Street\nhttps://yandex.ru/maps/?ll=37.620795,55.75393&z=14&pt=37.620795,55.75393,comma"
	want := map[string][]string{
		"server_to_portal_receivingMessage": {`message botframework.skype/3 a:conv-42/1700000000001 user=u1 text="Привет [ICON=/bitrix/images/emoji/1f604.svg?v=2.2.5 title=:smile:] can you help? [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]"`},
		"server_to_portal_testConnect_hmac": nil,
		"server_to_portal_receivingMessage_current_empty_arrays": {
			`message botframework.webchat/3 wc-conv-7Hq2Lx/act-0001-wc user=u1 text="Is the order 0 ready?"`},
		"server_to_portal_receivingError_current": {
			`error botframework.webchat/3 chat=118 message=40211 user= CONNECTOR_NOT_SEND_MESSAGE_CHAT undelivered=40211 reconnect=false ` +
				`notice="Message could not be delivered[BR][BR]------------------------------------------------------\nThe messenger refused the message (HTTP 403)\n------------------------------------------------------"`},
		"server_to_portal_setChatName_current":                             {`chatname botframework.webchat/3 chat=wc-conv-7Hq2Lx user=wc-7Hq2Lx/ name="Ivan Sidorov (web chat)"`},
		"server_to_portal_receivingStatusBlock_deny_current":               {`block botframework.webchat/3 chat=wc-conv-7Hq2Lx user=wc-7Hq2Lx/ blocked=true`},
		"server_to_portal_receivingStatusBlock_allow_current":              {`block botframework.webchat/3 chat=wc-conv-7Hq2Lx user=wc-7Hq2Lx/ blocked=false`},
		"server_to_portal_receivingMessage_current_bigfile_location_emoji": {`message botframework.webchat/3 wc-conv-7Hq2Lx/act-0002-wc user=u1 text=` + strconv.Quote(bigfileText)},
	}
	n := 0
	for _, v := range routertest.LoadVectors(t, vectorsDir) {
		if !strings.HasPrefix(v.Name, "server_to_portal") {
			continue
		}
		n++
		t.Run(v.Name, func(t *testing.T) {
			wantEvents, ok := want[v.Name]
			if !ok {
				t.Fatalf("no expectation for the vector %s", v.Name)
			}
			var opts []rigOption
			if v.Profile == wire.Legacy {
				opts = append(opts, legacy)
			}
			r := newRig(t, v.Credentials(), nil, opts...)
			if err := r.p.SetLineStatus(context.Background(), v.Fields.Get("CONNECTOR"), v.Fields.Get("LINE"), openLine); err != nil {
				t.Fatal(err)
			}
			if ts := v.Fields.Get("BX_TIMESTAMP"); ts != "" {
				sec, _ := strconv.ParseInt(ts, 10, 64)
				r.clock.Set(time.Unix(sec+1, 0))
			}
			var log eventLog
			subscribeAll(r.p, &log)
			a := routertest.Post(t, nil, r.srv.URL, v.Fields.Encode())
			if a.Status != 200 || a.Err != nil {
				t.Fatalf("answer %d %s", a.Status, a.Body)
			}
			if got := log.all(); strings.Join(got, "\n") != strings.Join(wantEvents, "\n") {
				t.Fatalf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantEvents, "\n"))
			}
			switch v.Name {
			case "server_to_portal_testConnect_hmac":
				if string(a.Response.Data) != `{"RESULT":"OK"}` {
					t.Fatalf("testConnect: %s", a.Body)
				}
			case "server_to_portal_receivingMessage":
				m := log.messages()[0]
				if m.User.Name != "Анна" || m.User.LastName != "Петрова" || !m.Date.Equal(time.Unix(1700000000, 0)) {
					t.Fatalf("message %+v", m)
				}
				if !reflect.DeepEqual(m.Files, []portal.FileID{101}) || r.files.seen[0].URL != "http://127.0.0.1:9/files/report.pdf" ||
					r.files.seen[0].Name != "report.pdf" {
					t.Fatalf("files %v, asked %+v", m.Files, r.files.seen)
				}
				c, err := r.p.ChatContexts().Get(context.Background(), "a:conv-42", "botframework.skype")
				if err != nil || c.From.String("id") != "28:bot-id" || c.From.String("name") != "helpdesk-bot" ||
					c.ServiceURL != "https://smba.trafficmanager.net/apis/" {
					t.Fatalf("chat context %+v %v", c, err)
				}
				// A legacy portal confirms with setStatusDelivered.
				want := []confirmation{{"botframework.skype", "3", []openlines.StatusItem{delivered("a:conv-42", "1700000000001")}}}
				if got := r.confirm.all(); !reflect.DeepEqual(got, want) {
					t.Fatalf("confirmations %+v", got)
				}
			case "server_to_portal_receivingMessage_current_empty_arrays":
				m := log.messages()[0]
				if m.Type != openlines.MessageNew || len(m.Files) != 0 || len(m.Attachments) != 0 || m.User.LastName != "Sidorov" {
					t.Fatalf("message %+v", m)
				}
				// The whole recipient map is the chat's context, role included.
				c, err := r.p.ChatContexts().Get(context.Background(), "wc-conv-7Hq2Lx", "botframework.webchat")
				if err != nil || c.From.String("role") != "bot" {
					t.Fatalf("chat context %+v %v", c, err)
				}
			case "server_to_portal_receivingMessage_current_bigfile_location_emoji":
				m := log.messages()[0]
				loc := m.Attachments[0].Location
				if !m.FailedBigFile || loc == nil || loc.Coordinates.Latitude != "55.75393" || loc.Title != "Main office" ||
					m.RawText != "Here I am :F09F918D:" {
					t.Fatalf("message %+v", m)
				}
			}
			if v.Profile == wire.Current && len(r.confirm.all()) != 0 {
				t.Fatalf("a current portal confirmed: %+v", r.confirm.all())
			}
		})
	}
	if n != len(want) {
		t.Fatalf("%d server → portal vectors, %d expected", n, len(want))
	}
}

// TestEveryCommandInBothModes sends every command, signed either way, and checks the events each fires.
func TestEveryCommandInBothModes(t *testing.T) {
	type step struct {
		command string
		items   any
		events  []string
	}
	steps := []step{
		{command: openlines.CommandTestConnect},
		{command: openlines.CommandReceivingMessage, items: []any{
			msgItem("ext-1", "c1", "m1", "hello :wave:"),
			msgItem("ext-1", "c1", "m1", "hello again", "type_message", "message_update"),
			msgItem("ext-2", "c2", "m2", "", "type_message", "typing_start"),
			msgItem("ext-1", "c1", "m1", "", "type_message", "message_del"),
			msgItem("ext-1", "c1", "p1", "a post", "type_message", "post"),
			msgItem("ext-1", "c1", "p1", "a post, edited", "type_message", "POST_UPDATE"),
			msgItem("ext-1", "c1", "s1", "/start", "type_message", "command_start"),
			msgItem("ext-1", "c1", "w1", "", "type_message", "welcome"),
		}, events: []string{
			`message botframework.skype/3 c1/m1 user=u1 text="hello [ICON=/bitrix/images/emoji/1f44b.svg?v=2.2.5 title=:wave:]"`,
			`message_update botframework.skype/3 c1/m1 user=u1 text="hello again"`,
			`typing_start botframework.skype/3 c2/m2 user=u2 text=""`,
			`message_del botframework.skype/3 c1/m1 user=u1 text=""`,
			`post botframework.skype/3 c1/p1 user=u1 text="a post"`,
			`post_update botframework.skype/3 c1/p1 user=u1 text="a post, edited"`,
			`command_start botframework.skype/3 c1/s1 user=u1 text="/start"`,
		}},
		{command: openlines.CommandReceivingStatusDelivery, items: []any{
			wire.NewMap("im", wire.NewMap("chat_id", 12, "message_id", 345), "message", wire.NewMap("id", []any{"ext-m-9"}, "date", 1700000001), "chat", wire.NewMap("id", "c1")),
		}, events: []string{"delivery botframework.skype/3 im=12/345 ext=[ext-m-9] chat=c1"}},
		{command: openlines.CommandReceivingStatusReading, items: []any{
			wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "ext-m-9")),
			wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "ext-m-10")),
		}, events: []string{"reading botframework.skype/3 chat=c1 message=ext-m-9", "reading botframework.skype/3 chat=c1 message=ext-m-10"}},
		{command: openlines.CommandReceivingError, items: []any{
			wire.NewMap("code", "CONNECTOR_NOT_SEND_MESSAGE_CHAT", "chatId", 12, "messageId", 345, "userId", "ext-1",
				"messageConnector", "token expired", "params", wire.NewMap("errorCode", "CONNECTOR_HAS_EXPIRED_ACCESS_TOKEN_USER")),
			wire.NewMap("code", "CONNECTOR_ERROR_DELETE_MESSAGE", "chatId", 12, "messageId", 346),
			wire.NewMap("code", "SOMETHING_ELSE", "chatId", 12, "messageId", 347),
		}, events: []string{
			`error botframework.skype/3 chat=12 message=345 user=u1 CONNECTOR_NOT_SEND_MESSAGE_CHAT undelivered=345 reconnect=true ` +
				`notice="Message could not be delivered[BR]The connector's access has expired: connect it again.[BR][BR]------------------------------------------------------\ntoken expired\n------------------------------------------------------"`,
			`error botframework.skype/3 chat=12 message=346 user= CONNECTOR_ERROR_DELETE_MESSAGE undelivered= reconnect=false notice="Cannot delete message"`,
			`error botframework.skype/3 chat=12 message=347 user= SOMETHING_ELSE undelivered=347 reconnect=false notice=""`,
		}},
		{command: openlines.CommandReceivingStatusBlock, items: []any{
			wire.NewMap("chat", wire.NewMap("id", "c1"), "user", wire.NewMap("id", "ext-1"), "message", wire.NewMap("type", "message_deny")),
			wire.NewMap("chat", wire.NewMap("id", "c1"), "user", wire.NewMap("id", "ext-1"), "message", wire.NewMap("type", "message_allow")),
		}, events: []string{"block botframework.skype/3 chat=c1 user=ext-1/u1 blocked=true", "block botframework.skype/3 chat=c1 user=ext-1/u1 blocked=false"}},
		{command: openlines.CommandSetChatName, items: wire.NewMap("name", "Ann's questions", "chat_id", "c1", "user_id", "ext-1"),
			events: []string{`chatname botframework.skype/3 chat=c1 user=ext-1/u1 name="Ann's questions"`}},
		{command: openlines.CommandDeactivateConnector,
			events: []string{"status update botframework/3 ACTIVE=Y CONNECTION=Y REGISTER=Y ERROR=Y"}},
	}
	for _, creds := range []wire.Credentials{md5Creds, hmacCreds} {
		t.Run(string(creds.Mode), func(t *testing.T) {
			r := newRig(t, creds, nil)
			var log eventLog
			subscribeAll(r.p, &log)
			for _, s := range steps {
				t.Run(s.command, func(t *testing.T) {
					before := len(log.all())
					a := r.post(t, s.command, s.items)
					want := `{"OK":true,"DATA":[]}`
					if s.command == openlines.CommandTestConnect {
						want = `{"OK":true,"DATA":{"RESULT":"OK"}}`
					}
					if a.Status != 200 || a.Err != nil || string(a.Body) != want {
						t.Fatalf("answer %d %s, want data %s", a.Status, a.Body, want)
					}
					// The chats of a packet run at once: the order holds within each chat.
					got := byChat(log.all()[before:])
					if strings.Join(got, "\n") != strings.Join(byChat(s.events), "\n") {
						t.Fatalf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(s.events, "\n"))
					}
				})
			}
			st, found, err := r.p.LineStatus(context.Background(), "botframework.skype", "3")
			if err != nil || !found || !st.Error || !st.Active || st.Open() {
				t.Fatalf("status %+v %v %v", st, found, err)
			}
			if len(r.confirm.all()) != 0 {
				t.Fatalf("a current portal confirmed: %+v", r.confirm.all())
			}
			if creates, _ := r.users.stats(); creates != 2 {
				t.Fatalf("%d users created", creates)
			}
		})
	}
}

// TestBadInputStoresNothing sends the bad packets of the hostile-input list to a portal and checks that each
// is answered with its code and leaves no trace: no event, no confirmation, no user, no file, no row. An
// item that is invalid on its own never fails its packet: the packet is answered OK and the item reported
// locally (docs/protocol.md §5: item-level codes never appear in an answer).
func TestBadInputStoresNothing(t *testing.T) {
	good := []any{msgItem("ext-1", "c1", "m1", "hi", "recipient", wire.NewMap("id", "28:bot"), "service_url", "https://smba/")}
	b64 := func(s string) string { return base64Std(s) }
	type bad struct {
		name   string
		creds  wire.Credentials
		opts   []rigOption
		method string
		body   func(r *rig) string
		status int
		codes  []wire.Code
	}
	resign := func(r *rig, data string) string {
		f, err := r.send.Unsigned(openlines.CommandReceivingMessage, good)
		if err != nil {
			t.Fatal(err)
		}
		for i := range f {
			if f[i].Name == "DATA" {
				f[i].Value = data
			}
		}
		signed, err := r.send.Signer.Sign(f)
		if err != nil {
			t.Fatal(err)
		}
		return signed.Encode()
	}
	item := func(r *rig, it any) string { return r.send.Body(t, openlines.CommandReceivingMessage, []any{it}) }
	cases := []bad{
		{name: "missing BX_HASH", creds: md5Creds, body: func(r *rig) string {
			f := r.send.Fields(t, openlines.CommandReceivingMessage, good)
			return f[:len(f)-1].Encode()
		}, status: 200, codes: []wire.Code{wire.CodeHashEmpty}},
		{name: "wrong hash", creds: md5Creds, body: func(r *rig) string {
			s := routertest.NewSender(t, wire.Credentials{LicenceKey: "another-key"}, nil, "botframework.skype", "3")
			return s.Body(t, openlines.CommandReceivingMessage, good)
		}, status: 200, codes: []wire.Code{wire.CodeLicence}},
		{name: "hash over reordered fields", creds: hmacCreds, body: func(r *rig) string {
			f := r.send.Fields(t, openlines.CommandReceivingMessage, good)
			f[2], f[3] = f[3], f[2]
			return f.Encode()
		}, status: 200, codes: []wire.Code{wire.CodeLicence}},
		{name: "stale timestamp", creds: hmacCreds, body: func(r *rig) string {
			s := routertest.NewSender(t, hmacCreds, clock.NewFake(epoch.Add(-10*time.Minute)), "botframework.skype", "3")
			return s.Body(t, openlines.CommandReceivingMessage, good)
		}, status: 200, codes: []wire.Code{wire.CodeReplay}},
		{name: "md5 packet to an hmac receiver", creds: hmacCreds, body: func(r *rig) string {
			s := routertest.NewSender(t, md5Creds, nil, "botframework.skype", "3")
			return s.Body(t, openlines.CommandReceivingMessage, good)
		}, status: 200, codes: []wire.Code{wire.CodeLicence}},
		{name: "bad base64", creds: md5Creds, body: func(r *rig) string { return resign(r, "!!!") }, status: 200, codes: []wire.Code{wire.CodeBadPacket}},
		{name: "bad serialize", creds: md5Creds, body: func(r *rig) string { return resign(r, b64(`a:1:{i:0;a:1:{s:4:"user"`)) }, status: 200, codes: []wire.Code{wire.CodeBadPacket}},
		{name: "an object in DATA", creds: md5Creds, body: func(r *rig) string {
			return resign(r, b64(`a:1:{i:0;O:8:"stdClass":1:{s:4:"user";a:1:{s:2:"id";s:1:"x";}}}`))
		}, status: 200, codes: []wire.Code{wire.CodeBadPacket}},
		{name: "an item without user.id", creds: md5Creds, body: func(r *rig) string { return item(r, msgItem("", "c1", "m1", "hi")) }, status: 200},
		{name: "an item without user", creds: md5Creds, body: func(r *rig) string {
			return item(r, wire.NewMap("message", wire.NewMap("id", "m1"), "chat", wire.NewMap("id", "c1")))
		}, status: 200},
		{name: "an item without chat.id", creds: md5Creds, body: func(r *rig) string { return item(r, msgItem("ext-1", "", "m1", "hi")) }, status: 200},
		{name: "an item of an unknown type", creds: md5Creds, body: func(r *rig) string {
			return item(r, msgItem("ext-1", "c1", "m1", "hi", "type_message", "reaction"))
		}, status: 200},
		{name: "an item that is not an array", creds: md5Creds, body: func(r *rig) string { return item(r, "just text") }, status: 200},
		{name: "unknown command", creds: md5Creds, body: func(r *rig) string {
			return r.send.Body(t, "receivingMessages", good)
		}, status: 200, codes: []wire.Code{wire.CodeUnknownCommand}},
		{name: "a line not connected", creds: md5Creds, opts: []rigOption{closed}, body: func(r *rig) string {
			return r.send.Body(t, openlines.CommandReceivingMessage, good)
		}, status: 200, codes: []wire.Code{wire.CodeNotActiveLine}},
		{name: "GET", creds: md5Creds, method: http.MethodGet, body: func(r *rig) string { return "" }, status: 405, codes: []wire.Code{wire.CodeMethodNotAllowed}},
		{name: "oversize body", creds: md5Creds, body: func(r *rig) string {
			return r.send.Body(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", strings.Repeat("é", 5<<20))})
		}, status: 413, codes: []wire.Code{wire.CodeRequestEntityTooLarge}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, c.creds, nil, c.opts...)
			var log eventLog
			subscribeAll(r.p, &log)
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			a := routertest.Do(t, nil, method, r.srv.URL, c.body(r))
			if a.Status != c.status || len(a.Codes())+len(c.codes) > 0 && !reflect.DeepEqual(a.Codes(), c.codes) {
				t.Fatalf("answer %d %s, want %d %v", a.Status, a.Body, c.status, c.codes)
			}
			assertNothingStored(t, r, &log)
		})
	}
	t.Run("reused nonce", func(t *testing.T) {
		r := newRig(t, hmacCreds, nil)
		body := r.send.Body(t, openlines.CommandReceivingMessage, good)
		if a := routertest.Post(t, nil, r.srv.URL, body); a.Err != nil {
			t.Fatal(a.Err)
		}
		var log eventLog
		subscribeAll(r.p, &log)
		a := routertest.Post(t, nil, r.srv.URL, body)
		if !reflect.DeepEqual(a.Codes(), []wire.Code{wire.CodeReplay}) || len(log.all()) != 0 {
			t.Fatalf("answer %s, events %v", a.Body, log.all())
		}
	})
	t.Run("a subscriber that panics", func(t *testing.T) {
		r := newRig(t, md5Creds, nil).manualRetries()
		r.p.OnReceivedMessage(func(context.Context, portal.Message) error { panic("subscriber bug") })
		r.postOK(t, openlines.CommandReceivingMessage, good)
		// Kept for a retry, with the panic as its error.
		var lastErr string
		if err := r.db.QueryRow(`SELECT last_error FROM olctl_portal_items WHERE state = 0`).Scan(&lastErr); err != nil ||
			!strings.Contains(lastErr, "subscriber bug") {
			t.Fatalf("stored error %q %v", lastErr, err)
		}
	})
}

func assertNothingStored(t *testing.T, r *rig, log *eventLog) {
	t.Helper()
	if ev := log.all(); len(ev) != 0 {
		t.Errorf("events fired: %v", ev)
	}
	if c := r.confirm.all(); len(c) != 0 {
		t.Errorf("confirmed: %+v", c)
	}
	if _, calls := r.users.stats(); calls != 0 {
		t.Errorf("%d user syncs", calls)
	}
	if n := r.files.count(); n != 0 {
		t.Errorf("%d files imported", n)
	}
	for _, table := range []string{"olctl_portal_items", "olctl_bf_context"} {
		if n := countRows(t, r.db, table); n != 0 {
			t.Errorf("%d rows in %s", n, table)
		}
	}
}

// TestLineGate: receivingMessage and setChatName for a line that is not ACTIVE, CONNECTION and REGISTER
// without ERROR are refused with NOT_ACTIVE_LINE and nothing processed; the status is the real connector's;
// a deactivated line is refused until it is connected again; other commands pass; AdmitUnknownLines admits a
// line with no status, never a closed one.
func TestLineGate(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		r := newRig(t, md5Creds, db, closed)
		var log eventLog
		subscribeAll(r.p, &log)
		msg := []any{msgItem("ext-1", "c1", "m1", "hello")}
		name := wire.NewMap("name", "n", "chat_id", "c1", "user_id", "ext-1")
		refused := func(what string, command string, items any) {
			t.Helper()
			if a := r.post(t, command, items); !reflect.DeepEqual(a.Codes(), []wire.Code{wire.CodeNotActiveLine}) {
				t.Fatalf("%s: answer %s", what, a.Body)
			}
		}
		refused("no status", openlines.CommandReceivingMessage, msg)
		refused("no status", openlines.CommandSetChatName, name)
		for _, s := range []openlines.LineStatus{{Active: true}, {Active: true, Connection: true}, {Connection: true, Register: true},
			{Active: true, Connection: true, Register: true, Error: true}} {
			if err := r.p.SetLineStatus(ctx, "botframework", "3", s); err != nil {
				t.Fatal(err)
			}
			refused(fmtStatus(s), openlines.CommandReceivingMessage, msg)
		}
		// Another line, and another real connector's line, stay closed.
		if err := r.p.SetLineStatus(ctx, "botframework.telegram", "3", openLine); err != nil { // a virtual id: stored as botframework
			t.Fatal(err)
		}
		other := routertest.NewSender(t, md5Creds, r.clock, "vkgroup", "3")
		if a := routertest.Post(t, nil, r.srv.URL, other.Body(t, openlines.CommandReceivingMessage, msg)); !reflect.DeepEqual(a.Codes(), []wire.Code{wire.CodeNotActiveLine}) {
			t.Fatalf("another real connector: %s", a.Body)
		}
		if len(log.messages()) != 0 || countRows(t, db, "olctl_portal_items") != 0 {
			t.Fatal("a refused packet was processed")
		}
		r.postOK(t, openlines.CommandReceivingMessage, msg)
		r.postOK(t, openlines.CommandSetChatName, name)
		// deactivateConnector (not gated itself) shuts the gate until the line is connected again.
		r.postOK(t, openlines.CommandDeactivateConnector, nil)
		refused("deactivated", openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m2", "hello")})
		r.postOK(t, openlines.CommandReceivingStatusReading, []any{wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "x"))})
		if err := r.p.SetLineStatus(ctx, "botframework", "3", openLine); err != nil {
			t.Fatal(err)
		}
		r.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m2", "hello")})
		if n := len(log.messages()); n != 2 {
			t.Fatalf("%d messages", n)
		}

		// AdmitUnknownLines: a line with no status passes, a stored closed one does not.
		a := newRig(t, md5Creds, db, closed, func(c *portal.Config) { c.AdmitUnknownLines = true })
		a.send = routertest.NewSender(t, md5Creds, a.clock, "telegrambot", "9")
		a.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c9", "m1", "hi")})
		if err := a.p.SetLineStatus(ctx, "telegrambot", "9", openlines.LineStatus{Active: true}); err != nil {
			t.Fatal(err)
		}
		if got := a.post(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c9", "m2", "hi")}); !reflect.DeepEqual(got.Codes(), []wire.Code{wire.CodeNotActiveLine}) {
			t.Fatalf("a closed line with AdmitUnknownLines: %s", got.Body)
		}
	})
}

func fmtStatus(s openlines.LineStatus) string {
	var b strings.Builder
	for _, f := range []struct {
		on   bool
		name string
	}{{s.Active, "ACTIVE"}, {s.Connection, "CONNECTION"}, {s.Register, "REGISTER"}, {s.Error, "ERROR"}} {
		if f.on {
			b.WriteString(f.name + " ")
		}
	}
	return b.String()
}

// TestStatusEvents: a line's status changes made through the portal fire OnAddStatusConnector,
// OnUpdateStatusConnector and OnDeleteStatusConnector with the real connector id and Bitrix's Y/N fields.
func TestStatusEvents(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, md5Creds, nil, closed)
	var log eventLog
	subscribeAll(r.p, &log)
	store := r.p.LineStatuses()
	if err := store.SetLineStatus(ctx, "botframework.skype", "7", openlines.LineStatus{Active: true}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetLineStatus(ctx, "botframework", "7", openLine); err != nil {
		t.Fatal(err)
	}
	if st, err := store.LineStatus(ctx, "botframework.webchat", "7"); err != nil || st != openLine {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := r.p.DeleteLineStatus(ctx, "botframework", "7"); err != nil {
		t.Fatal(err)
	}
	if err := r.p.DeleteLineStatus(ctx, "botframework", "7"); err != nil { // nothing stored: no event
		t.Fatal(err)
	}
	want := []string{
		"status add botframework/7 ACTIVE=Y CONNECTION=N REGISTER=N ERROR=N",
		"status update botframework/7 ACTIVE=Y CONNECTION=Y REGISTER=Y ERROR=N",
		"status delete botframework/7 ACTIVE=Y CONNECTION=Y REGISTER=Y ERROR=N",
	}
	if got := log.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events\n%s", strings.Join(got, "\n"))
	}
	if _, found, err := r.p.LineStatus(ctx, "botframework", "7"); err != nil || found {
		t.Fatalf("deleted status found %v %v", found, err)
	}
}

// TestBlockAndUnblock: a subscriber tells a block from an unblock.
func TestBlockAndUnblock(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	var blocked []bool
	r.p.OnReceivedStatusBlock(func(_ context.Context, s portal.StatusBlock) error {
		blocked = append(blocked, s.Blocked)
		return nil
	})
	block := func(typ string) any {
		return []any{wire.NewMap("chat", wire.NewMap("id", "c1"), "user", wire.NewMap("id", "ext-1"), "message", wire.NewMap("type", typ))}
	}
	r.postOK(t, openlines.CommandReceivingStatusBlock, block("message_deny"))
	r.postOK(t, openlines.CommandReceivingStatusBlock, block("message_allow"))
	r.postOK(t, openlines.CommandReceivingStatusBlock, block("MESSAGE_DENY"))
	r.postOK(t, openlines.CommandReceivingStatusBlock, block("maybe")) // neither: rejected, no event
	if !reflect.DeepEqual(blocked, []bool{true, false, true}) {
		t.Fatalf("blocked %v", blocked)
	}
}

// TestAcknowledgementPerProfile: a legacy portal confirms with one setStatusDelivered after processing —
// every item processed, kept for a retry, duplicate or invalid for good; a current portal calls nothing and
// its OK answer acknowledges the packet.
func TestAcknowledgementPerProfile(t *testing.T) {
	items := []any{
		msgItem("ext-1", "c1", "m1", "processed"),
		msgItem("ext-1", "c1", "m2", "its file fails for now", "message",
			wire.NewMap("id", "m2", "text", "x", "files", []any{wire.NewMap("url", "http://files/flaky.png")})),
		msgItem("ext-1", "c1", "m1", "processed"), // a duplicate in the same packet
		msgItem("", "c1", "m3", "no user.id"),     // invalid for good
		msgItem("ext-1", "c1", "m4", "", "message", wire.NewMap("id", "m4", "files", []any{wire.NewMap("url", "http://files/404.png")})), // nothing left: rejected
	}
	want := []openlines.StatusItem{delivered("c1", "m1"), delivered("c1", "m2"), delivered("c1", "m1"), delivered("c1", "m3"), delivered("c1", "m4")}
	for _, profile := range []wire.Profile{wire.Legacy, wire.Current} {
		t.Run(profile.String(), func(t *testing.T) {
			r := newRig(t, md5Creds, nil, func(c *portal.Config) { c.Profile = profile }).manualRetries()
			r.files.setDown(true)
			var log eventLog
			subscribeAll(r.p, &log)
			r.postOK(t, openlines.CommandReceivingMessage, items)
			r.postOK(t, openlines.CommandReceivingMessage, items[:1]) // sent again: a duplicate
			if n := len(log.messages()); n != 1 {
				t.Fatalf("%d messages: %v", n, log.all())
			}
			got := r.confirm.all()
			if profile == wire.Current {
				if len(got) != 0 {
					t.Fatalf("a current portal confirmed %+v", got)
				}
				return
			}
			wantCalls := []confirmation{{"botframework.skype", "3", want}, {"botframework.skype", "3", want[:1]}}
			if !reflect.DeepEqual(got, wantCalls) {
				t.Fatalf("confirmations\n%+v\nwant\n%+v", got, wantCalls)
			}
			// What was never taken was not stored: the packet failing to store its items is not confirmed.
			if states := r.itemStates(t); states != [4]int{1, 1, 1, 0} {
				t.Fatalf("items pending, done, rejected, dead: %v", states)
			}
		})
	}
	t.Run("storing fails", func(t *testing.T) {
		db := testdb.SQLite(t)
		r := newRig(t, md5Creds, db, legacy)
		if _, err := db.Exec(`DROP TABLE olctl_portal_items`); err != nil {
			t.Fatal(err)
		}
		a := r.post(t, openlines.CommandReceivingMessage, items[:1])
		if !reflect.DeepEqual(a.Codes(), []wire.Code{wire.CodeInternal}) || len(r.confirm.all()) != 0 {
			t.Fatalf("answer %s, confirmations %+v", a.Body, r.confirm.all())
		}
	})
}

// TestDuplicates: each item is processed at most once (docs/protocol.md §8.1), keyed by connector, line,
// chat, message id and type, with a digest for edits; without message.id, a digest of the item.
func TestDuplicates(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newRig(t, md5Creds, db)
		var log eventLog
		subscribeAll(r.p, &log)
		items := []any{
			msgItem("ext-1", "c1", "m1", "hello"),
			msgItem("ext-1", "c1", "m1", "edit 1", "type_message", "message_update"),
			msgItem("ext-1", "c1", "", "no id"),
			msgItem("ext-1", "c1", "", "", "type_message", "typing_start"),
		}
		for range 3 {
			r.postOK(t, openlines.CommandReceivingMessage, items)
		}
		// A second, different edit of m1, its deletion, and another item without id are new.
		r.postOK(t, openlines.CommandReceivingMessage, []any{
			msgItem("ext-1", "c1", "m1", "edit 2", "type_message", "message_update"),
			msgItem("ext-1", "c1", "m1", "", "type_message", "message_del"),
			msgItem("ext-1", "c1", "", "no id, other text"),
		})
		want := []string{
			`message botframework.skype/3 c1/m1 user=u1 text="hello"`,
			`message_update botframework.skype/3 c1/m1 user=u1 text="edit 1"`,
			`message botframework.skype/3 c1/ user=u1 text="no id"`,
			`typing_start botframework.skype/3 c1/ user=u1 text=""`,
			`typing_start botframework.skype/3 c1/ user=u1 text=""`,
			`typing_start botframework.skype/3 c1/ user=u1 text=""`,
			`message_update botframework.skype/3 c1/m1 user=u1 text="edit 2"`,
			`message_del botframework.skype/3 c1/m1 user=u1 text=""`,
			`message botframework.skype/3 c1/ user=u1 text="no id, other text"`,
		}
		if got := log.all(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events\n%s", strings.Join(got, "\n"))
		}
		// The same message on another line or connector is another item.
		other := routertest.NewSender(t, md5Creds, nil, "botframework.skype", "4")
		if a := routertest.Post(t, nil, r.srv.URL, other.Body(t, openlines.CommandReceivingMessage, items[:1])); a.Err != nil {
			t.Fatalf("other line: %s", a.Body)
		}
		if n := len(log.messages()); n != len(want)+1 {
			t.Fatalf("%d events", n)
		}
	})
}

// TestConcurrentRedeliveryFiresOnce: the same packet sent eight times at once fires each item once.
func TestConcurrentRedeliveryFiresOnce(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	fired := make(chan string, 100)
	r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error { fired <- m.MessageID; return nil })
	body := r.send.Body(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "a"), msgItem("ext-1", "c1", "m2", "b")})
	const n = 8
	answers := make(chan routertest.Answer, n)
	for range n {
		go func() { answers <- routertest.Post(t, nil, r.srv.URL, body) }()
	}
	for range n {
		if a := <-answers; a.Err != nil {
			t.Fatalf("answer %s", a.Body)
		}
	}
	close(fired)
	count := map[string]int{}
	for id := range fired {
		count[id]++
	}
	if !reflect.DeepEqual(count, map[string]int{"m1": 1, "m2": 1}) {
		t.Fatalf("fired %v", count)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	ctx := context.Background()
	db := testdb.SQLite(t)
	fakes := func(c portal.Config) portal.Config {
		c.DB = db
		c.Users, c.Files, c.Confirmer = &fakeUsers{}, &fakeFiles{}, &fakeConfirmer{}
		return c
	}
	cases := []struct {
		name string
		cfg  portal.Config
	}{
		{"no credentials", fakes(portal.Config{})},
		{"hmac without secret", fakes(portal.Config{Credentials: wire.Credentials{Mode: wire.HMACSHA256}})},
		{"no database", portal.Config{Credentials: md5Creds, Users: &fakeUsers{}, Files: &fakeFiles{}, Confirmer: &fakeConfirmer{}}},
		{"no server for the client", portal.Config{Credentials: md5Creds, DB: db, Users: &fakeUsers{}, Files: &fakeFiles{}}},
		{"a retry delay that is not positive", fakes(portal.Config{Credentials: md5Creds, Retry: portal.RetryPolicy{Schedule: []time.Duration{time.Minute, 0}}})},
		{"a virtual connector to serve", fakes(portal.Config{Credentials: md5Creds, Connectors: []string{"botframework.skype"}})},
		{"bad DSN", portal.Config{Credentials: md5Creds, DSN: "oracle://x", Users: &fakeUsers{}, Files: &fakeFiles{}, Confirmer: &fakeConfirmer{}}},
	}
	for i, c := range cases {
		p, err := portal.New(ctx, c.cfg)
		if err == nil {
			_ = p.Close()
			t.Errorf("%s: no error", c.name)
			continue
		}
		if i < len(cases)-1 && !errors.Is(err, portal.ErrConfig) {
			t.Errorf("%s: %v is not ErrConfig", c.name, err)
		}
	}
}

// byChat sorts events stably by their third field up to its slash (the chat of a message event), keeping
// the order of each chat's events.
func byChat(events []string) []string {
	key := func(e string) string {
		f := strings.Fields(e)
		if len(f) < 3 {
			return ""
		}
		k, _, _ := strings.Cut(f[2], "/")
		return k
	}
	out := slices.Clone(events)
	slices.SortStableFunc(out, func(a, b string) int { return strings.Compare(key(a), key(b)) })
	return out
}
