package portal_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

func TestVectorsAcceptedAsTheyAre(t *testing.T) {
	n := 0
	for _, v := range routertest.LoadVectors(t, vectorsDir) {
		if !strings.HasPrefix(v.Name, "server_to_portal") {
			continue
		}
		n++
		t.Run(v.Name, func(t *testing.T) {
			r := newRig(t, v.Credentials(), nil)
			if ts := v.Fields.Get(wire.FieldTimestamp); ts != "" {
				sec, _ := strconv.ParseInt(ts, 10, 64)
				r.clock.Set(time.Unix(sec+1, 0))
			}
			var log eventLog
			subscribeAll(r.p, &log)
			a := routertest.Post(t, nil, r.srv.URL, v.Fields.Encode())
			if a.Status != 200 || a.Err != nil {
				t.Fatalf("answer %d %s", a.Status, a.Body)
			}
			if v.Fields.Get(wire.FieldCommand) == openlines.CommandTestConnect {
				if string(a.Response.Data) != `{"RESULT":"OK"}` || len(log.all()) != 0 {
					t.Fatalf("testConnect: %s %v", a.Body, log.all())
				}
				return
			}
			msgs := log.messages()
			if len(msgs) != 1 {
				t.Fatalf("events %v", log.all())
			}
			m := msgs[0]
			wantText := "Привет [ICON=/bitrix/images/emoji/1f604.svg?v=2.2.5 title=:smile:] can you help? [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]"
			if m.Text != wantText || m.RawText != "Привет :smile: can you help? :+1:" {
				t.Fatalf("text %q", m.Text)
			}
			if m.Connector != "botframework.skype" || m.Line != "3" || m.Type != openlines.MessageNew || m.Chat.ID != "a:conv-42" ||
				m.MessageID != "1700000000001" || !m.Date.Equal(time.Unix(1700000000, 0)) || m.UserID != "u1" || m.User.ID != "29:1A2b3C" {
				t.Fatalf("message %+v", m)
			}
			if !reflect.DeepEqual(m.Files, []portal.FileID{101}) || len(m.FileFailures) != 0 {
				t.Fatalf("files %v %v", m.Files, m.FileFailures)
			}
			if r.files.seen[0].URL != "http://127.0.0.1:9/files/report.pdf" || r.files.seen[0].Name != "report.pdf" {
				t.Fatalf("files asked %+v", r.files.seen)
			}
			c, err := r.p.ChatContexts().Get(context.Background(), "a:conv-42", "botframework.skype")
			if err != nil || c.From != (bfcontext.Account{ID: "28:bot-id", Name: "helpdesk-bot"}) || c.ServiceURL != "https://smba.trafficmanager.net/apis/" {
				t.Fatalf("chat context %+v %v", c, err)
			}
			want := []confirmation{{"botframework.skype", "3", []portal.Delivered{{ChatID: "a:conv-42", MessageID: "1700000000001"}}}}
			if got := r.confirm.all(); !reflect.DeepEqual(got, want) {
				t.Fatalf("confirmations %+v", got)
			}
			if string(a.Response.Data) != `{"RESULT":"OK","CONFIRMED":1,"DUPLICATES":0}` {
				t.Fatalf("answer %s", a.Body)
			}
		})
	}
	if n < 2 {
		t.Fatalf("%d server → portal vectors", n)
	}
}

func TestEveryCommandInBothModes(t *testing.T) {
	type step struct {
		command string
		items   any
		events  []string
		data    string
	}
	steps := []step{
		{command: openlines.CommandTestConnect, data: `{"RESULT":"OK"}`},
		{command: openlines.CommandReceivingMessage, items: []any{
			msgItem("ext-1", "c1", "m1", "hello :wave:"),
			msgItem("ext-1", "c1", "m1", "hello again", "type_message", "message_update"),
			msgItem("ext-2", "c2", "m2", "", "type_message", "typing_start"),
			msgItem("ext-1", "c1", "m1", "", "type_message", "message_del"),
			msgItem("ext-1", "c1", "p1", "a post", "type_message", "post"),
			msgItem("ext-1", "c1", "p1", "a post, edited", "type_message", "post_update"),
		}, events: []string{
			`message botframework.skype/3 c1/m1 user=u1 text="hello [ICON=/bitrix/images/emoji/1f44b.svg?v=2.2.5 title=:wave:]"`,
			`message_update botframework.skype/3 c1/m1 user=u1 text="hello again"`,
			`typing_start botframework.skype/3 c2/m2 user=u2 text=""`,
			`message_del botframework.skype/3 c1/m1 user=u1 text=""`,
			`post botframework.skype/3 c1/p1 user=u1 text="a post"`,
			`post_update botframework.skype/3 c1/p1 user=u1 text="a post, edited"`,
		}, data: `{"RESULT":"OK","CONFIRMED":6,"DUPLICATES":0}`},
		{command: openlines.CommandReceivingStatusDelivery, items: []any{
			wire.NewMap("im", wire.NewMap("chat_id", 12, "message_id", 345), "message", wire.NewMap("id", "ext-m-9", "date", 1700000001), "chat", wire.NewMap("id", "c1")),
		}, events: []string{"delivery botframework.skype/3 im=12/345 ext=ext-m-9 chat=c1"}, data: `{"RESULT":"OK"}`},
		{command: openlines.CommandReceivingStatusReading, items: []any{
			wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "ext-m-9")),
			wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "ext-m-10")),
		}, events: []string{"reading botframework.skype/3 chat=c1 message=ext-m-9", "reading botframework.skype/3 chat=c1 message=ext-m-10"}, data: `{"RESULT":"OK"}`},
		{command: openlines.CommandReceivingError, items: []any{
			wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "ext-m-9"), "error", wire.NewMap("code", "403", "message", "bot blocked")),
		}, events: []string{"error botframework.skype/3 chat=c1 message=ext-m-9 403: bot blocked"}, data: `{"RESULT":"OK"}`},
		{command: openlines.CommandReceivingStatusBlock, items: []any{
			wire.NewMap("chat", wire.NewMap("id", "c1"), "user", wire.NewMap("id", "ext-1")),
		}, events: []string{"block botframework.skype/3 chat=c1 user=ext-1"}, data: `{"RESULT":"OK"}`},
		{command: openlines.CommandSetChatName, items: []any{
			wire.NewMap("chat", wire.NewMap("id", "c1", "name", "Ann's questions")),
		}, events: []string{`chatname botframework.skype/3 chat=c1 name="Ann's questions"`}, data: `{"RESULT":"OK"}`},
		{command: openlines.CommandDeactivateConnector,
			events: []string{"status botframework.skype/3 active=true connection=true register=true error=true"}, data: `{"RESULT":"OK"}`},
	}
	for _, creds := range []wire.Credentials{md5Creds, hmacCreds} {
		t.Run(string(creds.Mode), func(t *testing.T) {
			r := newRig(t, creds, nil)
			ctx := context.Background()
			if err := r.p.SetStatus(ctx, portal.ConnectorStatus{Connector: "botframework.skype", Line: "3", Active: true, Connection: true, Register: true}); err != nil {
				t.Fatal(err)
			}
			var log eventLog
			subscribeAll(r.p, &log)
			for _, s := range steps {
				t.Run(s.command, func(t *testing.T) {
					before := len(log.all())
					a := r.post(t, s.command, s.items)
					if a.Status != 200 || a.Err != nil || string(a.Response.Data) != s.data {
						t.Fatalf("answer %d %s, want data %s", a.Status, a.Body, s.data)
					}
					got := log.all()[before:]
					if strings.Join(got, "\n") != strings.Join(s.events, "\n") {
						t.Fatalf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(s.events, "\n"))
					}
				})
			}
			st, err := r.p.Status(ctx, "botframework.skype", "3")
			if err != nil || !st.Error || !st.Active || !st.UpdatedAt.Equal(epoch) {
				t.Fatalf("status %+v %v", st, err)
			}
			if calls := r.confirm.all(); len(calls) != 1 || len(calls[0].Items) != 6 {
				t.Fatalf("confirmations %+v", calls)
			}
			if creates, _ := r.users.stats(); creates != 2 {
				t.Fatalf("%d users created", creates)
			}
		})
	}
}

// TestBadInputStoresNothing sends the bad packets of the issue to a portal and checks that each is answered
// with its code and leaves no trace: no event, no confirmation, no user, no file, no record.
func TestBadInputStoresNothing(t *testing.T) {
	good := []any{msgItem("ext-1", "c1", "m1", "hi", "recipient", wire.NewMap("id", "28:bot"), "service_url", "https://smba/")}
	b64 := func(s string) string { return base64Std(s) }
	type bad struct {
		name   string
		creds  wire.Credentials
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
			if f[i].Name == wire.FieldData {
				f[i].Value = data
			}
		}
		signed, err := r.send.Signer.Sign(f)
		if err != nil {
			t.Fatal(err)
		}
		return signed.Encode()
	}
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
		{name: "an item without user.id", creds: md5Creds, body: func(r *rig) string {
			it := msgItem("", "c1", "m1", "hi")
			return r.send.Body(t, openlines.CommandReceivingMessage, []any{it})
		}, status: 200, codes: []wire.Code{wire.CodeNoUserIM}},
		{name: "an item without user", creds: md5Creds, body: func(r *rig) string {
			return r.send.Body(t, openlines.CommandReceivingMessage, []any{wire.NewMap("message", wire.NewMap("id", "m1"), "chat", wire.NewMap("id", "c1"))})
		}, status: 200, codes: []wire.Code{wire.CodeNoUserIM}},
		{name: "an item that is not an array", creds: md5Creds, body: func(r *rig) string {
			return r.send.Body(t, openlines.CommandReceivingMessage, []any{"just text"})
		}, status: 200, codes: []wire.Code{wire.CodeBadPacket}},
		{name: "unknown command", creds: md5Creds, body: func(r *rig) string {
			return r.send.Body(t, "receivingMessages", good)
		}, status: 200, codes: []wire.Code{wire.CodeUnknownCommand}},
		{name: "GET", creds: md5Creds, method: http.MethodGet, body: func(r *rig) string { return "" }, status: 405, codes: []wire.Code{wire.CodeMethodNotAllowed}},
		{name: "oversize body", creds: md5Creds, body: func(r *rig) string {
			return r.send.Body(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", strings.Repeat("é", 5<<20))})
		}, status: 413, codes: []wire.Code{wire.CodeRequestEntityTooLarge}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, c.creds, nil)
			var log eventLog
			subscribeAll(r.p, &log)
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			a := routertest.Do(t, nil, method, r.srv.URL, c.body(r))
			if a.Status != c.status || !reflect.DeepEqual(a.Codes(), c.codes) {
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
		if !reflect.DeepEqual(a.Codes(), []wire.Code{wire.CodeReplay}) || len(log.all()) != 0 || len(r.confirm.all()) != 1 {
			t.Fatalf("answer %s, events %v, confirmations %v", a.Body, log.all(), r.confirm.all())
		}
	})
	t.Run("a subscriber that panics", func(t *testing.T) {
		r := newRig(t, md5Creds, nil)
		r.p.OnReceivedMessage(func(context.Context, portal.Message) error { panic("subscriber bug") })
		a := r.post(t, openlines.CommandReceivingMessage, good)
		if !reflect.DeepEqual(a.Codes(), []wire.Code{wire.CodeInternal}) || !strings.Contains(a.Response.Errors[0].Message, "subscriber bug") {
			t.Fatalf("answer %s", a.Body)
		}
		if len(r.confirm.all()) != 0 || countRows(t, r.db, "olctl_portal_processed") != 0 {
			t.Fatal("a failed item was confirmed or recorded")
		}
	})
	t.Run("a handler that panics", func(t *testing.T) {
		r := newRig(t, md5Creds, nil)
		r.p.Router().Handle("explode", func(context.Context, *router.Request) (any, error) { panic("handler bug") })
		a := r.post(t, "explode", good)
		if a.Status != 200 || !reflect.DeepEqual(a.Codes(), []wire.Code{wire.CodeInternal}) {
			t.Fatalf("answer %d %s", a.Status, a.Body)
		}
		// The portal still serves.
		if a := r.post(t, openlines.CommandTestConnect, nil); a.Err != nil {
			t.Fatal(a.Err)
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
	for _, table := range []string{"olctl_portal_processed", "olctl_portal_status", "olctl_bf_context"} {
		if n := countRows(t, r.db, table); n != 0 {
			t.Errorf("%d rows in %s", n, table)
		}
	}
}

func TestPartialFailure(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	var log eventLog
	subscribeAll(r.p, &log)
	r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		if m.RawText == "fail me" {
			return errors.New("backend down")
		}
		return nil
	})
	a := r.post(t, openlines.CommandReceivingMessage, []any{
		msgItem("ext-1", "c1", "m1", "one"),
		msgItem("", "c1", "m2", "no user"),
		msgItem("ext-1", "c1", "m3", "fail me"),
		msgItem("ext-1", "c1", "m4", "four", "type_message", "reaction"),
		msgItem("ext-1", "c1", "m5", "five"),
		msgItem("ext-1", "c1", "m5", "five"), // the same item twice in a packet
	})
	want := []wire.Code{wire.CodeNoUserIM, wire.CodeInternal, wire.CodeBadPacket}
	if !reflect.DeepEqual(a.Codes(), want) {
		t.Fatalf("answer %s", a.Body)
	}
	for i, idx := range []string{"item 1", "item 2", "item 3"} {
		if !strings.HasPrefix(a.Response.Errors[i].Message, idx) {
			t.Fatalf("error %d does not name its item: %s", i, a.Response.Errors[i].Message)
		}
	}
	if !strings.Contains(a.Response.Errors[1].Message, "backend down") {
		t.Fatalf("the reason is not in the answer: %s", a.Body)
	}
	wantConfirm := []confirmation{{"botframework.skype", "3", []portal.Delivered{{"c1", "m1"}, {"c1", "m5"}, {"c1", "m5"}}}}
	if got := r.confirm.all(); !reflect.DeepEqual(got, wantConfirm) {
		t.Fatalf("confirmations %+v", got)
	}
	// m3's event fired in the recorder (the first subscriber) but a later subscriber failed: not recorded.
	if err := r.p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, r.db, "olctl_portal_processed"); n != 2 {
		t.Fatalf("%d processed rows", n)
	}
}

func TestRepeatInOnePacketSharesTheFateOfTheFirst(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		if m.MessageID == "bad" {
			return errors.New("backend down")
		}
		return nil
	})
	a := r.post(t, openlines.CommandReceivingMessage, []any{
		msgItem("ext-1", "c1", "bad", "x"), msgItem("ext-1", "c1", "ok", "y"), msgItem("ext-1", "c1", "bad", "x"),
	})
	if !reflect.DeepEqual(a.Codes(), []wire.Code{wire.CodeInternal, wire.CodeInternal}) ||
		!strings.HasPrefix(a.Response.Errors[1].Message, "item 2") {
		t.Fatalf("answer %s", a.Body)
	}
	want := []confirmation{{"botframework.skype", "3", []portal.Delivered{{"c1", "ok"}}}}
	if got := r.confirm.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("confirmations %+v", got)
	}
}

func TestDuplicatesAreConfirmedButNotFiredAgain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newRig(t, md5Creds, db)
		var log eventLog
		subscribeAll(r.p, &log)
		items := []any{
			msgItem("ext-1", "c1", "m1", "hello"),
			msgItem("ext-1", "c1", "m1", "edit 1", "type_message", "message_update"),
			msgItem("ext-1", "c1", "", "", "type_message", "typing_start"),
		}
		for i := 0; i < 3; i++ {
			a := r.post(t, openlines.CommandReceivingMessage, items)
			if a.Err != nil {
				t.Fatal(a.Err)
			}
			want := `{"RESULT":"OK","CONFIRMED":3,"DUPLICATES":0}`
			if i > 0 {
				want = `{"RESULT":"OK","CONFIRMED":3,"DUPLICATES":2}`
			}
			if string(a.Response.Data) != want {
				t.Fatalf("delivery %d: %s", i, a.Body)
			}
		}
		// A second, different edit of m1 and its deletion are new events.
		a := r.post(t, openlines.CommandReceivingMessage, []any{
			msgItem("ext-1", "c1", "m1", "edit 2", "type_message", "message_update"),
			msgItem("ext-1", "c1", "m1", "", "type_message", "message_del"),
		})
		if a.Err != nil {
			t.Fatal(a.Err)
		}
		got := log.all()
		want := []string{
			`message botframework.skype/3 c1/m1 user=u1 text="hello"`,
			`message_update botframework.skype/3 c1/m1 user=u1 text="edit 1"`,
			`typing_start botframework.skype/3 c1/ user=u1 text=""`,
			`typing_start botframework.skype/3 c1/ user=u1 text=""`,
			`typing_start botframework.skype/3 c1/ user=u1 text=""`,
			`message_update botframework.skype/3 c1/m1 user=u1 text="edit 2"`,
			`message_del botframework.skype/3 c1/m1 user=u1 text=""`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events\n%s", strings.Join(got, "\n"))
		}
		if calls := r.confirm.all(); len(calls) != 4 {
			t.Fatalf("%d confirmations", len(calls))
		}
		// The same message on another line or connector is another item.
		other := routertest.NewSender(t, md5Creds, nil, "botframework.skype", "4")
		if a := routertest.Post(t, nil, r.srv.URL, other.Body(t, openlines.CommandReceivingMessage, items[:1])); string(a.Response.Data) != `{"RESULT":"OK","CONFIRMED":1,"DUPLICATES":0}` {
			t.Fatalf("other line: %s", a.Body)
		}
	})
}

func TestConcurrentRedeliveryFiresOnce(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	var mu sync.Mutex
	fired := map[string]int{}
	release := make(chan struct{})
	r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		<-release
		mu.Lock()
		fired[m.MessageID]++
		mu.Unlock()
		return nil
	})
	items := []any{msgItem("ext-1", "c1", "m1", "a"), msgItem("ext-1", "c1", "m2", "b")}
	const n = 8
	answers := make(chan routertest.Answer, n)
	body := r.send.Body(t, openlines.CommandReceivingMessage, items)
	for i := 0; i < n; i++ {
		go func() { answers <- routertest.Post(t, nil, r.srv.URL, body) }()
	}
	// One packet holds the items and waits in its subscriber; every other one finds them in progress and
	// answers at once, without confirming them.
	for i := 0; i < n-1; i++ {
		a := <-answers
		if string(a.Response.Data) != `{"RESULT":"OK","CONFIRMED":0,"DUPLICATES":0,"IN_PROGRESS":2}` {
			t.Fatalf("answer %s", a.Body)
		}
	}
	if len(r.confirm.all()) != 0 {
		t.Fatal("items in progress were confirmed")
	}
	close(release)
	if a := <-answers; string(a.Response.Data) != `{"RESULT":"OK","CONFIRMED":2,"DUPLICATES":0}` {
		t.Fatalf("answer %s", a.Body)
	}
	if a := r.post(t, openlines.CommandReceivingMessage, items); string(a.Response.Data) != `{"RESULT":"OK","CONFIRMED":2,"DUPLICATES":2}` {
		t.Fatalf("redelivery %s", a.Body)
	}
	if fired["m1"] != 1 || fired["m2"] != 1 || len(r.confirm.all()) != 2 {
		t.Fatalf("fired %v, confirmations %+v", fired, r.confirm.all())
	}
}

func TestFilesUsersAndContexts(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	var log eventLog
	subscribeAll(r.p, &log)
	files := []any{
		wire.NewMap("url", "http://files/a.pdf", "name", "a.pdf", "headers", []any{wire.NewMap("name", "Authorization", "value", "Bearer x")}),
		wire.NewMap("url", "http://files/big.iso"),
		wire.NewMap("url", "http://files/404.png"),
		wire.NewMap("url", "http://files/b.png", "type", "image/png"),
	}
	it := msgItem("ext-1", "c1", "m1", "files", "recipient", wire.NewMap("id", "28:bot", "name", "bot"), "service_url", "https://smba/")
	it.Set("message", wire.NewMap("id", "m1", "text", "files", "files", files))
	a := r.post(t, openlines.CommandReceivingMessage, []any{it})
	if a.Err != nil {
		t.Fatal(a.Err)
	}
	m := log.messages()[0]
	if !reflect.DeepEqual(m.Files, []portal.FileID{101, 102}) || len(m.FileFailures) != 2 || !m.FailedBigFile ||
		m.FileFailures[0].Index != 1 || m.FileFailures[1].Code != "failed_status" || !m.Date.IsZero() {
		t.Fatalf("message %+v", m)
	}
	if h := r.files.seen[0].Headers; len(h) != 1 || h[0] != (openlines.Header{Name: "Authorization", Value: "Bearer x"}) {
		t.Fatalf("headers %+v", h)
	}
	// The context is kept for real botframework connectors only, for message and message_update.
	ctx := context.Background()
	cases := []struct {
		connector string
		typ       string
		stored    bool
	}{
		{"botframework.skype", "message", true},
		{"Botframework.telegram", "message_update", true},
		{"botframework", "message", true},
		{"botframework.skype", "message_del", false},
		{"botframework.skype", "post", false},
		{"telegrambot", "message", false},
		{"botframeworks.x", "message", false},
	}
	for i, c := range cases {
		chat := "chat-" + strconv.Itoa(i)
		s := routertest.NewSender(t, md5Creds, nil, c.connector, "3")
		item := msgItem("ext-1", chat, "m1", "x", "type_message", c.typ, "recipient", wire.NewMap("id", "28:bot", "name", "bot"), "service_url", "https://smba/")
		if a := routertest.Post(t, nil, r.srv.URL, s.Body(t, openlines.CommandReceivingMessage, []any{item})); a.Err != nil {
			t.Fatal(a.Err)
		}
		_, err := r.p.ChatContexts().Get(ctx, chat, c.connector)
		if stored := err == nil; stored != c.stored {
			t.Errorf("%s %s: stored %v (%v)", c.connector, c.typ, stored, err)
		}
	}
}

func TestUserSyncFailure(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	r.users.fail = errors.New("users table locked")
	var log eventLog
	subscribeAll(r.p, &log)
	a := r.post(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "hi")})
	if !reflect.DeepEqual(a.Codes(), []wire.Code{wire.CodeNoAddUser}) || !errors.Is(a.Err, wire.ErrNoAddUser) {
		t.Fatalf("answer %s", a.Body)
	}
	if len(log.all()) != 0 || len(r.confirm.all()) != 0 {
		t.Fatal("an item without a user went on")
	}
}

func TestOtherCommandsReportBadItemsAndFailures(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	var log eventLog
	subscribeAll(r.p, &log)
	r.p.OnReceivedStatusReading(func(_ context.Context, s portal.StatusReading) error {
		if s.Message.ID == "boom" {
			return errors.New("cannot store")
		}
		return nil
	})
	a := r.post(t, openlines.CommandReceivingStatusReading, []any{
		wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "ok")),
		wire.NewMap("message", wire.NewMap("id", "no chat")),
		wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "boom")),
		wire.NewMap("chat", "not a map"),
	})
	if !reflect.DeepEqual(a.Codes(), []wire.Code{wire.CodeBadPacket, wire.CodeInternal, wire.CodeBadPacket}) {
		t.Fatalf("answer %s", a.Body)
	}
	if got := log.all(); len(got) != 2 {
		t.Fatalf("events %v", got)
	}
	if a := r.post(t, openlines.CommandReceivingStatusDelivery, []any{wire.NewMap("chat", wire.NewMap("id", "c1"))}); !errors.Is(a.Err, wire.ErrBadPacket) {
		t.Fatalf("delivery without im: %s", a.Body)
	}
	r.p.OnUpdateStatusConnector(func(context.Context, portal.ConnectorStatus) error { return errors.New("no admin") })
	if a := r.post(t, openlines.CommandDeactivateConnector, nil); !errors.Is(a.Err, wire.ErrInternal) {
		t.Fatalf("deactivate: %s", a.Body)
	}
	// The status is stored before the event: the emergency is not lost with the subscriber.
	if st, err := r.p.Status(context.Background(), "botframework.skype", "3"); err != nil || !st.Error {
		t.Fatalf("%+v %v", st, err)
	}
}

func TestConfirmationFailure(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	var log eventLog
	subscribeAll(r.p, &log)
	r.confirm.setFail(errors.New("connection refused"))
	items := []any{msgItem("ext-1", "c1", "m1", "hi")}
	a := r.post(t, openlines.CommandReceivingMessage, items)
	if !errors.Is(a.Err, wire.ErrInternal) || !strings.Contains(string(a.Body), "connection refused") {
		t.Fatalf("answer %s", a.Body)
	}
	r.confirm.setFail(nil)
	if a := r.post(t, openlines.CommandReceivingMessage, items); string(a.Response.Data) != `{"RESULT":"OK","CONFIRMED":1,"DUPLICATES":1}` {
		t.Fatalf("redelivery %s", a.Body)
	}
	if n := len(log.all()); n != 1 {
		t.Fatalf("%d events", n)
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
		{"bad DSN", portal.Config{Credentials: md5Creds, DSN: "postgres://x", Users: &fakeUsers{}, Files: &fakeFiles{}, Confirmer: &fakeConfirmer{}}},
	}
	for _, c := range cases {
		if p, err := portal.New(ctx, c.cfg); err == nil {
			_ = p.Close()
			t.Errorf("%s: no error", c.name)
		}
	}
	for _, c := range cases[:4] {
		if _, err := portal.New(ctx, c.cfg); !errors.Is(err, portal.ErrConfig) {
			t.Errorf("%s: %v is not ErrConfig", c.name, err)
		}
	}
}
