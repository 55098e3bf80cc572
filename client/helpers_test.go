package client

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/olctl/olctl/client/clienttest"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/wire"
)

const (
	testLicenceKey = "licence-key-123"
	testDomain     = "https://portal.example.com"
	testSecret     = "s3cret-hmac"
)

var testEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// signing is one of the two modes the tests run in.
type signing struct {
	name  string
	creds wire.Credentials
	opts  []Option
}

func signings() []signing {
	return []signing{
		{name: "md5", creds: wire.Credentials{Mode: wire.MD5, LicenceKey: testLicenceKey}},
		{name: "hmac-sha256", creds: wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{testSecret}},
			opts: []Option{WithSigning(wire.HMACSHA256, testSecret)}},
	}
}

// fixture is a fake connector server and the fake clock it shares with its clients.
type fixture struct {
	*clienttest.Server
	sign  signing
	clock *clock.Fake
}

func newFixture(t *testing.T, s signing, opts ...clienttest.Option) *fixture {
	t.Helper()
	clk := clock.NewFake(testEpoch)
	srv := clienttest.NewServer(t, s.creds, append([]clienttest.Option{clienttest.WithClock(clk)}, opts...)...)
	return &fixture{Server: srv, sign: s, clock: clk}
}

// md5Fixture is a fixture in md5 mode.
func md5Fixture(t *testing.T, opts ...clienttest.Option) *fixture {
	t.Helper()
	return newFixture(t, signings()[0], opts...)
}

// client returns a Client on the fixture's server with its signing and clock, for connector
// botframework.skype on line 3.
func (f *fixture) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	all := []Option{WithDomain(testDomain), WithLicenceKey(testLicenceKey), WithClock(f.clock),
		WithConnector("botframework.skype"), WithLine("3")}
	all = append(all, f.sign.opts...)
	c, err := New(f.URL, append(all, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitWaiters blocks until n goroutines wait on the fake clock (a retry sleeping), or fails.
func waitWaiters(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	eventually.True(t, 10*time.Second, fmt.Sprintf("%d goroutines to wait on the clock", n), func() bool { return clk.Waiters() >= n })
}

// codesOf returns the protocol codes of a client error, nil for nil, and fails for any other error.
func codesOf(t *testing.T, err error) []wire.Code {
	t.Helper()
	if err == nil {
		return nil
	}
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %T %v is not a *client.Error", err, err)
	}
	return e.Codes()
}

func answerRaw(status int, body string) clienttest.Handler {
	return func(w http.ResponseWriter, _ *clienttest.Call) { clienttest.Raw(w, status, body) }
}
