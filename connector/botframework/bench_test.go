package botframework

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// benchActivity is a typical Teams message with a file and a card.
var benchActivity = []byte(`{"type":"message","id":"1520341577512","timestamp":"2026-03-01T12:00:00.1234567Z",
"localTimestamp":"2026-03-01T13:00:00.1234567+01:00","localTimezone":"Europe/Berlin","serviceUrl":"https://smba.trafficmanager.net/emea/",
"channelId":"msteams","from":{"id":"29:1A2b3C4d5E6f7G8h9I0j","name":"Ann Lee","aadObjectId":"7d3c0a1e-0000-4000-8000-000000000001"},
"conversation":{"conversationType":"personal","tenantId":"72f988bf-0000-4000-8000-000000000002","id":"a:1Xyz0123456789abcdefghijklmnopqrstuvwxyz"},
"recipient":{"id":"28:b0f7e5a1-0000-4000-8000-00000000b0f7","name":"olbot"},"textFormat":"plain","locale":"en-US",
"text":"Hello, I need help with my order #4711 :smile:",
"attachments":[{"contentType":"application/vnd.microsoft.teams.file.download.info","name":"invoice.pdf",
"content":{"downloadUrl":"https://contoso.sharepoint.com/personal/a/invoice.pdf","uniqueId":"1","fileType":"pdf"}},
{"contentType":"image/png","contentUrl":"https://smba.trafficmanager.net/emea/v3/attachments/0-1/views/original","name":"screen.png"}],
"entities":[{"type":"clientInfo","locale":"en-US","country":"US","platform":"Web","timezone":"Europe/Berlin"}],
"channelData":{"tenant":{"id":"72f988bf-0000-4000-8000-000000000002"}}}`)

// BenchmarkReceive maps a webhook body to items: olctl decodes and maps it, baseline only decodes it.
func BenchmarkReceive(b *testing.B) {
	ch, err := NewChannel(connector.Env{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("olctl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var a schema.Activity
			if err := json.Unmarshal(benchActivity, &a); err != nil {
				b.Fatal(err)
			}
			items, err := ch.Map(&a)
			if err != nil || len(items) != 1 {
				b.Fatal(items, err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "activities/s")
	})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var a schema.Activity
			if err := json.Unmarshal(benchActivity, &a); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "activities/s")
	})
}

// BenchmarkValidate checks a webhook token: olctl with the channel's full validation (key cache, endorsement,
// serviceurl), baseline with a bare jwt.Parse against the known key.
func BenchmarkValidate(b *testing.B) {
	clk := clock.NewFake(time.Now())
	bf := bftest.NewServer(b, bftest.WithClock(clk), bftest.WithChannelID("msteams"))
	ch, err := NewChannel(connector.Env{Clock: clk}, WithOpenIDMetadataURL(bf.OpenIDMetadataURL()), WithTokenURL(bf.TokenURL()))
	if err != nil {
		b.Fatal(err)
	}
	a := bf.Complete(schema.Activity{From: schema.ChannelAccount{ID: "u"}, Conversation: schema.ConversationAccount{ID: "c"}})
	tok, err := bf.MintToken(bftest.Claims{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := ch.validate(ctx, "Bearer "+tok, &a, bf.AppID(), false); err != nil {
		b.Fatal(err)
	}
	key, err := ch.keys.key(ctx, bf.KeyID())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("olctl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := ch.validate(ctx, "Bearer "+tok, &a, bf.AppID(), false); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return key.pub, nil },
				jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(clk.Now)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
}

// BenchmarkSend sends one message to bftest: olctl through Channel.Send (bind, token cache, escaping,
// marshal, status item), baseline as a bare http.Post of the same activity with the same token.
func BenchmarkSend(b *testing.B) {
	bf := bftest.NewServer(b)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	ch, err := NewChannel(connector.Env{HTTPClient: hc}, WithOpenIDMetadataURL(bf.OpenIDMetadataURL()), WithTokenURL(bf.TokenURL()))
	if err != nil {
		b.Fatal(err)
	}
	line := &Line{LineID: "3", Connector: "botframework.msteams", Settings: map[string]string{
		SettingBotHandle: "b", SettingAppID: bf.AppID(), SettingAppSecret: bf.AppSecret()}}
	conv := "19:abc@thread.skype;messageid=1520"
	m := outMsg{IM: openlines.IMRef{ChatID: "42", MessageID: "1"}, Chat: openlines.ChatRef{ID: conv},
		Message: openlines.OutgoingContent{Text: "Thanks, your order ships today."},
		From:    wire.NewMap("id", bf.Bot().ID, "name", bf.Bot().Name), ServiceURL: bf.ServiceURL()}
	item := decoded(b, m)
	ctx := context.Background()
	b.Run("olctl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, err := ch.Send(ctx, line, "sendMessage", []any{item})
			if err != nil || out[0].Command != "receivingStatusDelivery" {
				b.Fatal(out, err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "messages/s")
	})
	tok, err := bf.AccessToken()
	if err != nil {
		b.Fatal(err)
	}
	u, _ := schema.ActivitiesURL(bf.ServiceURL(), conv, "")
	body, _ := json.Marshal(schema.Activity{Type: "message", From: bf.Bot(), Conversation: schema.ConversationAccount{ID: conv}, Text: m.Message.Text})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var rr schema.ResourceResponse
			err = json.NewDecoder(resp.Body).Decode(&rr)
			resp.Body.Close()
			if err != nil || rr.ID == "" {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "messages/s")
	})
}
