package botframework

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/openlines"
)

// TestOwnClientGuarded: a client given with WithHTTPClient is held to the server's address guard: a chat
// whose service URL is on loopback (the fake Bot Framework's) gets a receivingError and the service no
// request, unless the server allows private networks. The server's own client (Env.HTTPClient) is the
// server's to guard and is used as it is.
func TestOwnClientGuarded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		env       connector.Env
		own       bool
		delivered bool
	}{
		{"own client", connector.Env{}, true, false},
		{"own client, private networks allowed", connector.Env{AllowPrivateNetworks: true}, true, true},
		{"the server's client", connector.Env{HTTPClient: &http.Client{Timeout: 10 * time.Second}}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(t0)
			bf := bftest.NewServer(t, bftest.WithClock(clk), bftest.WithChannelID("skype"), bftest.WithNoAuth())
			opts := []Option{WithAnonymous(), WithClock(clk), WithRetry(1, time.Second, time.Second),
				WithEmoji(func(s string) string { return s })}
			if tc.own {
				opts = append(opts, WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
			}
			tc.env.Clock = clk
			ch, err := NewChannel(tc.env, opts...)
			if err != nil {
				t.Fatal(err)
			}
			r := &rig{bf: bf}
			line := &Line{SiteDomain: "https://portal.example", LineID: "3", Connector: ID, Hash: "h1",
				Settings: map[string]string{SettingBotHandle: "emu"}}
			out, err := ch.Send(ctxT(t), line, "sendMessage", []any{r.msg(t, "c", "1", "x")})
			if err != nil || len(out) != 1 {
				t.Fatalf("send: %+v %v", out, err)
			}
			if got := bf.Count(bftest.EndpointConnector); got != btoi(tc.delivered) {
				t.Fatalf("the service got %d requests", got)
			}
			if tc.delivered {
				if out[0].Command != openlines.CommandReceivingStatusDelivery {
					t.Fatalf("out %+v", out)
				}
				return
			}
			e, ok := out[0].Item.(openlines.ErrorItem)
			if !ok || out[0].Command != openlines.CommandReceivingError || e.Params.ErrorCode != "NETWORK_ERROR" ||
				!strings.Contains(e.MessageConnector, "not a public address") {
				t.Fatalf("out %+v", out)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
