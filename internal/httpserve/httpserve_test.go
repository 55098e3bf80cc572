package httpserve

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs h under l on 127.0.0.1 until the test ends and returns the address.
func serve(t *testing.T, l Limits, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := l.Server(h, nil)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	got := Limits{ReadTimeout: time.Second, MaxConcurrent: -1}.WithDefaults()
	want := Limits{ReadHeaderTimeout: DefaultReadHeaderTimeout, ReadTimeout: time.Second, RequestTimeout: DefaultRequestTimeout,
		IdleTimeout: DefaultIdleTimeout, MaxHeaderBytes: DefaultMaxHeaderBytes, MaxConcurrent: DefaultMaxConcurrent}
	if got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
	srv := Limits{}.Server(http.NotFoundHandler(), nil)
	if srv.ReadTimeout != DefaultReadTimeout || srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.MaxHeaderBytes != DefaultMaxHeaderBytes ||
		srv.WriteTimeout <= DefaultRequestTimeout || srv.IdleTimeout != DefaultIdleTimeout {
		t.Fatalf("server %+v", srv)
	}
}

// TestConcurrencyCap: with two slots taken, a third request is answered 503 with Retry-After and the JSON
// envelope at once; when a slot is free again requests are served.
func TestConcurrencyCap(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	addr := serve(t, Limits{MaxConcurrent: 2}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	}))
	done := make(chan struct{})
	for i := 0; i < 2; i++ {
		go func() {
			if resp, err := http.Get("http://" + addr + "/hold"); err == nil {
				resp.Body.Close()
			}
			done <- struct{}{}
		}()
	}
	<-entered
	<-entered
	start := time.Now()
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(b), "INTERNAL_ERROR") {
		t.Fatalf("full server: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the refusal took %v", d)
	}
	close(release)
	<-done
	<-done
	resp, err = http.Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after the release: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestRequestDeadline: a handler's context ends RequestTimeout after it started, with DeadlineExceeded.
func TestRequestDeadline(t *testing.T) {
	t.Parallel()
	got := make(chan error, 1)
	addr := serve(t, Limits{RequestTimeout: 50 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		got <- r.Context().Err()
		w.WriteHeader(http.StatusGatewayTimeout)
	}))
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-got; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("context ended with %v", err)
	}
}

// TestTrickledBody: a body sent a byte at a time is cut at ReadTimeout; the handler's read fails.
func TestTrickledBody(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	addr := serve(t, Limits{ReadTimeout: 300 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stop := time.After(5 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-readErr:
			if err == nil {
				t.Fatal("the trickled body was read whole")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("cut after %v", d)
			}
			return
		case <-tick.C:
			_, _ = c.Write([]byte("a"))
		case <-stop:
			t.Fatal("the trickled body was still being read after 5 s")
		}
	}
}

// TestHeaderCap: headers over MaxHeaderBytes are refused (431) before any handler runs.
func TestHeaderCap(t *testing.T) {
	t.Parallel()
	addr := serve(t, Limits{MaxHeaderBytes: 1 << 10}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the handler ran")
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestGoneAndAbort: a client that goes away cancels the request's context (Gone), and Abort closes the
// connection without an answer.
func TestGoneAndAbort(t *testing.T) {
	t.Parallel()
	gone := make(chan bool, 1)
	started := make(chan struct{})
	addr := serve(t, Limits{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			Abort()
		}
		close(started)
		<-r.Context().Done()
		gone <- Gone(r)
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	c.Close()
	if !<-gone {
		t.Fatal("Gone is false for a client that left")
	}
	resp, err := http.Get("http://" + addr + "/abort")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("an aborted handler answered %d", resp.StatusCode)
	}
}
