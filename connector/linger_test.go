package connector

import (
	"slices"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/openlines"
)

// TestLinger checks when the dispatcher holds a busy line's next packet for more items: only after a packet
// during which items arrived, until a full batch, the clock's Linger, or the end of the webhooks.
func TestLinger(t *testing.T) {
	const linger = 5 * time.Millisecond
	cases := []struct {
		name    string
		linger  time.Duration
		during  int  // items posted while the first packet is out
		pending bool // a webhook is still in progress when the first packet is confirmed
		held    bool // the second packet waits on the clock
		end     func(clk *clock.Fake, post func(first, n int))
		want    []int // items per packet
	}{
		{name: "the clock ends it", linger: linger, during: 2, pending: true, held: true,
			end: func(clk *clock.Fake, _ func(int, int)) { clk.Advance(linger) }, want: []int{1, 2}},
		{name: "a full batch ends it", linger: linger, during: 2, pending: true, held: true,
			end: func(_ *clock.Fake, post func(int, int)) { post(4, 3) }, want: []int{1, 5}},
		{name: "no webhook in progress ends it", linger: linger, during: 2, want: []int{1, 2}},
		{name: "negative disables it", linger: -1, during: 2, pending: true, want: []int{1, 2}},
		{name: "a lone message is not held", linger: linger, pending: true, want: []int{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			p := newFakePortal(t, "key-linger", clk)
			s := newTestServer(t, p, Config{Clock: clk, Workers: 1, Queue: Policy{Batch: 5, Linger: tc.linger}})
			hook := p.connect("echo", "1", nil)
			post := func(first, n int) {
				t.Helper()
				if code, body := postWebhook(t, hook, echoItems("c", first, n)); code != 200 {
					t.Fatalf("webhook: %d %s", code, body)
				}
			}
			sizes := func() []int {
				var out []int
				for _, pk := range p.Packets() {
					if pk.Command == openlines.CommandReceivingMessage {
						out = append(out, len(pk.Items))
					}
				}
				return out
			}
			gate := make(chan struct{})
			p.gate.Store(&gate)
			post(1, 1)
			eventually.True(t, 5*time.Second, "the first packet", func() bool { return len(sizes()) == 1 })
			for i := 0; i < tc.during; i++ {
				post(2+i, 1)
			}
			if tc.pending {
				s.enq.begin() // a webhook on its way
				defer s.enq.done()
			}
			close(gate)
			if tc.held {
				eventually.True(t, 5*time.Second, "the worker to linger", func() bool { return clk.Waiters() > 0 })
				if got := sizes(); len(got) != 1 {
					t.Fatalf("packets while lingering: %v, want only the first", got)
				}
				tc.end(clk, post)
			}
			total := 0
			for _, n := range tc.want {
				total += n
			}
			eventually.True(t, 5*time.Second, "the packets", func() bool { return len(p.Events()) == total })
			settle(t, s)
			if got := sizes(); !slices.Equal(got, tc.want) {
				t.Fatalf("items per packet %v, want %v", got, tc.want)
			}
		})
	}
}
