package client

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// withChatContext returns the arguments of a sendMessage, updateMessage or deleteMessage call of a real
// botframework connector with each message's chat context merged in (docs/protocol.md §8.4): the stored
// from and service_url replace the message's, as Bitrix's array_merge does; a chat with no stored context
// keeps the message unchanged, and is logged. The caller's slice is never changed. Other calls, and message
// lists that are not a []openlines.OutgoingMessage, are returned as they are.
func (c *Client) withChatContext(ctx context.Context, method string, cc callConfig, args []any) ([]any, error) {
	if openlines.RealConnector(cc.connector) != openlines.Botframework || !carriesMessages(method) || len(args) == 0 {
		return args, nil
	}
	msgs, ok := args[0].([]openlines.OutgoingMessage)
	if !ok {
		return args, nil
	}
	merged := make([]openlines.OutgoingMessage, len(msgs))
	copy(merged, msgs)
	for i := range merged {
		m := &merged[i]
		bc, err := c.chatContext(ctx, m.Chat.ID, cc.connector)
		if errors.Is(err, bfcontext.ErrNotFound) {
			c.log.LogAttrs(ctx, slog.LevelWarn, "olctl client: no Bot Framework context stored for the chat; the message goes unchanged",
				slog.String("method", method), slog.String("connector", cc.connector), slog.String("chat", m.Chat.ID))
			continue
		}
		if err != nil {
			return nil, &Error{Method: method, Connector: cc.connector, Line: cc.line, Errors: []*wire.Error{{
				Code: wire.CodeInternal, Message: "reading the Bot Framework context of chat " + m.Chat.ID, Err: err}}}
		}
		if bc.From.Len() > 0 {
			m.From = bc.From
		}
		if bc.ServiceURL != "" {
			m.ServiceURL = bc.ServiceURL
		}
	}
	out := append([]any{merged}, args[1:]...)
	return out, nil
}

func (c *Client) chatContext(ctx context.Context, chatID, connector string) (bfcontext.Context, error) {
	if c.cfg.chatContext == nil || chatID == "" {
		return bfcontext.Context{}, bfcontext.ErrNotFound
	}
	return c.cfg.chatContext.Get(ctx, chatID, connector)
}

// carriesMessages reports whether a method's first argument is a list of outgoing messages.
func carriesMessages(method string) bool {
	for _, m := range []string{openlines.MethodSendMessage, openlines.MethodUpdateMessage, openlines.MethodDeleteMessage} {
		if strings.EqualFold(method, m) {
			return true
		}
	}
	return false
}

// SendMessage calls sendMessage(msgs), fire-and-forget: operator messages to the messenger, in the current
// shape (DATA [[msg, …]]: im, message {user_id, text, files, attachments, params}, chat). For a real
// botframework connector the chats' stored Bot Framework context is merged in (WithChatContext).
func (c *Client) SendMessage(ctx context.Context, msgs []openlines.OutgoingMessage, opts ...CallOption) error {
	return c.sendMessages(ctx, openlines.MethodSendMessage, msgs, opts)
}

// SendTyping tells the messenger the operator is typing in the chats of msgs: a sendMessage whose items have
// message.type typing_start (openlines.TypeTypingStart), as current Bitrix sends it; the caller's slice is
// not changed.
func (c *Client) SendTyping(ctx context.Context, msgs []openlines.OutgoingMessage, opts ...CallOption) error {
	typing := make([]openlines.OutgoingMessage, len(msgs))
	copy(typing, msgs)
	for i := range typing {
		typing[i].Message.Type = openlines.TypeTypingStart
	}
	return c.sendMessages(ctx, openlines.MethodSendMessage, typing, opts)
}

// UpdateMessage calls updateMessage(msgs), fire-and-forget: {im, message {id: [external ids], text}, chat},
// with the Bot Framework context merged as SendMessage.
func (c *Client) UpdateMessage(ctx context.Context, msgs []openlines.OutgoingMessage, opts ...CallOption) error {
	return c.sendMessages(ctx, openlines.MethodUpdateMessage, msgs, opts)
}

// DeleteMessage calls deleteMessage(msgs), fire-and-forget: {im, message {id: [external ids]}, chat}, with
// the Bot Framework context merged as SendMessage.
func (c *Client) DeleteMessage(ctx context.Context, msgs []openlines.OutgoingMessage, opts ...CallOption) error {
	return c.sendMessages(ctx, openlines.MethodDeleteMessage, msgs, opts)
}

func (c *Client) sendMessages(ctx context.Context, method string, msgs []openlines.OutgoingMessage, opts []CallOption) error {
	if len(msgs) == 0 {
		cc := c.callConfig(method, opts)
		return &Error{Method: method, Connector: cc.connector, Line: cc.line,
			Errors: []*wire.Error{wire.Errorf(wire.CodeNotAllRequiredData, "no messages to send")}}
	}
	_, err := c.Call(ctx, method, []any{msgs}, opts...)
	return err
}

// SetStatusDelivered calls setStatusDelivered(items), fire-and-forget: a legacy portal confirms the
// messages it received, so that the server stops redelivering them (docs/protocol.md §11).
func (c *Client) SetStatusDelivered(ctx context.Context, items []openlines.StatusItem, opts ...CallOption) error {
	_, err := c.Call(ctx, openlines.MethodSetStatusDelivered, []any{items}, opts...)
	return err
}

// SetStatusReading calls setStatusReading(items), fire-and-forget: the operator read these messages. It goes
// only to the connectors that take it (WithReadingConnectors: vkgroup, avito); for any other it is not sent
// and returns nil, as Bitrix does.
func (c *Client) SetStatusReading(ctx context.Context, items []openlines.StatusItem, opts ...CallOption) error {
	_, err := c.Call(ctx, openlines.MethodSetStatusReading, []any{items}, opts...)
	return err
}

// InitializeReceiveMessages calls initializeReceiveMessages(status), fire-and-forget: the line starts (true)
// or stops (false) taking messages.
func (c *Client) InitializeReceiveMessages(ctx context.Context, status bool, opts ...CallOption) error {
	_, err := c.Call(ctx, openlines.MethodInitializeReceiveMessages, []any{status}, opts...)
	return err
}
