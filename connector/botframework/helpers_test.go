package botframework

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/wire"
)

// rig is a channel wired to a bftest fake, with a webhook that hands every Receive result to the test.
type rig struct {
	bf    *bftest.Server
	ch    *Channel
	clk   *clock.Fake
	line  *Line
	hook  *httptest.Server
	recvd chan received
	waits chan time.Duration // every delay the channel waits for, in order
}

// recClock is a fake clock that reports every timer made by After.
type recClock struct {
	*clock.Fake
	waits chan time.Duration
}

func (c *recClock) After(d time.Duration) <-chan time.Time {
	ch := c.Fake.After(d)
	c.waits <- d
	return ch
}

type received struct {
	items  []connector.Incoming
	err    error
	status int
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newRig(t *testing.T, bfOpts []bftest.Option, opts ...Option) *rig {
	t.Helper()
	r := &rig{clk: clock.NewFake(t0), recvd: make(chan received, 16), waits: make(chan time.Duration, 100)}
	r.bf = bftest.NewServer(t, append([]bftest.Option{bftest.WithClock(r.clk), bftest.WithChannelID("skype")}, bfOpts...)...)
	base := []Option{WithOpenIDMetadataURL(r.bf.OpenIDMetadataURL()), WithTokenURL(r.bf.TokenURL()),
		WithEmoji(func(s string) string { return s }), withRandom(func() float64 { return 1 }),
		WithClock(&recClock{Fake: r.clk, waits: r.waits})}
	ch, err := NewChannel(connector.Env{HTTPClient: &http.Client{Timeout: 10 * time.Second}, Clock: r.clk}, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	r.ch = ch
	r.line = &Line{SiteDomain: "https://portal.example", LineID: "3", Connector: "botframework", Hash: "h1",
		Settings: map[string]string{SettingBotHandle: "olbot", SettingAppID: r.bf.AppID(), SettingAppSecret: r.bf.AppSecret()}}
	r.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		items, err := r.ch.Receive(req.Context(), r.line, req, body)
		status := http.StatusOK
		if err != nil {
			status = http.StatusInternalServerError
			var se *connector.StatusError
			if errors.As(err, &se) {
				status = se.Status
			}
		}
		r.recvd <- received{items: items, err: err, status: status}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.hook.Close)
	r.line.WebhookURL = r.hook.URL
	return r
}

// next returns the result of the next webhook call.
func (r *rig) next(t *testing.T) received {
	t.Helper()
	select {
	case got := <-r.recvd:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook call")
		return received{}
	}
}

// drive advances the fake clock by every delay the channel waits for, until done is closed, and returns the
// delays.
func (r *rig) drive(done <-chan struct{}) []time.Duration {
	var waits []time.Duration
	for {
		select {
		case <-done:
			return waits
		case d := <-r.waits:
			waits = append(waits, d)
			r.clk.Advance(d)
		}
	}
}

// decoded returns v as the connector server hands items to Send: serialized and decoded back (*wire.Map).
func decoded(t testing.TB, v any) any {
	t.Helper()
	b, err := wire.Serialize(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := wire.Unserialize(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
