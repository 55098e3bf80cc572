package client

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/syncbuf"
)

func TestLogging(t *testing.T) {
	var mu syncbuf.Buffer
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
