package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// TestChain sends a customer message from the messenger to the portal and the operator's reply back, on each
// database, in both signing modes and both generations of portal. The connector's site is of the portal's
// generation: told by the BX_VERSION of the portal's packets in md5 mode, set in the site's record
// (connector.Site.Profile) in hmac-sha256 mode. A current portal acknowledges by its OK answer and never calls
// setStatusDelivered; a legacy one confirms with setStatusDelivered. Either way the queue ends empty with no
// dead letters and every message fires once.
func TestChain(t *testing.T) {
	for _, db := range dbKinds() {
		for _, m := range modes() {
			for _, p := range profiles() {
				t.Run(db.name+"/"+m.name+"/"+p.String(), func(t *testing.T) {
					testChain(t, systemConfig{mode: m, profile: p, explicitSite: m.creds.Mode == wire.HMACSHA256,
						serverDB: db.open(t), portalDB: db.open(t)})
				})
			}
		}
	}
}

func testChain(t *testing.T, cfg systemConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A file the customer attaches, served on loopback.
	fileSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write([]byte("\x89PNG\r\n\x1a\nnot really a picture"))
	}))
	defer fileSrv.Close()

	s := startSystem(t, cfg)
	webhook := s.connect(ctx, t, lineID)

	// Customer → portal.
	const conv = "29:conv/with;messageid=1:odd"
	actID, err := s.bf.SendUserMessage(ctx, webhook, conv, "29:customer-1", "hello :+1: 👍",
		schema.Attachment{ContentType: "image/png", ContentURL: fileSrv.URL + "/photo.png", Name: "photo.png"})
	if err != nil {
		t.Fatalf("SendUserMessage: %v", err)
	}
	s.events.wait(ctx, t, "the portal's message event", func() bool { return len(s.events.messages) == 1 })
	s.events.mu.Lock()
	msg := s.events.messages[0]
	s.events.mu.Unlock()
	if want := botframework.VirtualConnector(s.bf.ChannelID()); msg.Connector != want {
		t.Errorf("connector = %q, want %q", msg.Connector, want)
	}
	if msg.Line != lineID || msg.Chat.ID != conv || msg.MessageID != actID {
		t.Errorf("line/chat/message = %q/%q/%q, want %q/%q/%q", msg.Line, msg.Chat.ID, msg.MessageID, lineID, conv, actID)
	}
	icon := "[ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]"
	if strings.Count(msg.Text, "1f44d.svg") != 2 || !strings.HasPrefix(msg.Text, "hello ") {
		t.Errorf("text = %q, want two %s icons", msg.Text, icon)
	}
	if msg.UserID == "" || msg.User.ID != "29:customer-1" {
		t.Errorf("user = %q (%+v)", msg.UserID, msg.User)
	}
	if len(msg.Files) != 1 || len(msg.FileFailures) != 0 {
		t.Errorf("files = %v, failures = %+v", msg.Files, msg.FileFailures)
	}

	// Operator → customer.
	err = s.client.SendMessage(ctx, []openlines.OutgoingMessage{{
		IM:      openlines.IMRef{ChatID: "77", MessageID: "501"},
		Message: openlines.OutgoingContent{UserID: "9", Text: "thanks " + icon, Files: []openlines.OutgoingFile{{Name: "manual.pdf", Type: "application/pdf", Link: "https://portal.example.com/f/1", Size: 1234}}},
		Chat:    openlines.ChatRef{ID: conv},
	}}, client.Connector(msg.Connector), client.Line(lineID))
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	rec, err := s.bf.WaitFor(ctx, bftest.All(bftest.ByOp(bftest.OpSend), bftest.ByConversation(conv)))
	if err != nil {
		t.Fatalf("no activity at bftest: %v", err)
	}
	if rec.Activity.Text != "thanks 👍" {
		t.Errorf("activity text = %q", rec.Activity.Text)
	}
	if rec.Activity.From.ID != s.bf.Bot().ID {
		t.Errorf("activity from = %+v, want the bot %+v", rec.Activity.From, s.bf.Bot())
	}
	if len(rec.Activity.Attachments) != 1 || rec.Activity.Attachments[0].ContentURL != "https://portal.example.com/f/1" {
		t.Errorf("attachments = %+v", rec.Activity.Attachments)
	}
	if !strings.Contains(rec.RawPath, "%2F") || !strings.Contains(rec.RawPath, "%3B") {
		t.Errorf("conversation id not escaped per segment: %s", rec.RawPath)
	}
	if rec.AppID != s.bf.AppID() {
		t.Errorf("reply made with app %q, want %q", rec.AppID, s.bf.AppID())
	}

	// The activity id comes back to the portal as a delivery status.
	s.events.wait(ctx, t, "receivingStatusDelivery", func() bool { return len(s.events.deliveries) == 1 })
	s.events.mu.Lock()
	d := s.events.deliveries[0]
	s.events.mu.Unlock()
	if len(d.ExternalIDs) != 1 || d.ExternalIDs[0] != rec.ID || d.IM.ChatID != "77" || d.IM.MessageID != "501" {
		t.Errorf("delivery = %+v, want message id %q for im 77/501", d, rec.ID)
	}
	// The operator edits, then deletes the reply: the messenger's activity is updated and deleted by its id.
	edit := openlines.OutgoingMessage{
		IM:      openlines.IMRef{ChatID: "77", MessageID: "501"},
		Message: openlines.OutgoingContent{ID: []string{rec.ID}, UserID: "9", Text: "thanks, edited"},
		Chat:    openlines.ChatRef{ID: conv},
	}
	if err := s.client.UpdateMessage(ctx, []openlines.OutgoingMessage{edit}, client.Connector(msg.Connector), client.Line(lineID)); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	upd, err := s.bf.WaitFor(ctx, bftest.All(bftest.ByOp(bftest.OpUpdate), bftest.ByConversation(conv)))
	if err != nil {
		t.Fatalf("no update at bftest: %v", err)
	}
	if upd.ActivityID != rec.ID || upd.Activity.Text != "thanks, edited" {
		t.Errorf("update of %q with %q, want %q with the new text", upd.ActivityID, upd.Activity.Text, rec.ID)
	}
	if err := s.client.DeleteMessage(ctx, []openlines.OutgoingMessage{edit}, client.Connector(msg.Connector), client.Line(lineID)); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	del, err := s.bf.WaitFor(ctx, bftest.All(bftest.ByOp(bftest.OpDelete), bftest.ByConversation(conv)))
	if err != nil {
		t.Fatalf("no delete at bftest: %v", err)
	}
	if del.ActivityID != rec.ID {
		t.Errorf("deleted %q, want %q", del.ActivityID, rec.ID)
	}

	// A message with no files, through the echo channel on a second line, whose items keep the empty files
	// and attachments arrays of docs/protocol.md §7.1 (the Bot Framework channel leaves empty keys out).
	noFiles := echoNoFiles(ctx, t, s)

	s.drained(ctx, t)
	for id, n := range s.events.fired() {
		if n != 1 {
			t.Errorf("message %q fired %d times", id, n)
		}
	}
	if got := s.events.fired(); len(got) != 2 || got[actID] != 1 || got[noFiles] != 1 {
		t.Errorf("message events %v, want %q and %q once each", got, actID, noFiles)
	}
	s.checkAcknowledgement(ctx, t, conv+" "+actID, "echo-chat "+noFiles)
	for _, p := range s.pushes.list(openlines.CommandReceivingMessage) {
		if !p.ok() {
			t.Errorf("receivingMessage answered %s", p.answer)
		}
	}
	s.checkStubs(t)
	if n := s.pushes.count(openlines.CommandTestConnect); n < 2 {
		t.Errorf("%d testConnect pushes, want one per connect", n)
	}
	wantVersion := s.profile.Version()
	for _, c := range s.calls.list("") {
		if c.version != wantVersion {
			t.Errorf("%s went with BX_VERSION %q, want %q", c.command, c.version, wantVersion)
		}
	}
	if st, _ := s.server.QueueStats(ctx); len(st.Lines) == 0 || st.Lines[0].Profile != s.profile.String() {
		t.Errorf("the server's site is %+v, want %s", st.Lines, s.profile)
	}
}

// echoNoFiles connects the echo channel on line 2 and sends a message whose files and attachments are empty
// arrays: the push carries them as the portal's generation stubs an empty array (current #EMPTY_ARRAY#,
// legacy #EMPTY#), and the portal fires the message with no files. It returns the message id.
func echoNoFiles(ctx context.Context, t *testing.T, s *system) string {
	t.Helper()
	const line, id = "2", "echo-no-files-1"
	data, err := s.client.Connect(ctx, client.Settings{"entity": "e2e-echo"}, client.Connector(connector.EchoID), client.Line(line))
	if err != nil {
		t.Fatalf("Connect echo: %v", err)
	}
	hook, _ := data["URL_WEBHOOK"].(string)
	body := `[{"user":{"id":"echo-user"},"message":{"id":"` + id + `","text":"no files","files":[],"attachments":[]},"chat":{"id":"echo-chat"}}]`
	resp, err := http.Post(hook, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("echo webhook: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("echo webhook answered %d", resp.StatusCode)
	}
	s.events.wait(ctx, t, "the message without files", func() bool {
		for _, m := range s.events.messages {
			if m.MessageID == id {
				return true
			}
		}
		return false
	})
	m, _ := s.events.message(id)
	if m.Line != line || m.Text != "no files" || len(m.Files) != 0 || len(m.FileFailures) != 0 || len(m.Attachments) != 0 {
		t.Errorf("message without files: line %q text %q files %v failures %v attachments %v", m.Line, m.Text, m.Files, m.FileFailures, m.Attachments)
	}
	var stub string
	if s.profile == wire.Current {
		stub = `s:13:"#EMPTY_ARRAY#";`
	} else {
		stub = `s:7:"#EMPTY#";`
	}
	want := `s:5:"files";` + stub + `s:11:"attachments";` + stub
	carries := func(p packet) bool { return p.line == line && strings.Contains(string(p.data), id) }
	pushes := s.pushes.wait(ctx, t, "the push of "+id, openlines.CommandReceivingMessage, func(l []packet) bool {
		return slices.ContainsFunc(l, carries)
	})
	for _, p := range pushes {
		if carries(p) && !strings.Contains(string(p.data), want) {
			t.Errorf("the push to a %s portal: %s, want %s", s.profile, p.data, want)
		}
	}
	return id
}
