package connector

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
)

// scrape returns the value of one sample (name with labels, as exposed) from a server's /metrics.
func scrape(t testing.TB, base, sample string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

func TestMetricsAndHealth(t *testing.T) {
	p := newFakePortal(t, "key-metrics", nil)
	s := newTestServer(t, p, Config{Queue: Policy{Batch: 5}})
	hook := p.connect("echo", "1", nil)
	postWebhook(t, hook, echoItems("c", 0, 12))
	eventually.True(t, 5*time.Second, "12 events", func() bool { return len(p.Events()) == 12 })
	eventually.True(t, 5*time.Second, "an empty queue", func() bool { return queueLen(t, s) == 0 })
	for _, tc := range []struct {
		sample string
		want   float64
	}{
		{`olctl_connector_enqueued_items_total{command="receivingMessage"}`, 12},
		{`olctl_connector_sends_total{command="receivingMessage",result="ok"}`, 3},
		{`olctl_connector_confirmed_items_total`, 12},
		{`olctl_connector_queue_depth{line="1",site="` + p.URL() + `"}`, 0},
		{`olctl_connector_blocked_lines`, 0},
		{`olctl_connector_dead_letters`, 0},
		{`olctl_connector_queue_scrape_ok`, 1},
		{`olctl_connector_requests_total{code="OK",endpoint="webhook"}`, 1},
		{`olctl_connector_send_seconds_count`, 3},
	} {
		if got := scrape(t, s.URL(), tc.sample); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.sample, got, tc.want)
		}
	}
	p.down.Store(true)
	postWebhook(t, hook, echoItems("c", 100, 2))
	eventually.True(t, 5*time.Second, "a blocked line", func() bool { return scrape(t, s.URL(), `olctl_connector_blocked_lines`) == 1 })
	if got := scrape(t, s.URL(), `olctl_connector_queue_depth{line="1",site="`+p.URL()+`"}`); got != 2 {
		t.Errorf("depth = %v, want 2", got)
	}
	if got := scrape(t, s.URL(), `olctl_connector_failures_total{reason="send"}`); got != 1 {
		t.Errorf("failures = %v, want 1", got)
	}
	resp, err := http.Get(s.URL() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v %v", resp, err)
	}
}
