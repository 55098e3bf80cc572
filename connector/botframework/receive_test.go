package botframework

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

func TestReceiveMessage(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	att := []schema.Attachment{
		{ContentType: "image/png", ContentURL: "https://files.example/cat.png", Name: "cat.png"},
		{ContentType: "image", ContentURL: "https://files.example/dog.jpg", Name: "dog.jpg"},
		{ContentType: teamsFileType, Name: "report.pdf", Content: json.RawMessage(`{"downloadUrl":"https://sharepoint.example/report.pdf","fileType":"pdf","uniqueId":"x"}`)},
		{ContentType: "application/vnd.microsoft.card.hero", Content: json.RawMessage(`{"title":"Card"}`)},
		{ContentType: "text/html", Content: json.RawMessage(`"<p>hi :)</p>"`)},
	}
	id, err := r.bf.SendUserMessage(ctxT(t), r.hook.URL, "19:abc@thread.skype;messageid=15", "29:user-1", "hi :)", att...)
	if err != nil {
		t.Fatal(err)
	}
	got := r.next(t)
	if got.err != nil || len(got.items) != 1 {
		t.Fatalf("receive: %+v", got)
	}
	in := got.items[0]
	want := openlines.MessageItem{
		User: openlines.User{ID: "29:user-1", Name: "29:user-1"},
		Message: openlines.Message{ID: id, Date: t0.Unix(), Text: "hi :)",
			Files: []openlines.File{
				{URL: "https://files.example/cat.png", Name: "cat.png", Type: "image/png"},
				{URL: "https://files.example/dog.jpg", Name: "dog.jpg", Type: "image/jpeg"},
				{URL: "https://sharepoint.example/report.pdf", Name: "report.pdf", Type: "application/pdf"},
			},
			Attachments: []openlines.Attachment{{Other: map[string]any{
				"card": wire.NewMap("type", "application/vnd.microsoft.card.hero", "name", "", "content", `{"title":"Card"}`)}}},
		},
		Chat:       openlines.Chat{ID: "19:abc@thread.skype;messageid=15"},
		Recipient:  wire.NewMap("id", r.bf.Bot().ID, "name", r.bf.Bot().Name),
		ServiceURL: r.bf.ServiceURL(),
	}
	if in.Command != openlines.CommandReceivingMessage || in.Connector != "botframework.skype" || in.DedupKey == "" || !reflect.DeepEqual(in.Item, want) {
		t.Fatalf("incoming %+v\nwant item %+v", in, want)
	}
}

func TestMapTypes(t *testing.T) {
	t.Parallel()
	ch, _ := NewChannel(connector.Env{})
	base := schema.Activity{ID: "a1", Timestamp: t0, ServiceURL: "https://smba.example/", ChannelID: "MSTeams",
		From: schema.ChannelAccount{ID: "u1", Name: "Ann Lee"}, Conversation: schema.ConversationAccount{ID: "c1", Name: "Support"},
		Recipient: schema.ChannelAccount{ID: "28:bot", Name: "bot"}, Text: "x"}
	with := func(f func(*schema.Activity)) schema.Activity { a := base; f(&a); return a }
	tests := []struct {
		name        string
		a           schema.Activity
		wantCommand string
		wantType    openlines.MessageType
		wantNone    bool
		wantErr     string
	}{
		{name: "message", a: base, wantCommand: "receivingMessage"},
		{name: "update", a: with(func(a *schema.Activity) { a.Type = "messageUpdate" }), wantCommand: "receivingMessage", wantType: "message_update"},
		{name: "delete", a: with(func(a *schema.Activity) { a.Type = "messageDelete"; a.Text = "" }), wantCommand: "receivingMessage", wantType: "message_del"},
		{name: "typing", a: with(func(a *schema.Activity) { a.Type = "typing"; a.Text = "" }), wantCommand: "receivingMessage", wantType: "typing_start"},
		{name: "typing without id", a: with(func(a *schema.Activity) { a.Type = "typing"; a.ID = "" }), wantCommand: "receivingMessage", wantType: "typing_start"},
		{name: "conversationUpdate names the chat", a: with(func(a *schema.Activity) {
			a.Type = "conversationUpdate"
			a.MembersAdded = []schema.ChannelAccount{{ID: "28:bot"}}
		}), wantCommand: "setChatName"},
		{name: "conversationUpdate without a name ignored", a: with(func(a *schema.Activity) {
			a.Type = "conversationUpdate"
			a.Conversation.Name = ""
		}), wantNone: true},
		{name: "event ignored", a: with(func(a *schema.Activity) { a.Type = "event"; a.Name = "x" }), wantNone: true},
		{name: "contact added unblocks", a: with(func(a *schema.Activity) { a.Type = "contactRelationUpdate"; a.Action = "add" }),
			wantCommand: "receivingStatusBlock", wantType: openlines.BlockAllow},
		{name: "contact removed blocks", a: with(func(a *schema.Activity) { a.Type = "contactRelationUpdate"; a.Action = "remove" }),
			wantCommand: "receivingStatusBlock", wantType: openlines.BlockDeny},
		{name: "contact relation of another action ignored", a: with(func(a *schema.Activity) { a.Type = "contactRelationUpdate"; a.Action = "x" }), wantNone: true},
		{name: "message without id", a: with(func(a *schema.Activity) { a.ID = "" }), wantErr: "without id"},
		{name: "message without conversation", a: with(func(a *schema.Activity) { a.Conversation.ID = "" }), wantErr: "conversation.id"},
		{name: "message without channel, from, serviceUrl", a: with(func(a *schema.Activity) { a.ChannelID, a.From.ID, a.ServiceURL = "", "", "" }),
			wantErr: "channelId, from.id, serviceUrl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.a.Type == "" {
				tt.a.Type = "message"
			}
			items, err := ch.Map(&tt.a)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantNone {
				if len(items) != 0 {
					t.Fatalf("items %+v, want none", items)
				}
				return
			}
			if len(items) != 1 || items[0].Command != tt.wantCommand || items[0].Connector != "botframework.msteams" {
				t.Fatalf("items %+v", items)
			}
			switch it := items[0].Item.(type) {
			case openlines.MessageItem:
				if it.TypeMessage != tt.wantType || it.User.Name != "Ann Lee" || it.Chat.Name != "Support" || it.Message.ID == "" ||
					it.Recipient.String("id") != "28:bot" || it.ServiceURL != "https://smba.example/" {
					t.Fatalf("item %+v", it)
				}
				if (tt.a.ID == "") != (items[0].DedupKey == "") {
					t.Fatalf("dedup key %q for id %q", items[0].DedupKey, tt.a.ID)
				}
			case openlines.StatusBlockItem:
				if it.Chat.ID != "c1" || it.User.ID != "u1" || it.Message.Type != string(tt.wantType) || it.Validate() != nil {
					t.Fatalf("item %+v", it)
				}
			case openlines.ChatName:
				if it.Name != "Support" || it.ChatID != "c1" || it.UserID != "u1" || items[0].DedupKey == "" {
					t.Fatalf("item %+v", it)
				}
			default:
				t.Fatalf("item type %T", it)
			}
		})
	}
}

func TestDedupKey(t *testing.T) {
	t.Parallel()
	a := schema.Activity{Type: "message", ID: "1520", ChannelID: "skype", Conversation: schema.ConversationAccount{ID: "c1"}, Timestamp: t0}
	with := func(f func(*schema.Activity)) schema.Activity { b := a; f(&b); return b }
	same := []schema.Activity{a, with(func(b *schema.Activity) { b.Text = "redelivered"; b.Timestamp = t0.Add(15 * time.Second) })}
	for _, b := range same {
		if dedupKey(&b) != dedupKey(&a) {
			t.Fatalf("redelivery of %+v has another key", b)
		}
	}
	// Skype ids are only unique in a conversation; an edit keeps the message id but is a new activity.
	upd := with(func(b *schema.Activity) { b.Type = "messageUpdate" })
	upd2 := with(func(b *schema.Activity) { b.Type = "messageUpdate"; b.Timestamp = t0.Add(time.Minute) })
	different := []schema.Activity{
		with(func(b *schema.Activity) { b.Conversation.ID = "c2" }),
		with(func(b *schema.Activity) { b.ChannelID = "msteams" }),
		with(func(b *schema.Activity) { b.ID = "1521" }),
		upd, upd2,
	}
	seen := map[string]bool{dedupKey(&a): true}
	for _, b := range different {
		k := dedupKey(&b)
		if seen[k] {
			t.Fatalf("%+v collides", b)
		}
		seen[k] = true
	}
	if len(dedupKey(&a)) > 64 {
		t.Fatalf("key %q too long for an index", dedupKey(&a))
	}
}

// TestRedelivery: the service posts the same activity again (Teams retries after 15 s); the channel gives it
// the same DedupKey, so the server queues it once.
func TestRedelivery(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	a := schema.Activity{ID: "act-1", From: schema.ChannelAccount{ID: "u"}, Conversation: schema.ConversationAccount{ID: "c"}, Text: "once"}
	for range 2 {
		if _, err := r.bf.SendActivity(ctxT(t), r.hook.URL, a); err != nil {
			t.Fatal(err)
		}
		r.clk.Advance(15 * time.Second)
	}
	first, second := r.next(t), r.next(t)
	if first.items[0].DedupKey != second.items[0].DedupKey || first.items[0].DedupKey == "" {
		t.Fatalf("keys %q and %q", first.items[0].DedupKey, second.items[0].DedupKey)
	}
}

func TestUnknownFieldsAccepted(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	tok, _ := r.bf.MintToken(bftest.Claims{})
	body := `{"type":"message","id":"x1","channelId":"skype","serviceUrl":"` + r.bf.ServiceURL() + `",
		"from":{"id":"u","name":"U","aadObjectId":"g","properties":{"a":[1]}},"conversation":{"id":"c","tenantId":"t","extra":true},
		"recipient":{"id":"b"},"text":"t","speak":"s","suggestedActions":{"actions":[]},"semanticAction":{"id":"1"},
		"localTimezone":"Europe/Berlin","newFieldOf2030":{"nested":[{"x":null}]}}`
	if err := r.bf.PostRaw(ctxT(t), r.hook.URL, []byte(body), tok); err != nil {
		t.Fatal(err)
	}
	got := r.next(t)
	if got.err != nil || got.items[0].Item.(openlines.MessageItem).Message.Text != "t" {
		t.Fatalf("got %+v", got)
	}
}

func TestJWTRejection(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	now := r.clk.Now()
	a := r.bf.Complete(schema.Activity{From: schema.ChannelAccount{ID: "u"}, Conversation: schema.ConversationAccount{ID: "c"}, Text: "x"})
	mint := func(c bftest.Claims) string {
		tok, err := r.bf.MintToken(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name     string
		header   string // the whole Authorization header; "-" for none
		activity func(*schema.Activity)
		want     int
	}{
		{name: "valid", header: "Bearer " + mint(bftest.Claims{}), want: 200},
		{name: "scheme case-insensitive", header: "bearer " + mint(bftest.Claims{}), want: 200},
		{name: "no token", header: "-", want: 401},
		{name: "empty bearer is none", header: "Bearer ", want: 401},
		{name: "basic scheme", header: "Basic dTpw", want: 401},
		{name: "garbage", header: "Bearer abc.def.ghi", want: 401},
		{name: "wrong issuer", header: "Bearer " + mint(bftest.Claims{Issuer: "https://sts.windows.net/evil/"}), want: 401},
		{name: "wrong audience", header: "Bearer " + mint(bftest.Claims{Audience: "another-bot"}), want: 401},
		{name: "expired beyond skew", header: "Bearer " + mint(bftest.Claims{IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-6 * time.Minute)}), want: 401},
		{name: "expired within skew", header: "Bearer " + mint(bftest.Claims{IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-4 * time.Minute)}), want: 200},
		{name: "not yet valid beyond skew", header: "Bearer " + mint(bftest.Claims{IssuedAt: now, NotBefore: now.Add(6 * time.Minute)}), want: 401},
		{name: "not yet valid within skew", header: "Bearer " + mint(bftest.Claims{IssuedAt: now, NotBefore: now.Add(4 * time.Minute)}), want: 200},
		{name: "bad signature", header: "Bearer " + mint(bftest.Claims{ForeignKey: true}), want: 401},
		{name: "unknown kid", header: "Bearer " + mint(bftest.Claims{ForeignKey: true, KeyID: "not-published"}), want: 401},
		{name: "hs256 with the app secret", header: "Bearer " + mint(bftest.Claims{HS256: true}), want: 401},
		{name: "no serviceurl claim", header: "Bearer " + mint(bftest.Claims{OmitServiceURL: true}), want: 401},
		{name: "serviceurl mismatch", header: "Bearer " + mint(bftest.Claims{ServiceURL: "https://evil.example/"}), want: 401},
		{name: "activity serviceUrl changed", header: "Bearer " + mint(bftest.Claims{}),
			activity: func(a *schema.Activity) { a.ServiceURL = "https://evil.example/" }, want: 401},
		{name: "channel not endorsed", header: "Bearer " + mint(bftest.Claims{}),
			activity: func(a *schema.Activity) { a.ChannelID = "evilchat" }, want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act := a
			if tt.activity != nil {
				tt.activity(&act)
			}
			body, _ := json.Marshal(act)
			req, _ := http.NewRequestWithContext(ctxT(t), "POST", r.hook.URL, strings.NewReader(string(body)))
			if tt.header != "-" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := r.next(t)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.want, got.err)
			}
			if tt.want == 401 && (!errors.Is(got.err, ErrUnauthorized) || len(got.items) != 0) {
				t.Fatalf("err = %v, items %v", got.err, got.items)
			}
		})
	}
	if n := r.ch.keys.count(); n != 1 {
		t.Fatalf("keys fetched %d times, want 1 (unknown kids within %v do not refetch)", n, KeysMinRefresh)
	}
}

func TestReceiveBadBody(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	tok, _ := r.bf.MintToken(bftest.Claims{})
	err := r.bf.PostRaw(ctxT(t), r.hook.URL, []byte(`{"type":`), tok)
	var we *bftest.WebhookError
	if !errors.As(err, &we) || we.StatusCode != 400 {
		t.Fatalf("err = %v", err)
	}
	if got := r.next(t); got.status != 400 {
		t.Fatalf("status %d", got.status)
	}
	// A line without app_id cannot authenticate anything.
	r.line.Settings = map[string]string{SettingBotHandle: "b"}
	if _, err := r.bf.SendUserMessage(ctxT(t), r.hook.URL, "c", "u", "x"); !errors.As(err, &we) || we.StatusCode != 401 {
		t.Fatalf("err = %v", err)
	}
}

func TestKeyRefresh(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	send := func() int {
		t.Helper()
		_, err := r.bf.SendUserMessage(ctxT(t), r.hook.URL, "c", "u", "x")
		got := r.next(t)
		if err != nil && got.status == 200 {
			t.Fatal(err)
		}
		return got.status
	}
	fetches := func() int { return r.bf.Count(bftest.EndpointKeys) }

	for i := range 2 {
		if st := send(); st != 200 || fetches() != 1 {
			t.Fatalf("webhook %d: status %d, %d key fetches, want 1 (cached)", i, st, fetches())
		}
	}
	// A rotated key right after a fetch: refused without a fetch (at most one per KeysMinRefresh)...
	if _, err := r.bf.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if st := send(); st != 401 || fetches() != 1 {
		t.Fatalf("status %d, %d fetches", st, fetches())
	}
	// ...and fetched at once when the unknown kid comes later.
	r.clk.Advance(KeysMinRefresh)
	if st := send(); st != 200 || fetches() != 2 {
		t.Fatalf("status %d, %d fetches", st, fetches())
	}
	// Known keys are fetched again daily.
	r.clk.Advance(KeysMaxAge - time.Second)
	if send() != 200 || fetches() != 2 {
		t.Fatalf("%d fetches before a day", fetches())
	}
	r.clk.Advance(time.Second)
	if send() != 200 || fetches() != 3 {
		t.Fatalf("%d fetches after a day", fetches())
	}
	// A failed daily refresh keeps the stale keys (logged), rather than refusing every webhook.
	r.clk.Advance(KeysMaxAge)
	r.bf.Fail(bftest.Failure{Endpoint: bftest.EndpointKeys, Status: 500})
	if st := send(); st != 200 || fetches() != 4 {
		t.Fatalf("status %d, %d fetches", st, fetches())
	}
}

func TestKeysUnavailable(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.bf.Fail(bftest.Failure{Endpoint: bftest.EndpointOpenID, Status: 503})
	_, err := r.bf.SendUserMessage(ctxT(t), r.hook.URL, "c", "u", "x")
	got := r.next(t)
	var we *bftest.WebhookError
	if !errors.As(err, &we) || we.StatusCode != 503 || !errors.Is(got.err, ErrKeys) {
		t.Fatalf("err = %v, channel err %v", err, got.err)
	}
	// The next fetch is allowed after KeysMinRefresh, and succeeds.
	r.clk.Advance(KeysMinRefresh)
	if _, err := r.bf.SendUserMessage(ctxT(t), r.hook.URL, "c", "u", "x"); err != nil {
		t.Fatal(err)
	}
	r.next(t)
}

func TestConcurrentKeyFetch(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	release := make(chan struct{})
	r.bf.Fail(bftest.Failure{Endpoint: bftest.EndpointKeys, Hold: release})
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := r.bf.SendUserMessage(ctxT(t), r.hook.URL, "c", "u", "x")
			errs <- err
		}()
	}
	if err := r.bf.WaitCount(ctxT(t), bftest.EndpointKeys, 1); err != nil {
		t.Fatal(err)
	}
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		r.next(t)
	}
	if c := r.bf.Count(bftest.EndpointKeys); c != 1 {
		t.Fatalf("%d key fetches for %d concurrent webhooks", c, n)
	}
}

// TestAnonymous: the Emulator's mode, against a bftest without auth.
func TestAnonymous(t *testing.T) {
	t.Parallel()
	r := newRig(t, []bftest.Option{bftest.WithNoAuth()}, WithAnonymous())
	r.line.Settings = map[string]string{SettingBotHandle: "emu"}
	if _, err := r.bf.SendUserMessage(ctxT(t), r.hook.URL, "c", "u", "hello"); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got.err != nil || len(got.items) != 1 {
		t.Fatalf("got %+v", got)
	}
	a := r.bf.Complete(schema.Activity{From: schema.ChannelAccount{ID: "u"}, Conversation: schema.ConversationAccount{ID: "c"}, Text: "x"})
	valid, _ := r.bf.MintToken(bftest.Claims{Audience: "whatever"})
	tests := []struct {
		name, token string
		want        int
	}{
		{"empty bearer is none", " ", 200},
		{"invalid bearer", "garbage", 401},
		{"valid token, any audience", valid, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.bf.PostActivity(ctxT(t), r.hook.URL, a, tt.token)
			got := r.next(t)
			if got.status != tt.want {
				t.Fatalf("status %d, want %d: %v %v", got.status, tt.want, err, got.err)
			}
		})
	}
	if err := r.ch.TestConnect(ctxT(t), r.line); err != nil {
		t.Fatal(err)
	}
}

// TestServiceHostedFiles: Skype and Teams keep pasted images on the Connector service, which wants the bot's
// token to hand them out; the item carries it in the file's headers, and only for those files.
func TestServiceHostedFiles(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	hosted := r.bf.AddAttachment("image/png", []byte("png bytes"))
	_, err := r.bf.SendUserMessage(ctxT(t), r.hook.URL, "c", "u", "",
		schema.Attachment{ContentType: "image/png", ContentURL: hosted, Name: "pasted.png"},
		schema.Attachment{ContentType: "image/png", ContentURL: "https://files.example/x.png", Name: "x.png"})
	if err != nil {
		t.Fatal(err)
	}
	files := r.next(t).items[0].Item.(openlines.MessageItem).Message.Files
	if len(files) != 2 || len(files[0].Headers) != 1 || files[0].Headers[0].Name != "Authorization" || len(files[1].Headers) != 0 {
		t.Fatalf("files %+v", files)
	}
	// The portal downloads it with the headers of the item.
	req, _ := http.NewRequestWithContext(ctxT(t), "GET", files[0].URL, nil)
	req.Header.Set(files[0].Headers[0].Name, files[0].Headers[0].Value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "png bytes" {
		t.Fatalf("download: %d %q", resp.StatusCode, body)
	}
}
