package botframework

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/emoji"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// msg is an outgoing item as the portal's client sends it (docs/protocol.md §10), with the chat's context
// merged in, decoded as the channel gets it.
func (r *rig) msg(t *testing.T, chat, imID, text string, files ...openlines.OutgoingFile) any {
	t.Helper()
	return decoded(t, openlines.OutgoingMessage{
		IM:         openlines.IMRef{ChatID: "42", MessageID: imID},
		Message:    openlines.OutgoingContent{UserID: "7", Text: text, Files: files},
		Chat:       openlines.ChatRef{ID: chat},
		From:       wire.NewMap("id", r.bf.Bot().ID, "name", r.bf.Bot().Name),
		ServiceURL: r.bf.ServiceURL(),
	})
}

// outMsg is an outgoing item of a test to fill in.
type outMsg = openlines.OutgoingMessage

func TestSendMessage(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, WithEmoji(func(s string) string {
		return strings.ReplaceAll(s, "[ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]", "👍")
	}))
	r.line.Connector = "botframework.msteams"
	chat := "19:abc@thread.skype;messageid=1520/x"
	items := []any{
		r.msg(t, chat, "1001", "ok [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]",
			openlines.OutgoingFile{Name: "cat.png", Type: "image", Link: "https://portal.example/f/cat.png?x=1", Size: 10},
			openlines.OutgoingFile{Name: "doc", Type: "application/pdf", Link: "https://portal.example/f/doc"},
			openlines.OutgoingFile{Name: "blob.zzz", Type: "file", Link: "https://portal.example/f/blob"}),
	}
	out, err := r.ch.Send(ctxT(t), r.line, "sendMessage", items)
	if err != nil {
		t.Fatal(err)
	}
	rec := r.bf.Expect(t, bftest.ByOp(bftest.OpSend))
	if rec.ConversationID != chat || rec.RawPath != "/v3/conversations/19%3Aabc%40thread.skype%3Bmessageid%3D1520%2Fx/activities" {
		t.Fatalf("path %s (conversation %q)", rec.RawPath, rec.ConversationID)
	}
	a := rec.Activity
	if a.Type != "message" || a.Text != "ok 👍" || a.From != r.bf.Bot() || a.Conversation.ID != chat || rec.AppID != r.bf.AppID() {
		t.Fatalf("activity %+v", a)
	}
	wantAtt := []schema.Attachment{
		{ContentType: "image/png", ContentURL: "https://portal.example/f/cat.png?x=1", Name: "cat.png"},
		{ContentType: "application/pdf", ContentURL: "https://portal.example/f/doc", Name: "doc"},
		{ContentType: "application/octet-stream", ContentURL: "https://portal.example/f/blob", Name: "blob.zzz"},
	}
	if len(a.Attachments) != len(wantAtt) {
		t.Fatalf("attachments %+v", a.Attachments)
	}
	for i, w := range wantAtt {
		if g := a.Attachments[i]; g.ContentType != w.ContentType || g.ContentURL != w.ContentURL || g.Name != w.Name {
			t.Fatalf("attachment %d: %+v, want %+v", i, g, w)
		}
	}
	if strings.Contains(string(rec.Body), "timestamp") {
		t.Fatalf("zero timestamp serialized: %s", rec.Body)
	}
	if len(out) != 1 || out[0].Command != "receivingStatusDelivery" || out[0].Connector != "botframework.msteams" {
		t.Fatalf("out %+v", out)
	}
	d := out[0].Item.(openlines.StatusDeliveryItem)
	if d.Message.FirstID() != rec.ID || len(d.Message.IDs()) != 1 || d.IM.MessageID != "1001" || d.IM.ChatID != "42" || d.Chat.ID != chat || d.Message.Date != t0.Unix() {
		t.Fatalf("delivery %+v (activity id %q)", d, rec.ID)
	}

	// updateMessage and deleteMessage find the activity id by the portal message when message.id is not set.
	if out, err := r.ch.Send(ctxT(t), r.line, "updateMessage", []any{r.msg(t, chat, "1001", "edited")}); err != nil || len(out) != 0 {
		t.Fatalf("update: %+v, %v", out, err)
	}
	upd := r.bf.Expect(t, bftest.ByOp(bftest.OpUpdate))
	if upd.ActivityID != rec.ID || upd.Activity.Text != "edited" || upd.Activity.ID != rec.ID ||
		!strings.HasSuffix(upd.RawPath, "/activities/"+schema.EscapeSegment(rec.ID)) {
		t.Fatalf("update record %+v", upd)
	}
	if out, err := r.ch.Send(ctxT(t), r.line, "deleteMessage", []any{r.msg(t, chat, "1001", "")}); err != nil || len(out) != 0 {
		t.Fatalf("delete: %+v, %v", out, err)
	}
	if del := r.bf.Expect(t, bftest.ByOp(bftest.OpDelete)); del.ActivityID != rec.ID {
		t.Fatalf("delete record %+v", del)
	}
}

func TestUpdateByExternalID(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.bf.AddActivity("c1", "ext|1")
	r.bf.AddActivity("c1", "ext|2")
	tests := []struct {
		name    string
		id      any
		updates int
	}{
		{"string", "ext|1", 1},
		{"list", []any{"ext|1", "ext|2"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := outMsg{IM: openlines.IMRef{MessageID: "9"}, Chat: openlines.ChatRef{ID: "c1"}, Message: openlines.OutgoingContent{Text: "new"},
				From: wire.NewMap("id", "28:bot"), ServiceURL: r.bf.ServiceURL()}
			item := decoded(t, m).(*wire.Map)
			msg, _ := item.Get("message")
			msg.(*wire.Map).Set("id", tt.id) // as the portal sent it: one id or a list
			n := len(r.bf.Activities())
			if out, err := r.ch.Send(ctxT(t), r.line, "updateMessage", []any{item}); err != nil || len(out) != 0 {
				t.Fatalf("%+v %v", out, err)
			}
			if got := len(r.bf.Activities()) - n; got != tt.updates {
				t.Fatalf("%d updates", got)
			}
		})
	}
}

func TestSendItemErrors(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	good := r.msg(t, "c", "1", "hi")
	noContext := func() any {
		return decoded(t, outMsg{IM: openlines.IMRef{MessageID: "2"}, Chat: openlines.ChatRef{ID: "c"}, Message: openlines.OutgoingContent{Text: "x"}})
	}()
	plainHTTP := func() any {
		return decoded(t, outMsg{IM: openlines.IMRef{MessageID: "3"}, Chat: openlines.ChatRef{ID: "c"}, Message: openlines.OutgoingContent{Text: "x"},
			From: wire.NewMap("id", "b"), ServiceURL: "http://smba.example/"})
	}()
	tests := []struct {
		name     string
		method   string
		item     any
		wantCode string
		wantMsg  string
	}{
		{"no chat context", "sendMessage", noContext, "BAD_PACKET", "service_url, from.id"},
		{"token to plain http", "sendMessage", plainHTTP, "BAD_PACKET", "only https"},
		{"empty message", "sendMessage", r.msg(t, "c", "4", ""), "BAD_PACKET", "neither text nor files"},
		{"too large", "sendMessage", r.msg(t, "c", "5", strings.Repeat("x", schema.MaxActivityBytes)), "PAYLOAD_TOO_LARGE", "262144"},
		{"update unknown", "updateMessage", r.msg(t, "c", "never-sent", "x"), "BAD_PACKET", "no activity id"},
		{"delete unknown", "deleteMessage", r.msg(t, "c", "never-sent-2", ""), "BAD_PACKET", "no activity id"},
		{"not a map", "sendMessage", "just a string", "BAD_PACKET", "item 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := r.bf.Count(bftest.EndpointConnector)
			items, wantCalls := []any{tt.item, good}, 1
			if tt.method != "sendMessage" {
				items, wantCalls = []any{tt.item}, 0
			}
			out, err := r.ch.Send(ctxT(t), r.line, tt.method, items)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) < 1 || out[0].Command != "receivingError" {
				t.Fatalf("out %+v", out)
			}
			e := out[0].Item.(openlines.ErrorItem)
			if e.Params.ErrorCode != tt.wantCode || !strings.Contains(e.MessageConnector, tt.wantMsg) {
				t.Fatalf("error item %+v", e)
			}
			// Flat, with the portal's own ids (docs/protocol.md §7).
			flat, chatID, imID := openlines.ErrorNotSendMessageChat, "", ""
			if tt.method == "deleteMessage" {
				flat = openlines.ErrorDeleteMessage
			}
			if m, ok := tt.item.(*wire.Map); ok {
				im, _ := m.Get("im")
				chatID, imID = im.(*wire.Map).String("chat_id"), im.(*wire.Map).String("message_id")
			}
			if e.Code != flat || e.ChatID != chatID || e.MessageID != imID || e.Validate() != nil {
				t.Fatalf("error item %+v, want code %s, chatId %q, messageId %q", e, flat, chatID, imID)
			}
			// The failed item was not sent; the good one after it was.
			if after := r.bf.Count(bftest.EndpointConnector); after != before+wantCalls {
				t.Fatalf("%d calls", after-before)
			}
			if tt.method == "sendMessage" && (len(out) != 2 || out[1].Command != "receivingStatusDelivery") {
				t.Fatalf("the good item was not reported: %+v", out)
			}
		})
	}
	if _, err := r.ch.Send(ctxT(t), r.line, "setStatusReading", []any{good}); err == nil {
		t.Fatal("unknown method accepted")
	}
}

func TestSendRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		failures   []bftest.Failure
		wantCalls  int
		wantOK     bool
		wantWaits  []time.Duration // the delays slept, in order
		wantInCode string
		wantInMsg  string
	}{
		{name: "429 honours Retry-After", failures: []bftest.Failure{{Status: 429, RetryAfter: "7"}}, wantCalls: 2, wantOK: true,
			wantWaits: []time.Duration{7 * time.Second}},
		{name: "Retry-After as a date", failures: []bftest.Failure{{Status: 503, RetryAfter: t0.Add(12 * time.Second).Format(http.TimeFormat)}},
			wantCalls: 2, wantOK: true, wantWaits: []time.Duration{12 * time.Second}},
		{name: "412 502 503 504 back off", failures: []bftest.Failure{{Status: 412}, {Status: 502}, {Status: 504}}, wantCalls: 4, wantOK: true,
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{name: "gives up after 4 attempts", failures: []bftest.Failure{{Status: 503, Times: 5, Code: "Overloaded", Message: "later"}}, wantCalls: 4,
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, wantInCode: "Overloaded", wantInMsg: "503 Overloaded: later"},
		{name: "500 is not retried", failures: []bftest.Failure{{Status: 500, Code: "ServiceError", Message: "boom"}}, wantCalls: 1,
			wantInCode: "ServiceError", wantInMsg: "X-Correlating-OperationId: "},
		{name: "400 is not retried", failures: []bftest.Failure{{Status: 400}}, wantCalls: 1, wantInCode: "BadArgument"},
		{name: "Retry-After beyond the max", failures: []bftest.Failure{{Status: 429, RetryAfter: "3600"}}, wantCalls: 1, wantInCode: "Throttled"},
		{name: "401 refreshes the token once", failures: []bftest.Failure{{Status: 401}}, wantCalls: 2, wantOK: true},
		{name: "401 twice fails", failures: []bftest.Failure{{Status: 401, Times: 2}}, wantCalls: 2, wantInCode: "Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has its own rig
			r := newRig(t, nil)
			for _, f := range tt.failures {
				r.bf.Fail(f)
			}
			var out []connector.Incoming
			var err error
			done := make(chan struct{})
			go func() {
				defer close(done)
				out, err = r.ch.Send(ctxT(t), r.line, "sendMessage", []any{r.msg(t, "c", "1", "hi")})
			}()
			waits := r.drive(done)
			if err != nil {
				t.Fatal(err)
			}
			if c := r.bf.Count(bftest.EndpointConnector); c != tt.wantCalls {
				t.Fatalf("%d calls, want %d", c, tt.wantCalls)
			}
			if len(waits) != len(tt.wantWaits) {
				t.Fatalf("waits %v, want %v", waits, tt.wantWaits)
			}
			for i := range waits {
				if waits[i] != tt.wantWaits[i] {
					t.Fatalf("waits %v, want %v", waits, tt.wantWaits)
				}
			}
			if tt.wantOK {
				if len(out) != 1 || out[0].Command != "receivingStatusDelivery" {
					t.Fatalf("out %+v", out)
				}
				return
			}
			e := out[0].Item.(openlines.ErrorItem)
			if out[0].Command != "receivingError" || e.Params.ErrorCode != tt.wantInCode || !strings.Contains(e.MessageConnector, tt.wantInMsg) {
				t.Fatalf("out %+v", out)
			}
		})
	}
}

func TestBackoffJitter(t *testing.T) {
	t.Parallel()
	for _, rnd := range []float64{0, 0.5, 0.999} {
		ch, _ := NewChannel(connector.Env{}, withRandom(func() float64 { return rnd }))
		for n, full := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
			d := ch.backoff(n + 1)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%d) with %v = %v, want in [%v, %v]", n+1, rnd, d, full/2, full)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"5", 5 * time.Second, true}, {" 0 ", 0, true}, {"-1", 0, false}, {"soon", 0, false},
		{t0.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{t0.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		if d, ok := parseRetryAfter(tt.in, t0); d != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v", tt.in, d, ok)
		}
	}
}

func TestSendNetworkFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, WithRetry(3, time.Second, 4*time.Second))
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String() + "/"
	l.Close()
	m := outMsg{IM: openlines.IMRef{MessageID: "1"}, Chat: openlines.ChatRef{ID: "c"}, Message: openlines.OutgoingContent{Text: "x"},
		From: wire.NewMap("id", "b"), ServiceURL: dead}
	done := make(chan struct{})
	var out []connector.Incoming
	var err error
	go func() {
		defer close(done)
		out, err = r.ch.Send(ctxT(t), r.line, "sendMessage", []any{decoded(t, m)})
	}()
	if waits := r.drive(done); len(waits) != 2 {
		t.Fatalf("waits %v", waits)
	}
	if err != nil {
		t.Fatal(err)
	}
	e := out[0].Item.(openlines.ErrorItem)
	if e.Params.ErrorCode != "NETWORK_ERROR" || !strings.Contains(e.MessageConnector, "after 3 attempts") {
		t.Fatalf("error item %+v", e)
	}

	// The token endpoint down: Send is an error (nothing could be sent), never a panic.
	r2 := newRig(t, nil)
	r2.bf.Fail(bftest.Failure{Endpoint: bftest.EndpointToken, Status: 500})
	if _, err := r2.ch.Send(ctxT(t), r2.line, "sendMessage", []any{r2.msg(t, "c", "1", "x")}); !errors.Is(err, ErrToken) {
		t.Fatalf("err = %v", err)
	}
	if r2.bf.Count(bftest.EndpointConnector) != 0 {
		t.Fatal("sent without a token")
	}
}

func TestSendContextCancelled(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.bf.Fail(bftest.Failure{Status: 429, RetryAfter: "10"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var out []connector.Incoming
	go func() {
		defer close(done)
		out, _ = r.ch.Send(ctx, r.line, "sendMessage", []any{r.msg(t, "c", "1", "x")})
	}()
	if d := <-r.waits; d != 10*time.Second {
		t.Fatalf("waits %v", d)
	}
	cancel()
	<-done
	if len(out) != 1 || out[0].Command != "receivingError" || out[0].Item.(openlines.ErrorItem).Params.ErrorCode != "Throttled" {
		t.Fatalf("out %+v", out)
	}
}

func TestTokenCache(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	send := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := r.ch.Send(ctxT(t), r.line, "sendMessage", []any{r.msg(t, "c", string(rune('a'+i)), "x")})
				if err != nil || out[0].Command != "receivingStatusDelivery" {
					t.Errorf("send: %+v %v", out, err)
				}
			}()
		}
		wg.Wait()
	}
	// Concurrent senders while the first token request is held: one request.
	release := make(chan struct{})
	r.bf.Fail(bftest.Failure{Endpoint: bftest.EndpointToken, Hold: release})
	go func() {
		_ = r.bf.WaitCount(ctxT(t), bftest.EndpointToken, 1)
		close(release)
	}()
	send(8)
	if n := r.bf.Count(bftest.EndpointToken); n != 1 {
		t.Fatalf("%d token requests for 8 concurrent senders", n)
	}
	// Cached until 5 minutes before expiry (tokens live an hour).
	r.clk.Advance(54 * time.Minute)
	send(3)
	if n := r.bf.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens after 54 min", n)
	}
	r.clk.Advance(time.Minute)
	send(3)
	if n := r.bf.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens after 55 min", n)
	}
	// Every call carried a token the fake accepts.
	for _, rec := range r.bf.Records() {
		if rec.AppID != r.bf.AppID() {
			t.Fatalf("record %+v", rec)
		}
	}
	// A waiter that gives up does not cancel the refresh for the others.
	release2 := make(chan struct{})
	r.bf.Fail(bftest.Failure{Endpoint: bftest.EndpointToken, Hold: release2})
	ts := r.ch.source(r.bf.AppID(), r.bf.AppSecret())
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { _, err := ts.get(ctx, true); errc <- err }()
	if err := r.bf.WaitCount(ctxT(t), bftest.EndpointToken, 3); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || !errors.Is(err, ErrToken) {
		t.Fatalf("err = %v", err)
	}
	got := make(chan error)
	go func() { _, err := ts.get(context.Background(), true); got <- err }()
	close(release2)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestAnonymousSend(t *testing.T) {
	t.Parallel()
	r := newRig(t, []bftest.Option{bftest.WithNoAuth()}, WithAnonymous())
	r.line.Settings = map[string]string{SettingBotHandle: "emu"}
	out, err := r.ch.Send(ctxT(t), r.line, "sendMessage", []any{r.msg(t, "c", "1", "x")})
	if err != nil || out[0].Command != "receivingStatusDelivery" {
		t.Fatalf("%+v %v", out, err)
	}
	if rec := r.bf.Expect(t, nil); rec.Header.Get("Authorization") != "" || r.bf.TokensIssued() != 0 {
		t.Fatalf("anonymous send carried a token: %+v", rec.Header)
	}
	// Without WithAnonymous a line without app_id cannot send.
	ch, _ := NewChannel(connector.Env{})
	if _, err := ch.Send(ctxT(t), r.line, "sendMessage", nil); err == nil {
		t.Fatal("want error")
	}
}

func TestDefaultEmoji(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, WithEmoji(nil)) // nil: the default, emoji.New().FromIcons
	tag := emoji.New().ToIcons(":+1:")
	if !strings.HasPrefix(tag, "[ICON=") {
		t.Fatalf("icon tag %q", tag)
	}
	if _, err := r.ch.Send(ctxT(t), r.line, "sendMessage", []any{r.msg(t, "c", "1", "ok "+tag+" :)")}); err != nil {
		t.Fatal(err)
	}
	if got := r.bf.Expect(t, nil).Activity.Text; got != "ok 👍 :)" {
		t.Fatalf("text %q", got)
	}
}

func TestTokenSourcePerSecret(t *testing.T) {
	t.Parallel()
	ch, _ := NewChannel(connector.Env{})
	a := ch.source("app", "s1")
	if ch.source("app", "s1") != a {
		t.Fatal("same credentials, another source")
	}
	b := ch.source("app", "s2")
	if b == a || ch.source("app", "s2") != b {
		t.Fatal("a changed secret must replace the cached token source")
	}
	var wg sync.WaitGroup
	got := make([]*tokenSource, 16)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = ch.source("other", "s") }()
	}
	wg.Wait()
	for _, ts := range got {
		if ts != got[0] {
			t.Fatal("concurrent callers got different sources")
		}
	}
}

// TestSendShapes: the items of both generations are sent (docs/protocol.md §10): a legacy item with the
// operator as user and files as {name, type, link}; a current one with mime and downloadLink; a typing notice
// (message.type typing_start) becomes a typing activity and reports nothing.
func TestSendShapes(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	from := wire.NewMap("id", r.bf.Bot().ID, "name", r.bf.Bot().Name)
	legacy := wire.NewMap(
		"im", wire.NewMap("chat_id", int64(118), "message_id", int64(40211)),
		"message", wire.NewMap("user_id", int64(7), "text", "legacy",
			"files", []any{wire.NewMap("name", "a.pdf", "type", "file", "link", "https://portal.example/a.pdf")}),
		"chat", wire.NewMap("id", "c1"),
		"user", wire.NewMap("id", int64(7), "name", "Operator"),
		"from", from, "service_url", r.bf.ServiceURL())
	current := decoded(t, openlines.OutgoingMessage{
		IM: openlines.IMRef{ChatID: "118", MessageID: "40212"},
		Message: openlines.OutgoingContent{UserID: "7", Text: "current", Files: []openlines.OutgoingFile{{Name: "photo", Type: "image",
			MIME: "image/webp", Link: "https://portal.example/show/1", DownloadLink: "https://portal.example/download/1", Size: 5}}},
		Chat: openlines.ChatRef{ID: "c1"}, From: from, ServiceURL: r.bf.ServiceURL()})
	typing := decoded(t, openlines.OutgoingMessage{
		IM: openlines.IMRef{ChatID: "118"}, Message: openlines.OutgoingContent{Type: openlines.TypeTypingStart},
		Chat: openlines.ChatRef{ID: "c1"}, From: from, ServiceURL: r.bf.ServiceURL()})
	out, err := r.ch.Send(ctxT(t), r.line, "sendMessage", []any{legacy, current, typing})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := r.bf.WaitRecords(ctxT(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	var sent []bftest.Record
	for _, rec := range recs {
		if rec.Op == bftest.OpSend {
			sent = append(sent, rec)
		}
	}
	if len(sent) != 3 {
		t.Fatalf("%d activities sent: %+v", len(sent), recs)
	}
	if a := sent[0].Activity; a.Text != "legacy" || len(a.Attachments) != 1 || a.Attachments[0].ContentURL != "https://portal.example/a.pdf" ||
		a.Attachments[0].ContentType != "application/pdf" {
		t.Errorf("legacy activity %+v", a)
	}
	if a := sent[1].Activity; a.Text != "current" || len(a.Attachments) != 1 || a.Attachments[0].ContentURL != "https://portal.example/download/1" ||
		a.Attachments[0].ContentType != "image/webp" {
		t.Errorf("current activity %+v", a)
	}
	if a := sent[2].Activity; a.Type != schema.TypeTyping || a.Text != "" || a.From.ID != r.bf.Bot().ID {
		t.Errorf("typing activity %+v", a)
	}
	if len(out) != 2 {
		t.Fatalf("reports %+v, want two deliveries and nothing for typing", out)
	}
	for i, want := range []string{"40211", "40212"} {
		d := out[i].Item.(openlines.StatusDeliveryItem)
		if out[i].Command != openlines.CommandReceivingStatusDelivery || d.IM.ChatID != "118" || d.IM.MessageID != want ||
			d.Message.FirstID() != sent[i].ID || d.Chat.ID != "c1" {
			t.Errorf("report %d: %+v", i, out[i])
		}
	}
}
