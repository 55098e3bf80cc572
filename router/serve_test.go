package router_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/router/routertest"
)

// serveLimited serves an Input with one setChatName handler, h, behind a ServerLimits server on 127.0.0.1.
func serveLimited(t *testing.T, l router.ServerLimits, h func(ctx context.Context) error) string {
	t.Helper()
	r := router.New()
	router.Handle(r, openlines.CommandSetChatName, func(ctx context.Context, _ *router.Request, _ []openlines.ChatName, _ []error) error {
		return h(ctx)
	})
	in, err := router.NewInput(r, router.WithCredentials(md5Creds), router.WithClock(clock.NewFake(epoch)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := l.Server(in, nil)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func chatNameBody(t *testing.T) string {
	send := routertest.NewSender(t, md5Creds, clock.NewFake(epoch), "botframework.skype", "3")
	return send.Body(t, openlines.CommandSetChatName, map[string]any{"name": "n", "chat_id": "c1", "user_id": "u1"})
}

// TestHalfClosedClient: a client that closes its side after its request (its context is canceled) gets no
// INTERNAL_ERROR "context canceled": the connection is closed without an answer.
func TestHalfClosedClient(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	addr := serveLimited(t, router.ServerLimits{}, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	body := chatNameBody(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /pub/imconnector/ HTTP/1.1\r\nHost: portal\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	<-started
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	if len(b) != 0 {
		t.Fatalf("a client that left got %q", b)
	}
}

// TestServerLimits: behind ServerLimits a trickled body is cut at ReadTimeout, and requests beyond
// MaxConcurrent are answered 503 while a normal request still gets its answer once a slot is free.
func TestServerLimits(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	addr := serveLimited(t, router.ServerLimits{ReadTimeout: 300 * time.Millisecond, MaxConcurrent: 1}, func(ctx context.Context) error {
		select {
		case entered <- struct{}{}:
			<-release
		default:
		}
		return nil
	})
	body := chatNameBody(t)
	url := "http://" + addr + "/pub/imconnector/"

	// The trickle: an 8 MiB Content-Length and a byte every 50 ms; the server closes it within ReadTimeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /pub/imconnector/ HTTP/1.1\r\nHost: portal\r\nContent-Length: 8388608\r\n\r\nBX_")
	start := time.Now()
	br := bufio.NewReader(c)
	cut := make(chan error, 1)
	go func() {
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		cut <- err
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
trickle:
	for {
		select {
		case <-cut:
			break trickle
		case <-tick.C:
			_, _ = c.Write([]byte("a"))
		case <-time.After(5 * time.Second):
			t.Fatal("the trickled body was still being read after 5 s")
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the trickle was cut after %v", d)
	}

	// One slot: a held request takes it, the next is refused at once, and after the release all is well.
	held := make(chan routertest.Answer, 1)
	go func() { held <- routertest.Post(t, nil, url, body) }()
	<-entered
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a request beyond the cap: %d", resp.StatusCode)
	}
	close(release)
	if a := <-held; a.Err != nil {
		t.Fatalf("the held request: %s", a.Body)
	}
	if a := routertest.Post(t, nil, url, body); a.Err != nil {
		t.Fatalf("after the release: %s", a.Body)
	}
}

// A portal's HTTP server with the default limits: slow clients are cut, floods are refused with 503.
func ExampleServerLimits() {
	r := router.New()
	in, err := router.NewInput(r, router.WithCredentials(md5Creds))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/pub/imconnector/", in)
	srv := router.ServerLimits{MaxConcurrent: 256}.Server(mux, nil)
	fmt.Println(srv.ReadHeaderTimeout, srv.ReadTimeout, srv.MaxHeaderBytes)
	// Output: 10s 30s 65536
}
