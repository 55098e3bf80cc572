package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// drive advances the fake clock by step whenever a goroutine waits on it, until done is closed.
func drive(t *testing.T, clk *clock.Fake, done <-chan struct{}, step time.Duration) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-done:
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the call did not finish")
		}
		if clk.Waiters() > 0 {
			clk.Advance(step)
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestRetries(t *testing.T) {
	policy := Retry{MaxRetries: 3, MinWait: 100 * time.Millisecond, MaxWait: 10 * time.Second}
	tests := []struct {
		name     string
		method   string
		fail     func(n int, w http.ResponseWriter) bool // answers a failure for attempt n and reports true
		opts     []CallOption
		wantN    int // requests the server gets
		wantErr  error
		wantCode wire.Code
	}{
		{name: "503 then OK", method: "testConnect", wantN: 2,
			fail: func(n int, w http.ResponseWriter) bool { return n == 1 && fail503(w) }},
		{name: "429 twice then OK", method: "listConnector", wantN: 3,
			fail: func(n int, w http.ResponseWriter) bool { return n <= 2 && fail429(w, "1") }},
		{name: "connection closed then OK", method: "readSettings", wantN: 2,
			fail: func(n int, w http.ResponseWriter) bool {
				if n == 1 {
					hangUp(w)
				}
				return n == 1
			}},
		{name: "every info method is a read", method: "infoConnectorsLine", wantN: 2,
			fail: func(n int, w http.ResponseWriter) bool { return n == 1 && fail503(w) }},
		{name: "custom method marked idempotent", method: "myRead", opts: []CallOption{Idempotent()}, wantN: 2,
			fail: func(n int, w http.ResponseWriter) bool { return n == 1 && fail503(w) }},
		{name: "retries exhausted", method: "infoConnect", wantN: 4, wantErr: ErrHTTPStatus,
			fail: func(n int, w http.ResponseWriter) bool { return fail503(w) }},
		{name: "write is not retried", method: "saveSettings", wantN: 1, wantErr: ErrHTTPStatus,
			fail: func(n int, w http.ResponseWriter) bool { return fail503(w) }},
		{name: "write is not retried after a transport error", method: "register", wantN: 1, wantErr: ErrTransport,
			fail: func(n int, w http.ResponseWriter) bool { hangUp(w); return true }},
		{name: "fire-and-forget is not retried", method: "sendMessage", wantN: 1, wantErr: ErrHTTPStatus,
			fail: func(n int, w http.ResponseWriter) bool { return fail503(w) }},
		{name: "OK false is not retried", method: "testConnect", wantN: 1, wantErr: ErrLicence,
			fail: func(n int, w http.ResponseWriter) bool {
				wire.WriteResponse(w, nil, wire.ErrLicence)
				return true
			}},
		{name: "4xx is not retried", method: "testConnect", wantN: 1, wantErr: ErrHTTPStatus,
			fail: func(n int, w http.ResponseWriter) bool { answerRaw(w, 404, "no"); return true }},
		{name: "Retry-After beyond MaxWait gives up", method: "testConnect", wantN: 1, wantErr: ErrHTTPStatus,
			fail: func(n int, w http.ResponseWriter) bool { return fail429(w, "3600") }},
	}
	for _, s := range signings() {
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.name, func(t *testing.T) {
				fs := newFakeServer(t, s, func(n int, p received, w http.ResponseWriter) {
					if !tt.fail(n, w) {
						answer(w, map[string]any{"RESULT": "OK"})
					}
				})
				c := fs.client(t, WithRetry(policy))
				done := make(chan struct{})
				var res *Result
				var err error
				go func() {
					defer close(done)
					res, err = c.CallWith(ctxT(t), tt.method, nil, tt.opts...)
				}()
				drive(t, fs.clock, done, time.Second)
				if got := fs.count(); got != tt.wantN {
					t.Errorf("server got %d requests, want %d", got, tt.wantN)
				}
				if tt.wantErr == nil {
					if err != nil {
						t.Fatalf("err = %v", err)
					}
					if res.Attempts != tt.wantN {
						t.Errorf("Attempts %d, want %d", res.Attempts, tt.wantN)
					}
				} else {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("err = %v, want %v", err, tt.wantErr)
					}
					var ce *Error
					if errors.As(err, &ce) && ce.Attempts != tt.wantN {
						t.Errorf("Error.Attempts %d, want %d", ce.Attempts, tt.wantN)
					}
				}
				nonces := map[string]bool{}
				for i, p := range fs.received() {
					if p.Err != nil {
						t.Errorf("attempt %d refused by the server: %v", i+1, p.Err)
					}
					if s.mode == wire.HMACSHA256 {
						nonce := p.Fields.Get("BX_NONCE")
						if nonces[nonce] {
							t.Errorf("attempt %d reuses nonce %s", i+1, nonce)
						}
						nonces[nonce] = true
					}
				}
			})
		}
	}
}

func fail503(w http.ResponseWriter) bool {
	answerRaw(w, http.StatusServiceUnavailable, "busy")
	return true
}

func fail429(w http.ResponseWriter, retryAfter string) bool {
	w.Header().Set("Retry-After", retryAfter)
	answerRaw(w, http.StatusTooManyRequests, "slow down")
	return true
}

// A retried hardened packet passes the replay guard because it is signed afresh; the same packet sent twice
// does not: this is what the guard would do to a retry that resent the first attempt's bytes.
func TestHardenedRetryIsSignedAfresh(t *testing.T) {
	s := signings()[1]
	fs := newFakeServer(t, s, func(n int, _ received, w http.ResponseWriter) {
		if n == 1 {
			fail503(w)
			return
		}
		answer(w, nil)
	})
	c := fs.client(t, WithRetry(Retry{MaxRetries: 1, MinWait: time.Second, MaxWait: time.Second}))
	done := make(chan struct{})
	var err error
	go func() { defer close(done); err = c.TestConnect(ctxT(t)) }()
	waitWaiters(t, fs.clock, 1)
	fs.clock.Advance(time.Second) // the timestamp moves too
	<-done
	if err != nil {
		t.Fatal(err)
	}
	got := fs.received()
	if len(got) != 2 || got[0].Err != nil || got[1].Err != nil {
		t.Fatalf("packets %+v", got)
	}
	a, b := got[0].Fields, got[1].Fields
	if a.Get("BX_NONCE") == b.Get("BX_NONCE") || a.Get("BX_HASH") == b.Get("BX_HASH") ||
		a.Get("BX_TIMESTAMP") == b.Get("BX_TIMESTAMP") {
		t.Errorf("the retry was not re-signed:\n%v\n%v", a, b)
	}
	// Replaying the first attempt's exact bytes is refused.
	resp, err := http.Post(fs.srv.URL, "application/x-www-form-urlencoded", strings.NewReader(a.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if last := fs.received()[2]; !errors.Is(last.Err, wire.ErrReplay) {
		t.Fatalf("the replayed packet got %v, want REPLAY", last.Err)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	for _, header := range []string{"3", testEpoch.Add(3 * time.Second).Format(http.TimeFormat)} {
		t.Run(header, func(t *testing.T) {
			fs := newFakeServer(t, signings()[0], func(n int, _ received, w http.ResponseWriter) {
				if n == 1 {
					fail429(w, header)
					return
				}
				answer(w, nil)
			})
			c := fs.client(t, WithRetry(Retry{MaxRetries: 1, MinWait: 10 * time.Millisecond, MaxWait: time.Minute}))
			done := make(chan struct{})
			var err error
			go func() { defer close(done); err = c.TestConnect(ctxT(t)) }()
			waitWaiters(t, fs.clock, 1)
			fs.clock.Advance(2900 * time.Millisecond)
			if fs.clock.Waiters() != 1 || fs.count() != 1 {
				t.Fatalf("retried before Retry-After: waiters %d, requests %d", fs.clock.Waiters(), fs.count())
			}
			fs.clock.Advance(200 * time.Millisecond)
			<-done
			if err != nil || fs.count() != 2 {
				t.Fatalf("err %v, requests %d", err, fs.count())
			}
		})
	}
}

func TestBackoffIsCappedExponentialWithJitter(t *testing.T) {
	c, err := New("http://x", WithDomain(testDomain), WithLicenceKey("k"),
		WithRetry(Retry{MaxRetries: 10, MinWait: 100 * time.Millisecond, MaxWait: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 9: time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d, ok := c.backoff(ctx, attempt, 0)
			if !ok || d < want/2 || d > want {
				t.Fatalf("attempt %d: wait %v (ok %v), want in [%v, %v]", attempt, d, ok, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("attempt %d: no jitter (%v)", attempt, seen)
		}
	}
	if d, ok := c.backoff(ctx, 1, 700*time.Millisecond); !ok || d < 700*time.Millisecond {
		t.Errorf("Retry-After 700ms gave %v %v", d, ok)
	}
	if _, ok := c.backoff(ctx, 1, 2*time.Second); ok {
		t.Error("Retry-After beyond MaxWait accepted")
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, ok := c.backoff(short, 3, 0); ok {
		t.Error("a wait past the context's deadline accepted")
	}
}

func TestParseRetryAfter(t *testing.T) {
	c, _ := New("http://x", WithDomain(testDomain), WithLicenceKey("k"), WithClock(clock.NewFake(testEpoch)))
	tests := map[string]time.Duration{
		"":     0,
		"5":    5 * time.Second,
		" 7 ":  7 * time.Second,
		"0":    0,
		"-3":   0,
		"soon": 0,
		testEpoch.Add(90 * time.Second).Format(http.TimeFormat):  90 * time.Second,
		testEpoch.Add(-90 * time.Second).Format(http.TimeFormat): 0,
		"99999999999999": 365 * 24 * time.Hour,
	}
	for h, want := range tests {
		if got := c.parseRetryAfter(h); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	fs := newFakeServer(t, signings()[0], func(n int, p received, w http.ResponseWriter) {
		if n == 1 {
			time.Sleep(400 * time.Millisecond) // longer than the attempt's budget
		}
		answer(w, nil)
	})
	c := fs.client(t, WithTimeout(100*time.Millisecond),
		WithRetry(Retry{MaxRetries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond}))
	done := make(chan struct{})
	var err error
	go func() { defer close(done); err = c.TestConnect(ctxT(t)) }()
	drive(t, fs.clock, done, time.Millisecond)
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if fs.count() != 2 {
		t.Errorf("%d requests, want 2", fs.count())
	}

	// Without retries the timeout is a transport error, not the caller's deadline.
	c = fs.client(t, WithTimeout(100*time.Millisecond), WithRetry(Retry{}))
	fs.setHandle(func(n int, p received, w http.ResponseWriter) { time.Sleep(400 * time.Millisecond) })
	err = c.TestConnect(ctxT(t))
	if !errors.Is(err, ErrTransport) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTransport only", err)
	}
}

func TestContextCancellation(t *testing.T) {
	t.Run("during the request", func(t *testing.T) {
		entered := make(chan struct{}, 1)
		fs := newFakeServer(t, signings()[1], func(n int, p received, w http.ResponseWriter) {
			entered <- struct{}{}
			<-p.ctx.Done()
		})
		c := fs.client(t)
		ctx, cancel := context.WithCancel(ctxT(t))
		errc := make(chan error, 1)
		go func() { errc <- c.TestConnect(ctx) }()
		<-entered
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTransport) {
				t.Fatalf("err = %v, want context.Canceled and not ErrTransport", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the call did not return after cancel")
		}
		if fs.count() != 1 {
			t.Errorf("%d requests: a cancelled read was retried", fs.count())
		}
	})
	t.Run("during the retry wait", func(t *testing.T) {
		fs := newFakeServer(t, signings()[0], func(n int, p received, w http.ResponseWriter) { fail503(w) })
		c := fs.client(t)
		ctx, cancel := context.WithCancel(ctxT(t))
		errc := make(chan error, 1)
		go func() { errc <- c.TestConnect(ctx) }()
		waitWaiters(t, fs.clock, 1)
		cancel()
		err := <-errc
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrHTTPStatus) || errors.Is(err, ErrTransport) {
			t.Fatalf("err = %v, want context.Canceled with the last status", err)
		}
		if fs.count() != 1 {
			t.Errorf("%d requests", fs.count())
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		fs := newFakeServer(t, signings()[0], nil)
		ctx, cancel := context.WithCancel(ctxT(t))
		cancel()
		if err := fs.client(t).TestConnect(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if _, err := fs.client(t).ListConnector(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("ListConnector err = %v", err)
		}
	})
	t.Run("deadline shorter than the back-off", func(t *testing.T) {
		fs := newFakeServer(t, signings()[0], func(n int, p received, w http.ResponseWriter) { fail429(w, "5") })
		c := fs.client(t, WithRetry(Retry{MaxRetries: 3, MinWait: time.Millisecond, MaxWait: time.Minute}))
		ctx, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := c.TestConnect(ctx)
		if !errors.Is(err, ErrHTTPStatus) || time.Since(start) > time.Second {
			t.Fatalf("err = %v after %v; want the 429 at once", err, time.Since(start))
		}
	})
}
