package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/olctl/olctl/bfcontext"
)

// ChatRef names an external chat: chat.id of PROTOCOL.md §5.
type ChatRef struct {
	ID string `php:"id" json:"id"`
}

// MessageRef names an external message: message.id.
type MessageRef struct {
	ID string `php:"id" json:"id"`
}

// StatusItem is one item of setStatusDelivered and setStatusReading: {chat:{id}, message:{id}}.
type StatusItem struct {
	Chat    ChatRef    `php:"chat" json:"chat"`
	Message MessageRef `php:"message" json:"message"`
}

// IMRef names the portal's own chat and message: im:{chat_id, message_id}.
type IMRef struct {
	ChatID    string `php:"chat_id" json:"chat_id"`
	MessageID string `php:"message_id" json:"message_id"`
}

// OutgoingFile is a file of an outgoing message; files travel as links, never as bytes.
type OutgoingFile struct {
	Name string `php:"name" json:"name"`
	Type string `php:"type" json:"type"`
	Link string `php:"link" json:"link"`
	Size int64  `php:"size" json:"size"`
}

// OutgoingContent is the message part of an outgoing message: message:{user_id, text, files}.
//
// ID names the messenger's ids of the message for updateMessage and deleteMessage (the ids that
// receivingStatusDelivery reported); it is left out of sendMessage.
type OutgoingContent struct {
	ID     []string       `php:"id,omitempty" json:"id,omitempty"`
	UserID string         `php:"user_id" json:"user_id"`
	Text   string         `php:"text" json:"text"`
	Files  []OutgoingFile `php:"files" json:"files"`
}

// OutgoingMessage is one item of sendMessage, updateMessage and deleteMessage (PROTOCOL.md §6):
// {im:{chat_id, message_id}, message:{user_id, text, files:[{name, type, link, size}]}, chat:{id}}.
//
// From and ServiceURL are the Bot Framework context of the chat. For a real botframework connector the
// client fills them from the WithChatContext store when they are unset; for other connectors they are left
// out of the packet unless set.
type OutgoingMessage struct {
	IM         IMRef              `php:"im" json:"im"`
	Message    OutgoingContent    `php:"message" json:"message"`
	Chat       ChatRef            `php:"chat" json:"chat"`
	From       *bfcontext.Account `php:"from,omitempty" json:"from,omitempty"`
	ServiceURL string             `php:"service_url,omitempty" json:"service_url,omitempty"`
}

// RealConnector returns the real connector of a connector id: the lower-cased part before the first '.'
// ("botframework.skype" → "botframework").
func RealConnector(id string) string {
	if i := strings.IndexByte(id, '.'); i >= 0 {
		id = id[:i]
	}
	return strings.ToLower(id)
}

// withChatContext returns msgs with the stored Bot Framework context merged in when connector is a
// botframework connector; msgs itself is never modified.
func (c *Client) withChatContext(ctx context.Context, connector string, msgs []OutgoingMessage) ([]OutgoingMessage, error) {
	if RealConnector(connector) != "botframework" {
		return msgs, nil
	}
	out := make([]OutgoingMessage, len(msgs))
	copy(out, msgs)
	for i := range out {
		m := &out[i]
		if m.From != nil && m.From.ID != "" && m.ServiceURL != "" {
			continue
		}
		if m.Chat.ID == "" {
			return nil, fmt.Errorf("message #%d: chat.id is empty", i+1)
		}
		if c.cfg.chatContext == nil {
			return nil, fmt.Errorf("message #%d (chat %q): %w: connector %q needs a store (WithChatContext)",
				i+1, m.Chat.ID, ErrNoChatContext, connector)
		}
		bc, err := c.cfg.chatContext.Get(ctx, m.Chat.ID, connector)
		if errors.Is(err, bfcontext.ErrNotFound) {
			return nil, fmt.Errorf("message #%d (chat %q on %q): %w: %w", i+1, m.Chat.ID, connector, ErrNoChatContext, err)
		}
		if err != nil {
			return nil, fmt.Errorf("message #%d (chat %q on %q): reading the chat context: %w", i+1, m.Chat.ID, connector, err)
		}
		if m.From == nil || m.From.ID == "" {
			from := bc.From
			m.From = &from
		}
		if m.ServiceURL == "" {
			m.ServiceURL = bc.ServiceURL
		}
	}
	return out, nil
}
