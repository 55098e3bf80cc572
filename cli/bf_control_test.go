package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/internal/httpserve"
)

// TestBFControlServerLimits: bf serve's control endpoint runs under the limits of the module's other
// servers (internal/httpserve), with a request deadline past the longest say; a say that would wait
// longer is refused, by the endpoint (400) and by bf say --via (exit 2).
func TestBFControlServerLimits(t *testing.T) {
	s := bftest.NewServer(t, bftest.WithNoAuth())
	srv := bfControlServer(s, [][2]string{{s.AppID(), s.AppSecret()}})
	if srv.ReadHeaderTimeout != httpserve.DefaultReadHeaderTimeout || srv.ReadTimeout != httpserve.DefaultReadTimeout ||
		srv.IdleTimeout != httpserve.DefaultIdleTimeout || srv.MaxHeaderBytes != httpserve.DefaultMaxHeaderBytes ||
		srv.WriteTimeout <= maxSayWait {
		t.Fatalf("control server limits: header %v, read %v, idle %v, header bytes %d, write %v", srv.ReadHeaderTimeout,
			srv.ReadTimeout, srv.IdleTimeout, srv.MaxHeaderBytes, srv.WriteTimeout)
	}
	ts := httptest.NewServer(srv.Handler)
	defer ts.Close()
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"bots", "", http.StatusOK},
		{"wait too long", `{"webhook":"http://127.0.0.1:9/x","conversation":"c","wait_ms":600001}`, http.StatusBadRequest},
		{"no wait", `{"webhook":"http://127.0.0.1:9/x","conversation":"c"}`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			var err error
			if tc.body == "" {
				resp, err = http.Get(ts.URL + "/bots")
			} else {
				resp, err = http.Post(ts.URL+"/say", "application/json", strings.NewReader(tc.body))
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	r := olctl(t, "bf", "say", "--via", ts.URL, "--webhook", "http://127.0.0.1:9/x", "--wait", (maxSayWait+time.Second).String(), "hi").
		wantCode(t, ExitUsage)
	if !strings.Contains(r.err, "--wait 10m1s: a bf serve (--via) waits at most 10m0s") {
		t.Fatalf("stderr %q", r.err)
	}
}
