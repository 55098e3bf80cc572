package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/client/clienttest"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/wire"
)

// drive advances the fake clock by step whenever a goroutine waits on it, until done is closed.
func drive(t *testing.T, clk *clock.Fake, done <-chan struct{}, step time.Duration) {
	t.Helper()
	eventually.True(t, 15*time.Second, "the call to finish", func() bool {
		select {
		case <-done:
			return true
		default:
		}
		if clk.Waiters() > 0 {
			clk.Advance(step)
		}
		return false
	})
}

func fail503(w http.ResponseWriter) bool {
	clienttest.Raw(w, http.StatusServiceUnavailable, "busy")
	return true
}

func fail429(w http.ResponseWriter, retryAfter string) bool {
	w.Header().Set("Retry-After", retryAfter)
	clienttest.Raw(w, http.StatusTooManyRequests, "slow down")
	return true
}

// Only the read-only methods are retried, after NETWORK_ERROR, a 5xx or a 429; each attempt is signed afresh.
func TestRetries(t *testing.T) {
	t.Parallel()
	policy := Retry{MaxRetries: 3, MinWait: 100 * time.Millisecond, MaxWait: 10 * time.Second}
	tests := []struct {
		name     string
		method   string
		fail     func(n int, w http.ResponseWriter) bool // answers a failure for attempt n and reports true
		wantN    int                                     // packets the server gets
		wantCode wire.Code                               // "" for success
	}{
		{name: "503 then OK", method: "testConnect", wantN: 2,
			fail: func(n int, w http.ResponseWriter) bool { return n == 1 && fail503(w) }},
		{name: "429 twice then OK", method: "listConnector", wantN: 3,
			fail: func(n int, w http.ResponseWriter) bool { return n <= 2 && fail429(w, "1") }},
		{name: "hang-up then OK", method: "readSettings", wantN: 2,
			fail: func(n int, w http.ResponseWriter) bool {
				if n == 1 {
					hangUp(w)
				}
				return n == 1
			}},
		{name: "every info method is read-only", method: "infoConnectorsLine", wantN: 2,
			fail: func(n int, w http.ResponseWriter) bool { return n == 1 && fail503(w) }},
		{name: "any list method is read-only", method: "listSomething", wantN: 2,
			fail: func(n int, w http.ResponseWriter) bool { return n == 1 && fail503(w) }},
		{name: "retries exhausted", method: "infoConnect", wantN: 4, wantCode: wire.CodeNetwork,
			fail: func(n int, w http.ResponseWriter) bool { return fail503(w) }},
		{name: "a write is not retried", method: "saveSettings", wantN: 1, wantCode: wire.CodeNetwork,
			fail: func(n int, w http.ResponseWriter) bool { return fail503(w) }},
		{name: "a write is not retried after a hang-up", method: "register", wantN: 1, wantCode: wire.CodeNetwork,
			fail: func(n int, w http.ResponseWriter) bool { hangUp(w); return true }},
		{name: "a custom method is not retried", method: "myRead", wantN: 1, wantCode: wire.CodeNetwork,
			fail: func(n int, w http.ResponseWriter) bool { return fail503(w) }},
		{name: "fire-and-forget is not retried", method: "sendMessage", wantN: 1, wantCode: wire.CodeNetwork,
			fail: func(n int, w http.ResponseWriter) bool { return fail503(w) }},
		{name: "OK false is not retried", method: "testConnect", wantN: 1, wantCode: wire.CodeLicence,
			fail: func(n int, w http.ResponseWriter) bool { clienttest.Fail(w, wire.CodeLicence); return true }},
		{name: "a malformed answer is not retried", method: "testConnect", wantN: 1, wantCode: wire.CodeAnswerMalformed,
			fail: func(n int, w http.ResponseWriter) bool { clienttest.Raw(w, 200, "<html>"); return true }},
		{name: "a 4xx is not retried", method: "testConnect", wantN: 1, wantCode: wire.CodeNetwork,
			fail: func(n int, w http.ResponseWriter) bool { clienttest.Raw(w, 404, "no"); return true }},
		{name: "Retry-After beyond MaxWait gives up", method: "testConnect", wantN: 1, wantCode: wire.CodeNetwork,
			fail: func(n int, w http.ResponseWriter) bool { return fail429(w, "3600") }},
	}
	for _, s := range signings() {
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.name, func(t *testing.T) {
				f := newFixture(t, s, clienttest.Lenient())
				f.Handle(func(w http.ResponseWriter, call *clienttest.Call) {
					if !tt.fail(call.N, w) {
						clienttest.OK(w, map[string]any{"RESULT": "OK"})
					}
				})
				c := f.client(t, WithRetry(policy))
				done := make(chan struct{})
				var res *Result
				var err error
				go func() {
					defer close(done)
					res, err = c.Call(ctxT(t), tt.method, nil)
				}()
				drive(t, f.clock, done, time.Second)
				if got := f.Count(); got != tt.wantN {
					t.Errorf("server got %d packets, want %d", got, tt.wantN)
				}
				if tt.wantCode == "" {
					if err != nil {
						t.Fatalf("err = %v", err)
					}
					if res.Attempts != tt.wantN {
						t.Errorf("Attempts %d, want %d", res.Attempts, tt.wantN)
					}
				} else {
					var e *Error
					if wire.CodeOf(err) != tt.wantCode || !errors.As(err, &e) || e.Attempts != tt.wantN {
						t.Fatalf("err = %v (attempts %d), want %s after %d", err, e.Attempts, tt.wantCode, tt.wantN)
					}
				}
				nonces := map[string]bool{}
				for _, call := range f.Calls() {
					if call.Err != nil {
						t.Errorf("packet %d refused by the server: %v", call.N, call.Err)
					}
					if s.creds.Mode == wire.HMACSHA256 {
						nonce := call.Fields.Get("BX_NONCE")
						if nonces[nonce] {
							t.Errorf("packet %d reuses nonce %s", call.N, nonce)
						}
						nonces[nonce] = true
					}
				}
			})
		}
	}
}

// A retried hmac-sha256 packet passes the replay guard because it is signed afresh; the first attempt's
// bytes sent again do not.
func TestHardenedRetryIsSignedAfresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t, signings()[1], clienttest.Lenient())
	f.Handle(func(w http.ResponseWriter, call *clienttest.Call) {
		if call.N == 1 {
			fail503(w)
			return
		}
		clienttest.OK(w, nil)
	})
	c := f.client(t, WithRetry(Retry{MaxRetries: 1, MinWait: time.Second, MaxWait: time.Second}))
	done := make(chan struct{})
	var err error
	go func() { defer close(done); err = c.TestConnect(ctxT(t)) }()
	waitWaiters(t, f.clock, 1)
	f.clock.Advance(time.Second) // the timestamp moves too
	<-done
	if err != nil {
		t.Fatal(err)
	}
	got := f.Calls()
	if len(got) != 2 || got[0].Err != nil || got[1].Err != nil {
		t.Fatalf("packets %+v", got)
	}
	a, b := got[0].Fields, got[1].Fields
	if a.Get("BX_NONCE") == b.Get("BX_NONCE") || a.Get("BX_HASH") == b.Get("BX_HASH") ||
		a.Get("BX_TIMESTAMP") == b.Get("BX_TIMESTAMP") {
		t.Errorf("the retry was not re-signed:\n%v\n%v", a, b)
	}
	resp, err := http.Post(f.URL+DefaultPath, "application/x-www-form-urlencoded", strings.NewReader(a.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if last := f.Last(t); !errors.Is(last.Err, wire.CodeReplay) {
		t.Fatalf("the replayed packet got %v, want REPLAY", last.Err)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	for _, header := range []string{"3", testEpoch.Add(3 * time.Second).Format(http.TimeFormat)} {
		t.Run(header, func(t *testing.T) {
			f := md5Fixture(t)
			f.Handle(func(w http.ResponseWriter, call *clienttest.Call) {
				if call.N == 1 {
					fail429(w, header)
					return
				}
				clienttest.OK(w, nil)
			})
			c := f.client(t, WithRetry(Retry{MaxRetries: 1, MinWait: 10 * time.Millisecond, MaxWait: time.Minute}))
			done := make(chan struct{})
			var err error
			go func() { defer close(done); err = c.TestConnect(ctxT(t)) }()
			waitWaiters(t, f.clock, 1)
			f.clock.Advance(2900 * time.Millisecond)
			if f.clock.Waiters() != 1 || f.Count() != 1 {
				t.Fatalf("retried before Retry-After: waiters %d, packets %d", f.clock.Waiters(), f.Count())
			}
			f.clock.Advance(200 * time.Millisecond)
			<-done
			if err != nil || f.Count() != 2 {
				t.Fatalf("err %v, packets %d", err, f.Count())
			}
		})
	}
}

func TestBackoffIsCappedExponentialWithJitter(t *testing.T) {
	t.Parallel()
	c, err := New("http://x", WithDomain(testDomain),
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
	t.Parallel()
	c, _ := New("http://x", WithDomain(testDomain), WithClock(clock.NewFake(testEpoch)))
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
	t.Parallel()
	f := md5Fixture(t)
	f.Handle(func(w http.ResponseWriter, call *clienttest.Call) {
		if call.N == 1 {
			select { // longer than the attempt's budget
			case <-call.Context.Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		clienttest.OK(w, nil)
	})
	c := f.client(t, WithTimeout(100*time.Millisecond),
		WithRetry(Retry{MaxRetries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond}))
	done := make(chan struct{})
	var err error
	go func() { defer close(done); err = c.TestConnect(ctxT(t)) }()
	drive(t, f.clock, done, time.Millisecond)
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if f.Count() != 2 {
		t.Errorf("%d packets, want 2", f.Count())
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	t.Run("during the request", func(t *testing.T) {
		entered := make(chan struct{}, 1)
		f := newFixture(t, signings()[1])
		f.Handle(func(w http.ResponseWriter, call *clienttest.Call) {
			entered <- struct{}{}
			<-call.Context.Done()
		})
		c := f.client(t)
		ctx, cancel := context.WithCancel(ctxT(t))
		errc := make(chan error, 1)
		go func() { errc <- c.TestConnect(ctx) }()
		<-entered
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) || wire.CodeOf(err) != wire.CodeNetwork {
				t.Fatalf("err = %v, want NETWORK_ERROR and context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the call did not return after cancel")
		}
		if f.Count() != 1 {
			t.Errorf("%d packets: a cancelled read was retried", f.Count())
		}
	})
	t.Run("during the retry wait", func(t *testing.T) {
		f := md5Fixture(t)
		f.Handle(func(w http.ResponseWriter, _ *clienttest.Call) { fail503(w) })
		c := f.client(t)
		ctx, cancel := context.WithCancel(ctxT(t))
		errc := make(chan error, 1)
		go func() { errc <- c.TestConnect(ctx) }()
		waitWaiters(t, f.clock, 1)
		cancel()
		err := <-errc
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "HTTP 503") {
			t.Fatalf("err = %v, want context.Canceled with the last status", err)
		}
		if f.Count() != 1 {
			t.Errorf("%d packets", f.Count())
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		f := md5Fixture(t)
		ctx, cancel := context.WithCancel(ctxT(t))
		cancel()
		if err := f.client(t).TestConnect(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if _, err := f.client(t).ListConnector(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("ListConnector err = %v", err)
		}
	})
	t.Run("deadline shorter than the back-off", func(t *testing.T) {
		f := md5Fixture(t)
		f.Handle(func(w http.ResponseWriter, _ *clienttest.Call) { fail429(w, "5") })
		c := f.client(t, WithRetry(Retry{MaxRetries: 3, MinWait: time.Millisecond, MaxWait: time.Minute}))
		ctx, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := c.TestConnect(ctx)
		if !strings.Contains(err.Error(), "HTTP 429") || time.Since(start) > time.Second {
			t.Fatalf("err = %v after %v; want the 429 at once", err, time.Since(start))
		}
	})
}
