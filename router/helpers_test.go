package router_test

import (
	"context"
	"encoding/base64"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

const (
	licenceKey = "DEMO-LICENCE-KEY-0001"
	secret     = "whsec-demo-0123456789abcdef"
	vectorsDir = "../wire/testdata/vectors/packets.json"
)

var (
	md5Creds  = wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey}
	hmacCreds = wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{"old-secret", secret}}
	epoch     = time.Unix(1732412345, 0)
)

// call is one call of a recorded handler: the request, the items as the handler got them (a []T of the
// command's type) and the per-item errors.
type call struct {
	req   *router.Request
	items any
	errs  []error
}

// recorder keeps every call of the handlers record registers.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

// record returns a handler for items of type T that keeps its calls in rec.
func record[T any](rec *recorder) func(context.Context, *router.Request, []T, []error) error {
	return func(_ context.Context, req *router.Request, items []T, errs []error) error {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.calls = append(rec.calls, call{req: req, items: items, errs: errs})
		return nil
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) last(t *testing.T) call {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		t.Fatal("the handler was not called")
	}
	return r.calls[len(r.calls)-1]
}

// lastItems returns the items of the last call, which must be of type T.
func lastItems[T any](t *testing.T, rec *recorder) ([]T, []error) {
	t.Helper()
	c := rec.last(t)
	items, ok := c.items.([]T)
	if !ok {
		t.Fatalf("the handler got %T", c.items)
	}
	return items, c.errs
}

// allCommands are the server → portal commands a portal handles, testConnect aside.
var allCommands = []string{
	openlines.CommandReceivingMessage, openlines.CommandReceivingStatusDelivery,
	openlines.CommandReceivingStatusReading, openlines.CommandReceivingError,
	openlines.CommandReceivingStatusBlock, openlines.CommandDeactivateConnector, openlines.CommandSetChatName,
}

// newRouter returns a Router with every command of allCommands recorded in its openlines type
// (receivingMessage as raw items when raw is set), and "panics", a handler that panics.
func newRouter(rec *recorder, raw bool) *router.Router {
	r := router.New()
	if raw {
		router.Handle(r, openlines.CommandReceivingMessage, record[any](rec))
	} else {
		router.Handle(r, openlines.CommandReceivingMessage, record[openlines.MessageItem](rec))
	}
	router.Handle(r, openlines.CommandReceivingStatusDelivery, record[openlines.StatusDeliveryItem](rec))
	router.Handle(r, openlines.CommandReceivingStatusReading, record[openlines.StatusReadingItem](rec))
	router.Handle(r, openlines.CommandReceivingError, record[openlines.ErrorItem](rec))
	router.Handle(r, openlines.CommandReceivingStatusBlock, record[openlines.StatusBlockItem](rec))
	router.Handle(r, openlines.CommandDeactivateConnector, record[any](rec))
	router.Handle(r, openlines.CommandSetChatName, record[openlines.ChatName](rec))
	router.Handle(r, "panics", func(context.Context, *router.Request, []any, []error) error { panic("boom") })
	return r
}

// server starts an Input on 127.0.0.1 for a newRouter.
func server(t *testing.T, creds wire.Credentials, clk clock.Clock, opts ...router.InputOption) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	return serve(t, newRouter(rec, false), creds, clk, opts...), rec
}

// serve starts an Input for r on 127.0.0.1.
func serve(t testing.TB, r *router.Router, creds wire.Credentials, clk clock.Clock, opts ...router.InputOption) *httptest.Server {
	t.Helper()
	opts = append([]router.InputOption{router.WithCredentials(creds), router.WithClock(clk)}, opts...)
	in, err := router.NewInput(r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return srv
}

// resign returns the body of a packet of s whose fields edit changed before signing: well signed, but
// carrying what edit put in.
func resign(t *testing.T, s *routertest.Sender, command string, edit func(wire.Fields) wire.Fields) string {
	t.Helper()
	f, err := s.Unsigned(command, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.Signer.Sign(edit(f))
	if err != nil {
		t.Fatal(err)
	}
	return signed.Encode()
}

// withData sets DATA to base64(serialized).
func withData(serialized string) func(wire.Fields) wire.Fields {
	return setField("DATA", base64.StdEncoding.EncodeToString([]byte(serialized)))
}

// setField sets the value of a field.
func setField(name, value string) func(wire.Fields) wire.Fields {
	return func(f wire.Fields) wire.Fields {
		for i := range f {
			if f[i].Name == name {
				f[i].Value = value
			}
		}
		return f
	}
}
