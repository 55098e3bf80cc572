package portal_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

// packetSource makes signed receivingMessage packets of 10 items with message ids never used before, from
// 10 recurring users (so that, after the first packet, every user is cached).
type packetSource struct {
	send *routertest.Sender
	next atomic.Int64
}

func (s *packetSource) body(b *testing.B) string {
	n := s.next.Add(1)
	items := make([]any, 10)
	for i := range items {
		items[i] = wire.NewMap(
			"user", wire.NewMap("id", fmt.Sprintf("29:1A2b3C-%d", i), "name", "Анна Петрова", "last_name", "", "url", "",
				"picture", wire.NewMap("url", "http://127.0.0.1:9/avatar.png")),
			"message", wire.NewMap("id", fmt.Sprintf("%d-%d", n, i), "date", 1700000000+n, "text", "Привет :smile: can you help? :+1:"),
			"chat", wire.NewMap("id", fmt.Sprintf("a:conv-%d", i), "name", ""),
			"recipient", wire.NewMap("id", "28:bot-id", "name", "helpdesk-bot"),
			"service_url", "https://smba.trafficmanager.net/apis/",
		)
	}
	// Not Sender.Body: its t.Helper calls would serialise the parallel clients on b's lock.
	f, err := s.send.Unsigned(openlines.CommandReceivingMessage, items)
	if err == nil {
		f, err = s.send.Signer.Sign(f)
	}
	if err != nil {
		b.Error(err)
	}
	return f.Encode()
}

// countingConfirmer counts confirmed items.
type countingConfirmer struct{ items atomic.Int64 }

func (c *countingConfirmer) ConfirmDelivered(_ context.Context, _, _ string, items []openlines.StatusItem) error {
	c.items.Add(int64(len(items)))
	return nil
}

// load posts fresh packets from parallel clients for b.N requests and reports packets/s and items/s.
func load(b *testing.B, url string, src *packetSource) {
	elapsed := routertest.Load(b, url, func() string { return src.body(b) })
	b.ReportMetric(float64(10*b.N)/elapsed.Seconds(), "items/s")
}

// BenchmarkInput measures receivingMessage packets of 10 new items each (users cached, no files) through
// real HTTP on 127.0.0.1: verified (md5), decoded, gated, stored durably in SQLite (duplicates checked there),
// run through the whole pipeline — emoji, user sync, Bot Framework context, event, each item's result
// recorded — and, in the legacy profile, confirmed with one setStatusDelivered per packet (to an in-process
// confirmer) — (olctl), against a bare net/http handler that reads the body and answers 200 under the same
// load, same packets included (bare).
func BenchmarkInput(b *testing.B) {
	b.Run("olctl", func(b *testing.B) {
		confirm := &countingConfirmer{}
		db := testdb.SQLite(b)
		p, err := portal.New(context.Background(), portal.Config{
			Credentials: md5Creds,
			DB:          db,
			Files:       &fakeFiles{},
			Confirmer:   confirm,
			Profile:     wire.Legacy,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		if err := p.SetLineStatus(context.Background(), "botframework", "3", openLine); err != nil {
			b.Fatal(err)
		}
		var events atomic.Int64
		p.OnReceivedMessage(func(context.Context, portal.Message) error { events.Add(1); return nil })
		srv := httptest.NewServer(p.Handler())
		defer srv.Close()
		src := &packetSource{send: routertest.NewSender(b, md5Creds, nil, "botframework.skype", "3")}
		if a := routertest.Post(b, nil, srv.URL, src.body(b)); a.Err != nil { // warm the user cache
			b.Fatalf("%s", a.Body)
		}
		load(b, srv.URL, src)
		b.StopTimer()
		if got, want := confirm.items.Load(), events.Load(); got != want || got == 0 {
			b.Fatalf("%d items confirmed, %d events", got, want)
		}
	})
	b.Run("bare", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		}))
		defer srv.Close()
		src := &packetSource{send: routertest.NewSender(b, md5Creds, nil, "botframework.skype", "3")}
		load(b, srv.URL, src)
	})
}
