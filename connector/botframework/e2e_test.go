package botframework_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/wire"
)

// portalEvents is a minimal portal built on router and client: it records what the connector server pushes
// and confirms received messages.
type portalEvents struct {
	mu         sync.Mutex
	messages   []openlines.MessageItem
	connectors []string
	deliveries []openlines.StatusDeliveryItem
	changed    chan struct{}
}

func (p *portalEvents) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		p.mu.Lock()
		ok, ch := cond(), p.changed
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (p *portalEvents) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// TestEndToEnd: a bftest user message goes through the connector server (SQLite queue) to a portal, and the
// operator's answer goes back through the channel to bftest, whose activity id reaches the portal.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	const key = "e2e-licence-key"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bf := bftest.NewServer(t, bftest.WithChannelID("skype"))

	ev := &portalEvents{changed: make(chan struct{})}
	var cl *client.Client
	r := router.New()
	router.Handle(r, openlines.CommandReceivingMessage, func(ctx context.Context, req *router.Request, items []openlines.MessageItem, itemErrs []error) error {
		if err := errors.Join(itemErrs...); err != nil {
			return err
		}
		confirm := make([]openlines.StatusItem, 0, len(items))
		ev.mu.Lock()
		for _, it := range items {
			ev.messages = append(ev.messages, it)
			ev.connectors = append(ev.connectors, req.Connector)
			confirm = append(confirm, openlines.StatusItem{Chat: openlines.ChatRef{ID: it.Chat.ID}, Message: openlines.MessageRef{ID: it.Message.FirstID()}})
		}
		ev.notify()
		ev.mu.Unlock()
		return cl.SetStatusDelivered(ctx, confirm, client.Connector(req.Connector), client.Line(req.Line))
	})
	router.Handle(r, openlines.CommandReceivingStatusDelivery, func(ctx context.Context, req *router.Request, items []openlines.StatusDeliveryItem, itemErrs []error) error {
		if err := errors.Join(itemErrs...); err != nil {
			return err
		}
		ev.mu.Lock()
		ev.deliveries = append(ev.deliveries, items...)
		ev.notify()
		ev.mu.Unlock()
		return nil
	})
	in, err := router.NewInput(r, router.WithCredentials(wire.Credentials{Mode: wire.MD5, LicenceKey: key}))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/pub/imconnector/", in)
	portal := httptest.NewServer(mux)
	defer portal.Close()

	chs := connector.NewChannels()
	if err := chs.Register(botframework.ID, botframework.New(
		botframework.WithOpenIDMetadataURL(bf.OpenIDMetadataURL()), botframework.WithTokenURL(bf.TokenURL()))); err != nil {
		t.Fatal(err)
	}
	srv, err := connector.NewServer(connector.Config{DSN: testdb.SQLiteDSN(t), Sites: []connector.Site{{LicenceKey: key}}, Channels: chs,
		AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()

	cl, err = client.New(srv.URL(), client.WithDomain(portal.URL), client.WithLicenceKey(key),
		client.WithConnector("botframework"), client.WithLine("3"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := cl.Connect(ctx, client.Settings{"bot_handle": "olbot", "app_id": bf.AppID(), "app_secret": bf.AppSecret()})
	if err != nil {
		t.Fatal(err)
	}
	webhook := reg.String("URL_WEBHOOK")
	if !strings.Contains(webhook, "/imwebhook/botframework?h=") || reg.String("messaging_endpoint") == "" {
		t.Fatalf("register answered %v", reg)
	}

	// The customer writes; the service redelivers the same activity; then writes again.
	conv := "29:conv/1;messageid=7"
	a := schema.Activity{ID: "act-1", From: schema.ChannelAccount{ID: "29:user", Name: "Ann Lee"},
		Conversation: schema.ConversationAccount{ID: conv}, Text: "hi 👍",
		Attachments: []schema.Attachment{{ContentType: "image/png", ContentURL: "https://files.example/cat.png", Name: "cat.png"}}}
	for range 2 {
		if _, err := bf.SendActivity(ctx, webhook, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bf.SendUserMessage(ctx, webhook, conv, "29:user", "second"); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, "two messages", func() bool { return len(ev.messages) >= 2 })
	ev.mu.Lock()
	first, second, n := ev.messages[0], ev.messages[1], len(ev.messages)
	connector := ev.connectors[0]
	ev.mu.Unlock()
	if n != 2 || second.Message.Text != "second" {
		t.Fatalf("the redelivered activity was queued again: %d messages", n)
	}
	if connector != "botframework.skype" || first.User.ID != "29:user" || first.User.Name != "Ann Lee" || first.Chat.ID != conv ||
		first.Message.FirstID() != "act-1" || first.Message.Text != "hi 👍" || len(first.Message.Files) != 1 ||
		first.Message.Files[0].URL != "https://files.example/cat.png" || first.Recipient.String("id") != bf.Bot().ID ||
		first.ServiceURL != bf.ServiceURL() {
		t.Fatalf("portal got %s %+v", connector, first)
	}

	// The operator answers with an icon tag and a file; the chat context comes from the received item.
	err = cl.SendMessage(ctx, []openlines.OutgoingMessage{{
		IM: openlines.IMRef{ChatID: "42", MessageID: "1001"},
		Message: openlines.OutgoingContent{UserID: "7", Text: "thanks [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]",
			Files: []openlines.OutgoingFile{{Name: "invoice.pdf", Type: "file", Link: "https://portal.example/f/invoice.pdf", Size: 3}}},
		Chat:       openlines.ChatRef{ID: conv},
		From:       first.Recipient, // the whole recipient map (docs/protocol.md §8.4)
		ServiceURL: first.ServiceURL,
	}}, client.Connector("botframework")) // the server looks the line connector up by the exact id it was set up with
	if err != nil {
		t.Fatal(err)
	}
	rec := bf.Expect(t, bftest.All(bftest.ByConversation(conv), bftest.ByOp(bftest.OpSend)))
	if rec.Activity.From.ID != bf.Bot().ID || rec.Activity.Text != "thanks 👍" || len(rec.Activity.Attachments) != 1 ||
		rec.Activity.Attachments[0].ContentURL != "https://portal.example/f/invoice.pdf" ||
		rec.Activity.Attachments[0].ContentType != "application/pdf" || rec.AppID != bf.AppID() ||
		rec.RawPath != "/v3/conversations/29%3Aconv%2F1%3Bmessageid%3D7/activities" {
		t.Fatalf("bftest recorded %s %+v", rec.RawPath, rec.Activity)
	}
	ev.wait(t, "the delivery status", func() bool { return len(ev.deliveries) >= 1 })
	ev.mu.Lock()
	d := ev.deliveries[0]
	ev.mu.Unlock()
	if d.Message.FirstID() != rec.ID || d.IM.MessageID != "1001" || d.Chat.ID != conv {
		t.Fatalf("delivery %+v, activity id %q", d, rec.ID)
	}
}

// TestBlockAndChatNameEndToEnd: the customer blocks and unblocks the bot and names the group chat (bftest's
// contactRelationUpdate and conversationUpdate); a current portal gets receivingStatusBlock items
// message_deny then message_allow, and setChatName as one map.
func TestBlockAndChatNameEndToEnd(t *testing.T) {
	t.Parallel()
	const key = "e2e-block-key"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bf := bftest.NewServer(t, bftest.WithChannelID("skype"))

	var mu sync.Mutex
	var blocks []openlines.StatusBlockItem
	var names []openlines.ChatName
	r := router.New()
	router.Handle(r, openlines.CommandReceivingStatusBlock, func(_ context.Context, _ *router.Request, items []openlines.StatusBlockItem, itemErrs []error) error {
		mu.Lock()
		defer mu.Unlock()
		blocks = append(blocks, items...)
		return errors.Join(itemErrs...)
	})
	router.Handle(r, openlines.CommandSetChatName, func(_ context.Context, _ *router.Request, items []openlines.ChatName, itemErrs []error) error {
		mu.Lock()
		defer mu.Unlock()
		names = append(names, items...)
		return errors.Join(itemErrs...)
	})
	in, err := router.NewInput(r, router.WithCredentials(wire.Credentials{Mode: wire.MD5, LicenceKey: key}))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/pub/imconnector/", in)
	portal := httptest.NewServer(mux)
	defer portal.Close()

	chs := connector.NewChannels()
	if err := chs.Register(botframework.ID, botframework.New(
		botframework.WithOpenIDMetadataURL(bf.OpenIDMetadataURL()), botframework.WithTokenURL(bf.TokenURL()))); err != nil {
		t.Fatal(err)
	}
	srv, err := connector.NewServer(connector.Config{DSN: testdb.SQLiteDSN(t), Sites: []connector.Site{{LicenceKey: key}}, Channels: chs,
		AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	cl, err := client.New(srv.URL(), client.WithDomain(portal.URL), client.WithLicenceKey(key), client.WithProfile(wire.Current),
		client.WithConnector("botframework"), client.WithLine("3"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := cl.Connect(ctx, client.Settings{"bot_handle": "olbot", "app_id": bf.AppID(), "app_secret": bf.AppSecret()})
	if err != nil {
		t.Fatal(err)
	}
	webhook := reg.String("URL_WEBHOOK")
	for _, action := range []string{schema.ActionRemove, schema.ActionAdd} {
		if _, err := bf.SendContactRelation(ctx, webhook, "29:conv", "29:ann", action); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bf.SendConversationName(ctx, webhook, "19:group", "Support team", "29:ann"); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 20*time.Second, "the portal to get 2 blocks and 1 chat name", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(blocks) == 2 && len(names) == 1
	})
	if !blocks[0].Blocked() || blocks[1].Blocked() || blocks[0].Chat.ID != "29:conv" || blocks[0].User.ID != "29:ann" ||
		blocks[0].Message.Type != openlines.BlockDeny || blocks[1].Message.Type != openlines.BlockAllow {
		t.Fatalf("blocks %+v", blocks)
	}
	if n := names[0]; n.Name != "Support team" || n.ChatID != "19:group" || n.UserID != "29:ann" {
		t.Fatalf("chat name %+v", n)
	}
	// The server deletes a packet's items once the portal's answer is in, just after the handlers ran.
	eventually.True(t, 10*time.Second, "the server to delete the delivered items", func() bool {
		st, err := srv.QueueStats(ctx)
		if err != nil || st.Dead != 0 {
			t.Fatalf("queue %+v %v", st, err)
		}
		return st.Pending == 0
	})
}
