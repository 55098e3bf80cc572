package bftest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/olctl/olctl/connector/botframework/schema"
)

// WebhookError is a webhook's answer outside 2xx.
type WebhookError struct {
	StatusCode int
	Body       string
}

func (e *WebhookError) Error() string {
	return fmt.Sprintf("bftest: webhook answered %d: %s", e.StatusCode, e.Body)
}

// ErrNoConversation is returned when an activity to send has no conversation id.
var ErrNoConversation = errors.New("bftest: the activity has no conversation.id")

// SendUserMessage plays a user writing text (and attachments) in a conversation: it posts a message activity to
// the bot's webhook with a bearer token signed by the fake, and returns the activity id. user is the user's
// channel account id, also used as the display name. A webhook answer outside 2xx is a *WebhookError.
func (s *Server) SendUserMessage(ctx context.Context, webhook, conversation, user, text string, attachments ...schema.Attachment) (string, error) {
	return s.SendActivity(ctx, webhook, schema.Activity{
		Type:         schema.TypeMessage,
		From:         schema.ChannelAccount{ID: user, Name: user},
		Conversation: schema.ConversationAccount{ID: conversation},
		Text:         text,
		Attachments:  attachments,
	})
}

// SendContactRelation plays a user who removes (blocks) or adds back (unblocks) the bot, as Skype reports it:
// a contactRelationUpdate activity with action schema.ActionRemove or schema.ActionAdd, from the user, in the
// conversation. It returns the activity id.
func (s *Server) SendContactRelation(ctx context.Context, webhook, conversation, user, action string) (string, error) {
	return s.SendActivity(ctx, webhook, schema.Activity{
		Type:         schema.TypeContactRelation,
		Action:       action,
		From:         schema.ChannelAccount{ID: user, Name: user},
		Conversation: schema.ConversationAccount{ID: conversation},
	})
}

// SendConversationName plays a group conversation that gets its name (created or renamed): a
// conversationUpdate activity carrying conversation.name, from the user who named it. It returns the activity
// id.
func (s *Server) SendConversationName(ctx context.Context, webhook, conversation, name, user string) (string, error) {
	return s.SendActivity(ctx, webhook, schema.Activity{
		Type:         schema.TypeConversationUpdate,
		From:         schema.ChannelAccount{ID: user, Name: user},
		Conversation: schema.ConversationAccount{ID: conversation, Name: name, IsGroup: true},
	})
}

// SendActivity completes a (see Complete), posts it to the webhook with a bearer token the fake mints for its
// recipient, the configured bot or one of AddBot (none under NoAuth), and returns its id. The token is reused
// for the same bot and serviceUrl until half its lifetime has passed or the signing key rotates: an RS256
// signature per activity would make the fake, not the bot, the cost of a load test. Sending the same activity twice (same id) plays the service's
// redelivery.
func (s *Server) SendActivity(ctx context.Context, webhook string, a schema.Activity) (string, error) {
	a = s.Complete(a)
	if a.Conversation.ID == "" {
		return "", ErrNoConversation
	}
	var tok string
	if !s.cfg.NoAuth {
		var err error
		if tok, err = s.webhookToken(a); err != nil {
			return "", err
		}
	}
	return a.ID, s.PostActivity(ctx, webhook, a, tok)
}

// Complete fills what the service always sets and a leaves empty: type (message), id (random), timestamp
// (now, UTC), serviceUrl (ServiceURL), channelId (the configured one), recipient (the bot) and, for messages,
// textFormat (plain).
func (s *Server) Complete(a schema.Activity) schema.Activity {
	if a.Type == "" {
		a.Type = schema.TypeMessage
	}
	if a.ID == "" {
		a.ID = randomHex(12)
	}
	if a.Timestamp.IsZero() {
		a.Timestamp = s.clock.Now().UTC()
	}
	if a.ServiceURL == "" {
		a.ServiceURL = s.ServiceURL()
	}
	if a.ChannelID == "" {
		a.ChannelID = s.cfg.ChannelID
	}
	if a.Recipient.ID == "" {
		a.Recipient = s.cfg.Bot
	}
	if a.Type == schema.TypeMessage && a.TextFormat == "" {
		a.TextFormat = schema.TextFormatPlain
	}
	return a
}

// PostActivity posts a exactly as given to the webhook, with "Authorization: Bearer token" when token is not
// empty (see MintToken for bad tokens). A webhook answer outside 2xx is a *WebhookError.
func (s *Server) PostActivity(ctx context.Context, webhook string, a schema.Activity, token string) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("bftest: encoding activity: %w", err)
	}
	return s.PostRaw(ctx, webhook, body, token)
}

// PostRaw posts body as an activity to the webhook, with a bearer token when token is not empty.
func (s *Server) PostRaw(ctx context.Context, webhook string, body []byte, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bftest: webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("bftest: posting to webhook: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &WebhookError{StatusCode: resp.StatusCode, Body: string(b)}
	}
	return nil
}
