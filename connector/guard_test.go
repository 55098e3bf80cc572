package connector

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/inspect"
)

// TestCallerClientGuarded: a caller's HTTPClient is held to the address guard as the default one is,
// whatever its transport: a loopback address named, dialled by the caller's own dialer for a public-looking
// name, reached through a proxy, or a transport that reports no connection at all. No request reaches the
// address. With AllowPrivateNetworks the same client is used as it is.
func TestCallerClientGuarded(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, `{"OK":true,"DATA":[]}`)
	}))
	t.Cleanup(target.Close)
	loopback := target.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(loopback)
	toLoopback := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, loopback) // the caller's resolver says: loopback
	}
	untraced := func(_ context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(context.Background(), network, loopback) // the guard sees no dial
	}
	proxy, _ := url.Parse("http://" + loopback)
	for _, tc := range []struct {
		name   string
		client *http.Client
		url    string
	}{
		{"a zero client", &http.Client{}, target.URL},
		{"a transport of its own", &http.Client{Transport: &http.Transport{}}, target.URL},
		{"a name for loopback", &http.Client{}, "http://localhost:" + port + "/"},
		{"its own dialer", &http.Client{Transport: &http.Transport{DialContext: toLoopback}}, "http://portal.example.com:" + port + "/"},
		{"its own dialer, unseen", &http.Client{Transport: &http.Transport{DialContext: untraced}}, "http://portal.example.com:" + port + "/"},
		{"a proxy", &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}, "http://localhost:" + port + "/"},
		{"no connection", &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}}, nil
		})}, target.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := (&Config{HTTPClient: tc.client}).withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			before := hits.Load()
			req, _ := http.NewRequest(http.MethodPost, tc.url, strings.NewReader("BX_COMMAND=testConnect"))
			resp, err := cfg.HTTPClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			if !errors.Is(err, ErrBlockedAddress) {
				t.Fatalf("%s: %v, want ErrBlockedAddress", tc.url, err)
			}
			if n := hits.Load() - before; n != 0 {
				t.Fatalf("%d requests reached the loopback address", n)
			}
		})
	}
	t.Run("allowed", func(t *testing.T) {
		cfg, err := (&Config{HTTPClient: &http.Client{}, AllowPrivateNetworks: true}).withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cfg.HTTPClient.Post(target.URL, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
}

// TestCallerClientGuardPassesPublic: the guard lets a request through whose connection's peer is public
// (a dialer that reports a public remote address), and the answer's body stays readable after RoundTrip.
func TestCallerClientGuardPassesPublic(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"OK":true,"DATA":[]}`)
	}))
	t.Cleanup(target.Close)
	dial := func(_ context.Context, network, _ string) (net.Conn, error) {
		// Not through the request's context: the guard sees no dial, only the connection's peer.
		c, err := (&net.Dialer{}).DialContext(context.Background(), network, target.Listener.Addr().String())
		return publicPeer{c}, err
	}
	c := guardClient(&http.Client{Transport: &http.Transport{DialContext: dial}, Timeout: 5 * time.Second})
	resp, err := c.Get("http://portal.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != `{"OK":true,"DATA":[]}` {
		t.Fatalf("body %q %v", b, err)
	}
}

// TestCallerClientGuardedServer: the client a server calls portals and channels with is the guarded one,
// also when it is inspected (the recorder wraps the guard).
func TestCallerClientGuardedServer(t *testing.T) {
	target := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(target.Close)
	s, err := NewServer(Config{HTTPClient: &http.Client{Transport: testTransport}, Inspect: &inspect.Options{}, NoDispatch: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.cfg.HTTPClient.Get(target.URL); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("the server's client to loopback: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// publicPeer is a connection that reports a public remote address (documentation ranges are not public).
type publicPeer struct{ net.Conn }

func (publicPeer) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(8, 8, 8, 8), Port: 80} }

// TestEnvGuardClient: a server hands its channels its AllowPrivateNetworks, and Env.GuardClient holds a
// channel's own client to the guard by it: to loopback the guarded client is refused before a request is
// sent; with AllowPrivateNetworks the client is returned as it is.
func TestEnvGuardClient(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(target.Close)
	for _, allow := range []bool{false, true} {
		var env Env
		chs := NewChannels()
		if err := chs.Register(EchoID, func(e Env) (Channel, error) { env = e; return NewEcho(e) }); err != nil {
			t.Fatal(err)
		}
		s, err := NewServer(Config{Channels: chs, AllowPrivateNetworks: allow, NoDispatch: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if env.AllowPrivateNetworks != allow {
			t.Fatalf("AllowPrivateNetworks %v: the channel got %v", allow, env.AllowPrivateNetworks)
		}
		own := &http.Client{Transport: testTransport}
		c := env.GuardClient(own)
		if allow != (c == own) {
			t.Fatalf("AllowPrivateNetworks %v: GuardClient gave the client itself: %v", allow, c == own)
		}
		before := hits.Load()
		resp, err := c.Get(target.URL)
		if err == nil {
			resp.Body.Close()
		}
		if blocked := errors.Is(err, ErrBlockedAddress); blocked == allow || (err != nil && !blocked) {
			t.Fatalf("AllowPrivateNetworks %v: %v", allow, err)
		}
		if n := hits.Load() - before; n != int64(btoi(allow)) {
			t.Fatalf("AllowPrivateNetworks %v: %d requests reached loopback", allow, n)
		}
	}
	if (Env{}).GuardClient(nil) != nil {
		t.Fatal("GuardClient(nil) is not nil")
	}
}
