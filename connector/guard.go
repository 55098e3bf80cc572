package connector

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"sync"

	"github.com/olctl/olctl/internal/netguard"
)

// errUnseenConnection is a request whose transport reported no connection: the guard cannot tell where it
// went, so it refuses the answer.
var errUnseenConnection = fmt.Errorf("connector: the HTTP client's transport reported no connection (net/http/httptrace), so its address cannot be checked: %w", ErrBlockedAddress)

// guardClient returns a copy of a caller's client whose requests reach public addresses only
// (internal/netguard). The client keeps its own dialer, proxy and TLS settings, so the guard cannot sit in
// its dialer's Control as in the default client; it watches every request through net/http/httptrace
// instead: an address the transport dials (ConnectStart) or the peer of the connection a request is to be
// written on (GotConn) that is not public fails the request with a *BlockedError, the connection closed
// before a byte of the request is written. A URL whose host is a literal address is checked before
// anything is dialled, and so, when an *http.Transport sends the request through a proxy (whose address is
// then the peer), is every address the host resolves to. A transport that reports no connection at all
// (one that does not dial through net/http, such as an in-memory fake) is refused: the guard cannot vouch
// for it. What it cannot see: the destination behind a proxy that a wrapping RoundTripper hides, and a
// name resolved again by the proxy to another address.
func guardClient(c *http.Client) *http.Client {
	out := *c
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = &guardedTransport{next: next}
	return &out
}

// GuardClient returns c held to the server's address guard, for a channel that calls its messenger with a
// client of its own instead of HTTPClient (which the server guards already): a copy of c whose requests
// reach public addresses only, as guardClient checks them, or c itself when AllowPrivateNetworks is set.
// A refused request fails with a *BlockedError (errors.Is ErrBlockedAddress) before a byte of it is sent.
func (e Env) GuardClient(c *http.Client) *http.Client {
	if e.AllowPrivateNetworks || c == nil {
		return c
	}
	return guardClient(c)
}

type guardedTransport struct{ next http.RoundTripper }

func (g *guardedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.precheck(req); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(req.Context())
	w := &connWatch{cancel: cancel}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{ConnectStart: w.connectStart, GotConn: w.gotConn})
	resp, err := g.next.RoundTrip(req.WithContext(ctx))
	if berr := w.verdict(err); berr != nil || err != nil {
		cancel()
		if resp != nil {
			resp.Body.Close()
		}
		if berr != nil {
			return nil, berr
		}
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// precheck refuses a literal non-public host, and a host sent through a proxy that resolves to one.
func (g *guardedTransport) precheck(req *http.Request) error {
	host := req.URL.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if !netguard.Public(a) {
			return &BlockedError{Addr: req.URL.Host}
		}
		return nil
	}
	t, ok := g.next.(*http.Transport)
	if !ok || t.Proxy == nil {
		return nil
	}
	if u, err := t.Proxy(req); err != nil || u == nil {
		return err
	}
	addrs, err := net.DefaultResolver.LookupNetIP(req.Context(), "ip", host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !netguard.Public(a) {
			return &BlockedError{Addr: net.JoinHostPort(a.String(), req.URL.Port())}
		}
	}
	return nil
}

// connWatch sees the connections of one request.
type connWatch struct {
	cancel  context.CancelFunc
	mu      sync.Mutex
	seen    bool
	blocked *BlockedError
}

func (w *connWatch) connectStart(_, addr string) {
	if ap, err := netip.ParseAddrPort(addr); err == nil && netguard.Public(ap.Addr()) {
		return
	}
	w.block(addr)
	w.cancel() // stop the dial where the transport lets it
}

func (w *connWatch) gotConn(info httptrace.GotConnInfo) {
	w.mu.Lock()
	w.seen = true
	w.mu.Unlock()
	addr := ""
	if info.Conn != nil && info.Conn.RemoteAddr() != nil {
		addr = info.Conn.RemoteAddr().String()
	}
	if ap, err := netip.ParseAddrPort(addr); err == nil && netguard.Public(ap.Addr()) {
		return
	}
	w.block(addr)
	if info.Conn != nil {
		info.Conn.Close() // before the request is written on it
	}
}

func (w *connWatch) block(addr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.blocked == nil {
		w.blocked = &BlockedError{Addr: addr}
	}
}

// verdict is the request's refusal, nil when every connection it saw was to a public address and, for a
// request that got an answer (failed false), there was one.
func (w *connWatch) verdict(failed error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.blocked != nil:
		return w.blocked
	case !w.seen && failed == nil:
		return errUnseenConnection
	}
	return nil
}

// cancelBody ends the request's context once its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
