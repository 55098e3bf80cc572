package bftest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector/botframework/schema"
)

// TestAddBot: a second bot gets tokens from the token endpoint, which open the REST API, and its activities
// reach the webhook with tokens for it; the configured bot is unchanged.
func TestAddBot(t *testing.T) {
	t.Parallel()
	s := NewServer(t, WithApp("app-1", "s1"))
	bot := s.AddBot("app-2", "s2")
	if bot.ID != "28:app-2" {
		t.Fatalf("account %+v", bot)
	}
	for _, tc := range []struct {
		id, secret string
		want       int
	}{{"app-1", "s1", 200}, {"app-2", "s2", 200}, {"app-2", "s1", 401}, {"app-3", "s3", 400}} {
		resp, err := http.PostForm(s.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {tc.id},
			"client_secret": {tc.secret}, "scope": {schema.Scope}})
		if err != nil {
			t.Fatal(err)
		}
		var tr schema.TokenResponse
		_ = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("token for %s/%s: %d, want %d", tc.id, tc.secret, resp.StatusCode, tc.want)
		}
		if tc.want != 200 {
			continue
		}
		if r, body := call(t, s, "POST", "/v3/conversations/c/activities", "Bearer "+tr.AccessToken, `{"type":"message"}`); r.StatusCode != 200 {
			t.Fatalf("REST API with %s's token: %d %s", tc.id, r.StatusCode, body)
		}
	}
	auds := webhookAudiences(t, s, func(hook string) {
		for _, to := range []schema.ChannelAccount{bot, {}, {ID: "28:unknown"}} {
			if _, err := s.SendActivity(context.Background(), hook, schema.Activity{Conversation: schema.ConversationAccount{ID: "c"}, Recipient: to}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if want := []string{"app-2", "app-1", "app-1"}; strings.Join(auds, ",") != strings.Join(want, ",") {
		t.Fatalf("webhook token audiences %v, want %v", auds, want)
	}
}

// TestWebhookTokenReused: the webhook token of a bot is reused while it has more than half its lifetime left
// and its key signs; a rotated key or an older token gets a new one.
func TestWebhookTokenReused(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s := NewServer(t, WithClock(fake))
	var toks []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		toks = append(toks, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	defer hook.Close()
	send := func() string {
		t.Helper()
		if _, err := s.SendUserMessage(context.Background(), hook.URL, "c", "u", "hi"); err != nil {
			t.Fatal(err)
		}
		return toks[len(toks)-1]
	}
	first := send()
	if send() != first {
		t.Fatal("a second activity got a new token")
	}
	fake.Advance(DefaultTokenLifetime/2 - time.Second)
	if send() != first {
		t.Fatal("a token with more than half its lifetime left was not reused")
	}
	fake.Advance(time.Second)
	second := send()
	if second == first {
		t.Fatal("a token at half its lifetime was reused")
	}
	kid, err := s.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	third := send()
	tok, _, err := jwt.NewParser().ParseUnverified(third, jwt.MapClaims{})
	if err != nil || third == second || tok.Header["kid"] != kid {
		t.Fatalf("after RotateKey: kid %v, want %s (err %v)", tok.Header["kid"], kid, err)
	}
}

// webhookAudiences runs send with a webhook URL and returns the aud claims of the tokens it got, in order.
func webhookAudiences(t *testing.T, s *Server, send func(hook string)) []string {
	t.Helper()
	var auds []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
			t.Errorf("webhook token: %v", err)
		}
		aud, _ := claims["aud"].(string)
		auds = append(auds, aud)
	}))
	defer hook.Close()
	send(hook.URL)
	return auds
}
