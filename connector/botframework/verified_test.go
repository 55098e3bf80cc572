package botframework

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/connector/botframework/schema"
)

// TestVerifiedTokenRechecked: a token verified once is not verified again, but what depends on the activity,
// the time and the line is: a remembered token expires, is refused for another bot's line, for another
// serviceUrl and for a channel its key does not endorse.
func TestVerifiedTokenRechecked(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := context.Background()
	a := r.bf.Complete(schema.Activity{From: schema.ChannelAccount{ID: "u"}, Conversation: schema.ConversationAccount{ID: "c"}})
	tok, err := r.bf.MintToken(bftest.Claims{})
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + tok
	if err := r.ch.validate(ctx, auth, &a, r.bf.AppID(), false); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.ch.verified.get(r.bf.AppID(), tok); !ok {
		t.Fatal("a verified token was not remembered")
	}
	otherURL, otherChannel := a, a
	otherURL.ServiceURL = "https://evil.example/"
	otherChannel.ChannelID = "evilchat"
	for _, tc := range []struct {
		name  string
		a     *schema.Activity
		appID string
	}{{"another bot's line", &a, "another-bot"}, {"another serviceUrl", &otherURL, r.bf.AppID()},
		{"a channel not endorsed", &otherChannel, r.bf.AppID()}} {
		if err := r.ch.validate(ctx, auth, tc.a, tc.appID, false); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: %v, want ErrUnauthorized", tc.name, err)
		}
	}
	if err := r.ch.validate(ctx, auth, &a, r.bf.AppID(), false); err != nil {
		t.Fatalf("again: %v", err)
	}
	r.clk.Advance(bftest.DefaultTokenLifetime + ClockSkew + time.Second)
	if err := r.ch.validate(ctx, auth, &a, r.bf.AppID(), false); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("a remembered token past its expiry: %v, want ErrUnauthorized", err)
	}
}

// TestVerifiedTokensBounded: the cache holds at most maxVerified tokens, dropping the expired ones first.
func TestVerifiedTokensBounded(t *testing.T) {
	t.Parallel()
	var v verifiedTokens
	now := t0
	v.put("app", "old", verifiedToken{exp: now.Add(-time.Hour)}, now)
	for i := 1; i < maxVerified; i++ {
		v.put("app", strconv.Itoa(i), verifiedToken{exp: now.Add(time.Hour)}, now)
	}
	v.put("app", "new", verifiedToken{exp: now.Add(time.Hour)}, now)
	if _, ok := v.get("app", "old"); ok {
		t.Error("an expired token survived a full cache")
	}
	if _, ok := v.get("app", "1"); !ok {
		t.Error("a live token was dropped while an expired one could go")
	}
	v.put("app", "newer", verifiedToken{exp: now.Add(time.Hour)}, now)
	if n := len(v.m); n > maxVerified {
		t.Fatalf("%d tokens held, want at most %d", n, maxVerified)
	}
	if _, ok := v.get("app", "newer"); !ok {
		t.Error("the token just put is missing")
	}
}
