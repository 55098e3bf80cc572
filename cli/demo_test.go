package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	r := olctl(t, "demo").wantCode(t, 0)
	for _, w := range []string{"#\tHOP\tFROM\tTO\tAT\tTOOK\tDETAIL\n", "1\tcustomer message\tBot Framework\tconnector webhook\t",
		"2\treceivingMessage\tconnector\tportal event\t", "[ICON=/bitrix/images/emoji/1f4e6.svg?v=2.2.5 title=:package:]",
		"the customer sees: Hi! It ships today 🚚", "receivingStatusDelivery\tconnector\tportal event", "(signing hmac-sha256)"} {
		if !strings.Contains(r.out, w) {
			t.Errorf("demo output lacks %q:\n%s", w, r.out)
		}
	}
	if r.err != "" {
		t.Errorf("stderr %q", r.err)
	}
}

func TestDemoJSONWithLoad(t *testing.T) {
	r := olctl(t, "demo", "--json", "--messages", "40", "--concurrency", "4").wantCode(t, 0)
	var rep demoReport
	r.decodeJSON(t, &rep)
	if !rep.OK || len(rep.Hops) != 5 || rep.Load == nil || !strings.Contains(rep.Webhook, "/imwebhook/botframework?h=") {
		t.Fatalf("report %+v", rep)
	}
	for i, h := range rep.Hops {
		if h.N != i+1 || h.AtMS < 0 || h.DurationMS < 0 || h.Detail == "" {
			t.Fatalf("hop %+v", h)
		}
		if i > 0 && h.AtMS < rep.Hops[i-1].AtMS {
			t.Fatalf("hops out of order: %+v", rep.Hops)
		}
	}
	l := rep.Load
	if l.Messages != 40 || l.Concurrency != 4 || l.Rate <= 0 || l.P50MS <= 0 || l.P50MS > l.P90MS || l.P90MS > l.P99MS || l.P99MS > l.MaxMS {
		t.Fatalf("load %+v", l)
	}
	if r.err != "" {
		t.Fatalf("progress drawn on a pipe: %q", r.err)
	}
}

func TestDemoErrors(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--messages", "-1"}, {"demo", "--concurrency", "0"}, {"demo", "--timeout", "0s"}, {"demo", "x"},
		{"demo", "--log-level", "loud"},
	} {
		olctl(t, args...).wantCode(t, ExitUsage)
	}
	// A demo that cannot finish in time fails with exit 1 and says where it stopped.
	r := olctl(t, "demo", "--timeout", "1ms").wantCode(t, ExitFailed)
	if !strings.Contains(r.err, "demo:") {
		t.Fatalf("stderr %q", r.err)
	}
}

func TestNewCmdDemoParsing(t *testing.T) {
	tests := []struct {
		args []string
		want DemoOptions
		err  string
	}{
		{want: DemoOptions{Concurrency: 1, Timeout: 2 * time.Minute}},
		{args: []string{"--messages", "40", "--concurrency", "4", "--timeout", "1m", "--log-level", "debug", "--keep"},
			want: DemoOptions{Messages: 40, Concurrency: 4, Timeout: time.Minute, LogLevel: "debug", Keep: true}},
		{args: []string{"--messages", "-1"}, err: "--messages -1: want 0 or more"},
		{args: []string{"--concurrency", "0"}, err: "--concurrency 0: want 1 or more"},
		{args: []string{"x"}, err: `unknown command "x"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *DemoOptions
			err := parse(NewCmdDemo(testFactory(nil), func(o *DemoOptions) error { got = o; return nil }), tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil || got.Config == nil || got.Clock == nil {
				t.Fatalf("err %v, options %+v", err, got)
			}
			g := *got
			g.Context, g.IO, g.Config, g.Clock = nil, IO{}, nil, nil
			if !reflect.DeepEqual(g, tt.want) {
				t.Fatalf("options\n got %+v\nwant %+v", g, tt.want)
			}
		})
	}
}
