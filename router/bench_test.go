package router_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

// tenItems is a receivingMessage DATA of 10 realistic items (no files).
func tenItems() []any {
	items := make([]any, 10)
	for i := range items {
		items[i] = wire.NewMap(
			"user", wire.NewMap("id", fmt.Sprintf("29:1A2b3C-%d", i), "name", "Анна Петрова", "last_name", "", "url", "",
				"picture", wire.NewMap("url", "http://127.0.0.1:9/avatar.png")),
			"message", wire.NewMap("id", fmt.Sprintf("17000000000%02d", i), "date", 1700000000+i, "text", "Привет :smile: can you help? :+1:"),
			"chat", wire.NewMap("id", "a:conv-42", "name", ""),
			"recipient", wire.NewMap("id", "28:bot-id", "name", "helpdesk-bot"),
			"service_url", "https://smba.trafficmanager.net/apis/",
		)
	}
	return items
}

// benchHTTP posts body to url from parallel clients for b.N requests and reports packets/s.
func benchHTTP(b *testing.B, url, body string) {
	b.SetBytes(int64(len(body)))
	routertest.Load(b, url, func() string { return body })
}

// benchRouter serves r through an Input on 127.0.0.1 and posts body to it as benchHTTP does, after one
// delivery that must succeed.
func benchRouter(b *testing.B, r *router.Router, body string) {
	srv := serve(b, r, md5Creds, nil)
	if a := routertest.Post(b, nil, srv.URL, body); a.Err != nil {
		b.Fatalf("%s", a.Body)
	}
	benchHTTP(b, srv.URL, body)
}

// BenchmarkInput measures md5-verified, decoded and routed receivingMessage packets of 10 items, each decoded
// into openlines.MessageItem and validated, through real HTTP on 127.0.0.1 (olctl), against a bare net/http
// handler that reads the body and answers 200 under the same load (bare).
func BenchmarkInput(b *testing.B) {
	send := routertest.NewSender(b, md5Creds, nil, "botframework.skype", "3")
	body := send.Body(b, openlines.CommandReceivingMessage, tenItems())

	b.Run("olctl", func(b *testing.B) {
		r := router.New()
		router.Handle(r, openlines.CommandReceivingMessage, func(_ context.Context, _ *router.Request, items []openlines.MessageItem, errs []error) error {
			if len(items) != 10 || errs != nil {
				return wire.Errorf(wire.CodeBadPacket, "%d items, errors %v", len(items), errs)
			}
			for i := range items {
				if err := items[i].Validate(); err != nil {
					return err
				}
			}
			return nil
		})
		benchRouter(b, r, body)
	})
	b.Run("bare", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		}))
		defer srv.Close()
		benchHTTP(b, srv.URL, body)
	})
}
