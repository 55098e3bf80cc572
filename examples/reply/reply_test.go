// Package reply shows an operator's reply going back to the customer: the portal's client sends it to the
// connector server (sendMessage), whose Bot Framework channel posts it to the conversation, here on a fake
// Bot Framework service (package bftest); the server then reports the delivery to the portal.
package reply

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

const licenceKey = "my-licence-key" // the portal's licence key: it signs every packet (md5, as Bitrix does)

func TestReply(t *testing.T) {
	ctx := t.Context()
	bf := bftest.NewServer(t) // the fake Bot Framework: the customer's messenger and the bot's REST API
	p := startPortal(t, startConnectorServer(t, bf))
	received := make(chan portal.Message, 1)
	p.OnReceivedMessage(func(ctx context.Context, m portal.Message) error {
		received <- m
		return nil
	})
	delivered := make(chan portal.StatusDelivery, 1)
	p.OnReceivedStatusDelivery(func(ctx context.Context, s portal.StatusDelivery) error {
		delivered <- s
		return nil
	})

	// Connect a Bot Framework line with the bot's Microsoft app id and password.
	hook, err := p.Client().Connect(ctx,
		client.Settings{"bot_handle": "helpdesk-bot", "app_id": bf.AppID(), "app_secret": bf.AppSecret()},
		client.Connector(botframework.ID), client.Line("1"))
	if err != nil {
		t.Fatal(err)
	}
	// The customer writes to the bot.
	if _, err := bf.SendUserMessage(ctx, hook.String("URL_WEBHOOK"), "conversation-1", "customer-1", "Where is my order?"); err != nil {
		t.Fatal(err)
	}
	m := wait(t, received, "the customer's message at the portal")

	// The operator answers. The message names the chat it came from; the portal's own ids of the chat and
	// message (IM) come back in the delivery status. Connector and line are those the message came on.
	err = p.Client().SendMessage(ctx, []openlines.OutgoingMessage{{
		IM:      openlines.IMRef{ChatID: "42", MessageID: "operator-reply-1"},
		Message: openlines.OutgoingContent{UserID: "1", Text: "It ships today."},
		Chat:    openlines.ChatRef{ID: m.Chat.ID},
	}}, client.Connector(m.Connector), client.Line(m.Line))
	if err != nil {
		t.Fatal(err)
	}

	// The reply reaches the customer's conversation at the Bot Framework…
	rec, err := bf.WaitFor(ctx, bftest.All(bftest.ByConversation("conversation-1"), bftest.ByOp(bftest.OpSend)))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Activity.Text != "It ships today." || !rec.Accepted() {
		t.Errorf("the Bot Framework got %q (status %d), want %q", rec.Activity.Text, rec.Status, "It ships today.")
	}
	// …and the connector server reports its delivery back to the portal.
	s := wait(t, delivered, "the delivery status at the portal")
	if s.IM.MessageID != "operator-reply-1" {
		t.Errorf("delivery status of %+v, want the reply operator-reply-1", s.IM)
	}
}

// startConnectorServer runs a connector server in this process (127.0.0.1, a random port, a temporary
// SQLite database) whose Bot Framework channel talks to the fake service instead of Microsoft's.
func startConnectorServer(t *testing.T, bf *bftest.Server) *connector.Server {
	t.Helper()
	channels := connector.NewChannels()
	err := channels.Register(botframework.ID, botframework.New(
		botframework.WithOpenIDMetadataURL(bf.URL()+bftest.OpenIDPath),
		botframework.WithTokenURL(bf.URL()+bftest.TokenPath),
	))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := connector.NewServer(connector.Config{Channels: channels, Sites: []connector.Site{{LicenceKey: licenceKey}},
		AllowPrivateNetworks: true, // the portal of the test listens on 127.0.0.1
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// startPortal runs a portal receiver (SQLite in a temporary directory; see the receiver example for the
// application's own database) on its own site.
func startPortal(t *testing.T, server *connector.Server) *portal.Portal {
	t.Helper()
	mux := http.NewServeMux()
	site := httptest.NewServer(mux)
	t.Cleanup(site.Close)
	p, err := portal.New(t.Context(), portal.Config{
		Credentials: wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey},
		ServerURL:   server.URL(),
		Domain:      site.URL,
		DataDir:     t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	mux.Handle("/pub/imconnector/", p.Handler())
	return p
}

// wait is the value ch carries, failing the test after 20 s without one.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never arrived", what)
	}
	var zero T
	return zero
}
