package client

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogging(t *testing.T) {
	var mu syncBuffer
	fs := newFakeServer(t, signings()[0], func(n int, _ received, w http.ResponseWriter) {
		if n == 1 {
			fail503(w)
			return
		}
		answer(w, nil)
	})
	c := fs.client(t, WithLogger(slog.New(slog.NewTextHandler(&mu, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithRetry(Retry{MaxRetries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond}))
	done := make(chan struct{})
	go func() { defer close(done); _ = c.TestConnect(ctxT(t)) }()
	drive(t, fs.clock, done, time.Millisecond)
	out := mu.String()
	for _, want := range []string{"level=DEBUG msg=\"olctl client: call\" method=testConnect connector=botframework.skype line=3 attempt=1",
		"status=503", "level=WARN msg=\"olctl client: retrying\"", "attempt=2", "status=200"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, testLicenceKey) {
		t.Error("the licence key is logged")
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
