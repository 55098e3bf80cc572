package portal_test

import (
	"context"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/emoji"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

// oneMessage posts one receivingMessage item to a portal of the options and returns its events.
func oneMessage(t *testing.T, item any, opts ...rigOption) (*rig, []portal.Message) {
	t.Helper()
	r := newRig(t, md5Creds, nil, opts...).manualRetries()
	var log eventLog
	subscribeAll(r.p, &log)
	r.postOK(t, openlines.CommandReceivingMessage, []any{item})
	return r, log.messages()
}

// TestAttachmentsRendered: forward, reply, location, contact and wall attachments are rendered into the text
// as Bitrix renders them (docs/protocol.md §7.1) and kept as data; chat.url becomes the chat's description.
func TestAttachmentsRendered(t *testing.T) {
	const rule = "------------------------------------------------------\n"
	date := int64(1700000000) // 14.11.2023 22:13:20 UTC
	for _, tc := range []struct {
		name string
		att  any
		want string
	}{
		{"forward", wire.NewMap("forward", wire.NewMap("user", wire.NewMap("name", "Ann", "last_name", "Lee"), "date", date)),
			rule + "Lee Ann[14.11.2023 22:13:20]\n[b]Forwarded message: [/B]\nsee this\n" + rule},
		{"reply", wire.NewMap("reply", wire.NewMap("user", wire.NewMap("name", "Ann"))),
			rule + "Ann\nsee this\n" + rule},
		{"location with title and text", wire.NewMap("location", wire.NewMap("title", "Office", "text", "1 Main St",
			"coordinates", wire.NewMap("latitude", 55.75393, "longitude", 37.620795))),
			"see this\nOffice\n1 Main St\nhttps://yandex.ru/maps/?ll=37.620795,55.75393&z=14&pt=37.620795,55.75393,comma"},
		{"location without either", wire.NewMap("location", wire.NewMap("coordinates", wire.NewMap("latitude", "1.5", "longitude", "-2"))),
			"see this\nMap\nhttps://yandex.ru/maps/?ll=-2,1.5&z=14&pt=-2,1.5,comma"},
		{"contact", wire.NewMap("contact", wire.NewMap("name", "Bob", "phone", "+100")),
			"see this\nFull name: Bob\nPhone number: +100"},
		{"wall", wire.NewMap("wall", wire.NewMap("url", "https://vk.example/wall1", "name", "News", "date", date, "text", "post text")),
			"see this\n[URL=https://vk.example/wall1]User wall post News from 14.11.2023 22:13:20[/URL]\npost text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			item := msgItem("ext-1", "c1", "m1", "see this", "message", wire.NewMap("id", "m1", "text", "see this", "attachments", []any{tc.att}))
			_, msgs := oneMessage(t, item, func(c *portal.Config) { c.EmojiOptions = []emoji.Option{emoji.WithIcons(false)} })
			if len(msgs) != 1 || msgs[0].Text != tc.want || len(msgs[0].Attachments) != 1 || msgs[0].RawText != "see this" {
				t.Fatalf("text %q\nwant %q (%d events)", msgs[0].Text, tc.want, len(msgs))
			}
		})
	}
	t.Run("chat.url", func(t *testing.T) {
		item := msgItem("ext-1", "c1", "m1", "hi", "chat", wire.NewMap("id", "c1", "url", "https://vk.example/post/7"))
		_, msgs := oneMessage(t, item)
		if msgs[0].ChatDescription != "Link to original post: https://vk.example/post/7" || msgs[0].Chat.URL != "https://vk.example/post/7" {
			t.Fatalf("description %q", msgs[0].ChatDescription)
		}
	})
	t.Run("a locale of its own", func(t *testing.T) {
		item := msgItem("ext-1", "c1", "m1", "", "message", wire.NewMap("id", "m1", "failed_big_file", "Y",
			"attachments", []any{wire.NewMap("contact", wire.NewMap("name", "Bob")), wire.NewMap("wall", wire.NewMap("url", "u", "date", date))}))
		_, msgs := oneMessage(t, item, func(c *portal.Config) {
			c.Locale = portal.Locale{BigFile: "Файл слишком большой. ", ContactName: "Имя: ", WallDate: "от", DateLayout: time.DateOnly,
				Location: time.FixedZone("MSK", 3*3600)}
		})
		want := "Файл слишком большой. \nИмя: Bob\n[URL=u]User wall post от 2023-11-15[/URL]"
		if len(msgs) != 1 || msgs[0].Text != want {
			t.Fatalf("text %q", msgs[0].Text)
		}
	})
}

// TestFailedBigFile: the server's flag puts the warning before the text and tells the subscriber; an item
// with nothing else is still valid. An oversize download (the portal's own limit) never sets it.
func TestFailedBigFile(t *testing.T) {
	item := msgItem("ext-1", "c1", "m1", "", "message", wire.NewMap("id", "m1", "failed_big_file", true))
	_, msgs := oneMessage(t, item)
	if len(msgs) != 1 || !msgs[0].FailedBigFile || msgs[0].Text != portal.DefaultLocale.BigFile {
		t.Fatalf("events %+v", msgs)
	}
	item = msgItem("ext-1", "c1", "m2", "see the file", "message", wire.NewMap("id", "m2", "text", "see the file",
		"files", []any{wire.NewMap("url", "http://files/big.iso")}))
	_, msgs = oneMessage(t, item)
	if len(msgs) != 1 || msgs[0].FailedBigFile || msgs[0].Text != "see the file" || len(msgs[0].FileFailures) != 1 {
		t.Fatalf("events %+v", msgs)
	}
}

// TestRequiredData: a message or post with neither text nor files after the file step is rejected
// (IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA), kept in the store as rejected and fires nothing; a deletion needs
// neither.
func TestRequiredData(t *testing.T) {
	r := newRig(t, md5Creds, nil).manualRetries()
	var log eventLog
	subscribeAll(r.p, &log)
	r.postOK(t, openlines.CommandReceivingMessage, []any{
		msgItem("ext-1", "c1", "m1", "  "),
		msgItem("ext-1", "c1", "m2", "", "message", wire.NewMap("id", "m2", "files", []any{wire.NewMap("url", "http://files/404.png")})),
		msgItem("ext-1", "c1", "m3", "", "type_message", "post"),
		msgItem("ext-1", "c1", "m4", "", "type_message", "message_del"),
		msgItem("ext-1", "c1", "m5", "", "message", wire.NewMap("id", "m5", "files", []any{wire.NewMap("url", "http://files/ok.png")})),
	})
	want := []string{
		`message_del botframework.skype/3 c1/m4 user=u1 text=""`,
		`message botframework.skype/3 c1/m5 user=u1 text=""`,
	}
	if got := log.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events\n%s", strings.Join(got, "\n"))
	}
	if states := r.itemStates(t); states != [4]int{0, 2, 3, 0} {
		t.Fatalf("items pending, done, rejected, dead: %v", states)
	}
	if st, _ := r.p.ItemStats(context.Background()); st.Rejected != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestProfiles: the two profiles' pipelines (docs/protocol.md §8). Both decode hex escapes before icons and
// split the user's name; only the current profile moves the "Y" flags into extra; icons can be switched off,
// leaving Unicode emoji as a current Bitrix portal does.
func TestProfiles(t *testing.T) {
	item := func() *wire.Map {
		return msgItem("ext-1", "c1", "m1", "ok :F09F918D: :smile:", "user",
			wire.NewMap("id", "ext-1", "name", "Анна Петрова", "skip_phone_validate", "Y"),
			"message", wire.NewMap("id", "m1", "text", "ok :F09F918D: :smile:", "disable_crm", "Y"))
	}
	icons := "ok [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:thumbsup:] [ICON=/bitrix/images/emoji/1f604.svg?v=2.2.5 title=:smile:]"
	for _, tc := range []struct {
		name  string
		opts  []rigOption
		text  string
		extra openlines.Extra
		skip  string // user.skip_phone_validate on the event
	}{
		{"legacy", []rigOption{legacy}, icons, openlines.Extra{}, "Y"},
		{"current", nil, icons, openlines.Extra{SkipPhoneValidate: "Y", DisableCRM: "Y"}, ""},
		{"current without icons", []rigOption{func(c *portal.Config) { c.EmojiOptions = []emoji.Option{emoji.WithIcons(false)} }},
			"ok 👍 :smile:", openlines.Extra{SkipPhoneValidate: "Y", DisableCRM: "Y"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, msgs := oneMessage(t, item(), tc.opts...)
			if len(msgs) != 1 {
				t.Fatalf("%d events", len(msgs))
			}
			m := msgs[0]
			if m.Text != tc.text || m.User.Name != "Анна" || m.User.LastName != "Петрова" || m.User.SkipPhoneValidate != tc.skip ||
				m.Extra.SkipPhoneValidate != tc.extra.SkipPhoneValidate || m.Extra.DisableCRM != tc.extra.DisableCRM {
				t.Fatalf("message text %q user %+v extra %+v", m.Text, m.User, m.Extra)
			}
			if m.Item.User.Name != "Анна Петрова" || m.Item.User.SkipPhoneValidate != "Y" {
				t.Fatalf("the item as received was changed: %+v", m.Item.User)
			}
		})
	}
}

// TestTypes: type_message in any case selects the event; command_start also fires OnReceivedMessage when
// ref.source is set and not btrx…; welcome fires nothing; an unknown type is rejected, never failing the
// packet.
func TestTypes(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	var log eventLog
	subscribeAll(r.p, &log)
	r.postOK(t, openlines.CommandReceivingMessage, []any{
		msgItem("ext-1", "c1", "m1", "hi", "type_message", "MESSAGE"),
		msgItem("ext-1", "c1", "s1", "/start", "type_message", "command_start", "ref", wire.NewMap("source", "ad-campaign")),
		msgItem("ext-1", "c1", "s2", "/start", "type_message", "command_start", "ref", wire.NewMap("source", "btrx_widget")),
		msgItem("ext-1", "c1", "s3", "", "type_message", "command_start"),
		msgItem("ext-1", "c1", "w1", "", "type_message", "Welcome"),
		msgItem("ext-1", "c1", "x1", "hi", "type_message", "reaction"),
		msgItem("ext-1", "c1", "m2", "still taken"),
	})
	want := []string{
		`message botframework.skype/3 c1/m1 user=u1 text="hi"`,
		`command_start botframework.skype/3 c1/s1 user=u1 text="/start"`,
		`message botframework.skype/3 c1/s1 user=u1 text="/start"`,
		`command_start botframework.skype/3 c1/s2 user=u1 text="/start"`,
		`command_start botframework.skype/3 c1/s3 user=u1 text=""`,
		`message botframework.skype/3 c1/m2 user=u1 text="still taken"`,
	}
	if got := log.all(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events\n%s", strings.Join(got, "\n"))
	}
}

// TestBotFrameworkContext: the context is kept for the real connector botframework only, for message and
// message_update, as the whole recipient map and service_url, per (chat, virtual connector as received).
func TestBotFrameworkContext(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	ctx := context.Background()
	for _, c := range []string{"telegrambot", "botframeworks"} {
		if err := r.p.SetLineStatus(ctx, c, "3", openLine); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		connector string
		typ       string
		stored    bool
	}{
		{"botframework.skype", "message", true},
		{"Botframework.telegram", "message_update", true},
		{"botframework", "", true},
		{"botframework.skype", "message_del", false},
		{"botframework.skype", "post", false},
		{"telegrambot", "message", false},
		{"botframeworks.x", "message", false},
	}
	for i, c := range cases {
		chat := "chat-" + string(rune('a'+i))
		item := msgItem("ext-1", chat, "m1", "x", "type_message", c.typ, "recipient",
			wire.NewMap("id", "28:bot", "name", "bot", "role", "bot"), "service_url", "https://smba/")
		s := routertest.NewSender(t, md5Creds, r.clock, c.connector, "3")
		if a := routertest.Post(t, nil, r.srv.URL, s.Body(t, openlines.CommandReceivingMessage, []any{item})); a.Err != nil {
			t.Fatalf("%s: %s", c.connector, a.Body)
		}
		got, err := r.p.ChatContexts().Get(ctx, chat, c.connector)
		if stored := err == nil; stored != c.stored {
			t.Errorf("%s %s: stored %v (%v)", c.connector, c.typ, stored, err)
		}
		if c.stored && (got.From.String("role") != "bot" || got.From.String("id") != "28:bot" || got.ServiceURL != "https://smba/") {
			t.Errorf("%s: context %+v", c.connector, got)
		}
	}
}

// TestEmptyArraysEverywhere: a current packet with #EMPTY_ARRAY# (and #EMPTY#) in every place an item can
// hold one is processed; the stubs are undone before the pipeline sees them.
func TestEmptyArraysEverywhere(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	var log eventLog
	subscribeAll(r.p, &log)
	item := wire.NewMap(
		"user", wire.NewMap("id", "ext-1", "name", "Ann Lee", "last_name", "", "title", "", "url", "", "gender", "",
			"picture", []any{}, "email", "", "phone", "", "skip_phone_validate", ""),
		"message", wire.NewMap("id", "m1", "date", 1700000000, "text", "hi", "files", []any{}, "attachments", []any{},
			"failed_big_file", "", "disable_crm", ""),
		"chat", wire.NewMap("id", "c1", "name", "", "url", ""),
		"type_message", "",
		"extra", []any{},
		"ref", []any{},
		"recipient", []any{},
		"service_url", "",
	)
	body := r.send.Body(t, openlines.CommandReceivingMessage, []any{item})
	a := routertest.Post(t, nil, r.srv.URL, body)
	if a.Err != nil || string(a.Body) != `{"OK":true,"DATA":[]}` {
		t.Fatalf("answer %s", a.Body)
	}
	msgs := log.messages()
	if len(msgs) != 1 {
		t.Fatalf("events %v", log.all())
	}
	m := msgs[0]
	if m.Text != "hi" || m.Type != openlines.MessageNew || m.FailedBigFile || len(m.Files) != 0 || len(m.Attachments) != 0 ||
		m.User.Name != "Ann" || m.User.LastName != "Lee" || m.ChatDescription != "" || m.Ref.Source != "" {
		t.Fatalf("message %+v", m)
	}
	// What went over the wire did hold the stubs.
	data := r.send.Fields(t, openlines.CommandReceivingMessage, []any{item}).Get("DATA")
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil || strings.Count(string(raw), `s:13:"#EMPTY_ARRAY#"`) != 6 || !strings.Contains(string(raw), `s:7:"#EMPTY#"`) {
		t.Fatalf("DATA %s %v", raw, err)
	}
}
