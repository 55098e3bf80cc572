package bftest

import (
	"strings"

	"github.com/olctl/olctl/connector/botframework/schema"
)

// AddBot makes the fake serve another bot beside the configured one (a service hosts many): the token
// endpoint issues tokens for appID and appSecret, the REST API accepts them, and activities whose recipient
// is the returned account are sent to their webhook with tokens for appID (audience appID). Adding a bot
// again changes its secret.
func (s *Server) AddBot(appID, appSecret string) schema.ChannelAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bots[appID] = appSecret
	return schema.ChannelAccount{ID: "28:" + appID, Name: appID}
}

// hookTokenKey is what a webhook token is minted for.
type hookTokenKey struct{ appID, serviceURL string }

type hookToken struct {
	raw   string
	kid   string
	until int64 // Unix nanoseconds on the fake's clock: reused before this
}

// webhookToken returns the webhook token of a completed activity: for its recipient's app (the configured
// bot unless the recipient is one of AddBot's) and its serviceUrl, the one minted before while it has more
// than half its lifetime left and the key that signed it still signs.
func (s *Server) webhookToken(a schema.Activity) (string, error) {
	app := s.cfg.AppID
	s.mu.Lock()
	if id, ok := strings.CutPrefix(a.Recipient.ID, "28:"); ok {
		if _, known := s.bots[id]; known {
			app = id
		}
	}
	key := hookTokenKey{app, a.ServiceURL}
	now := s.clock.Now()
	t, ok := s.hookTokens[key]
	kid := s.keys[len(s.keys)-1].kid
	s.mu.Unlock()
	if ok && t.kid == kid && now.UnixNano() < t.until {
		return t.raw, nil
	}
	raw, err := s.MintToken(Claims{Audience: app, ServiceURL: a.ServiceURL, IssuedAt: now})
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.hookTokens[key] = hookToken{raw: raw, kid: kid, until: now.Add(s.cfg.TokenLifetime / 2).UnixNano()}
	s.mu.Unlock()
	return raw, nil
}
