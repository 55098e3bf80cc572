package router

import (
	"fmt"

	"github.com/olctl/olctl/wire"
)

// The typed items of PROTOCOL.md §5. Bind decoded items into them with BindItems (or wire.Bind for one item):
// keys match the `php` tags, scalars convert leniently (a numeric id arrives as a string field), absent or
// empty keys leave fields at their zero value, unknown keys are kept in Other where a struct has it.

// MessageType is the type_message of a receivingMessage item.
type MessageType string

// The message types of §5.
const (
	MessageNew         MessageType = "message" // the default when type_message is absent
	MessageUpdate      MessageType = "message_update"
	MessageDelete      MessageType = "message_del"
	MessagePost        MessageType = "post"
	MessagePostUpdate  MessageType = "post_update"
	MessageTypingStart MessageType = "typing_start"
)

// Valid reports whether t is one of the types of §5 (or empty, which means MessageNew).
func (t MessageType) Valid() bool {
	switch t {
	case "", MessageNew, MessageUpdate, MessageDelete, MessagePost, MessagePostUpdate, MessageTypingStart:
		return true
	}
	return false
}

// MessageItem is one item of receivingMessage.
type MessageItem struct {
	User        User        `php:"user"`
	Message     Message     `php:"message"`
	Chat        Chat        `php:"chat"`
	TypeMessage MessageType `php:"type_message"`
	// Recipient is the bot account the customer wrote to (Bot Framework); ServiceURL is where to answer.
	Recipient  Account `php:"recipient"`
	ServiceURL string  `php:"service_url"`
	// Extra is the item's extra data as decoded (a *wire.Map, a list or a scalar), or nil.
	Extra any `php:"extra"`
	// Other holds keys of the item this struct does not know.
	Other map[string]any `php:",rest"`
}

// Type returns the item's type_message, MessageNew when it is empty.
func (m *MessageItem) Type() MessageType {
	if m.TypeMessage == "" {
		return MessageNew
	}
	return m.TypeMessage
}

// Validate checks what §5 requires of an item: user.id (else CONNECTOR_PROXY_NO_USER_IM), chat.id, a known
// type_message and, except for typing_start, message.id (else BAD_PACKET naming the field).
func (m *MessageItem) Validate() error {
	if m.User.ID == "" {
		return wire.Errorf(wire.CodeNoUserIM, "the item has no user.id")
	}
	if m.Chat.ID == "" {
		return wire.Errorf(wire.CodeBadPacket, "the item has no chat.id")
	}
	if !m.TypeMessage.Valid() {
		return wire.Errorf(wire.CodeBadPacket, "unknown type_message %.40q", string(m.TypeMessage))
	}
	if m.Message.ID == "" && m.Type() != MessageTypingStart {
		return wire.Errorf(wire.CodeBadPacket, "the item has no message.id")
	}
	return nil
}

// User is the external user of an item.
type User struct {
	ID       string  `php:"id"`
	Name     string  `php:"name"`
	LastName string  `php:"last_name"`
	Title    string  `php:"title"`
	URL      string  `php:"url"`
	Gender   string  `php:"gender"` // male or female
	Picture  Picture `php:"picture"`
	Email    string  `php:"email"`
	Phone    string  `php:"phone"`
	// Other holds keys this struct does not know.
	Other map[string]any `php:",rest"`
}

// Picture is a user's avatar: its URL and the headers to fetch it with.
type Picture struct {
	URL     string   `php:"url"`
	Headers []Header `php:"headers"`
	// Other holds keys this struct does not know.
	Other map[string]any `php:",rest"`
}

// Header is one HTTP header to send when downloading a file or picture.
type Header struct {
	Name  string `php:"name"`
	Value string `php:"value"`
}

// Message is the message part of an item (and the message reference of the status items).
type Message struct {
	ID          string `php:"id"`
	Date        int64  `php:"date"` // unix seconds
	Text        string `php:"text"`
	Files       []File `php:"files"`
	Attachments []any  `php:"attachments"`
	// Other holds keys this struct does not know.
	Other map[string]any `php:",rest"`
}

// File is one attachment to download.
type File struct {
	URL     string   `php:"url"`
	Name    string   `php:"name"`
	Type    string   `php:"type"`
	Headers []Header `php:"headers"`
}

// Chat is the chat (conversation) of an item.
type Chat struct {
	ID   string `php:"id"`
	Name string `php:"name"`
	URL  string `php:"url"`
}

// Account is a messenger account, such as the Bot Framework bot a customer wrote to.
type Account struct {
	ID   string `php:"id"`
	Name string `php:"name"`
}

// IMRef names a message on the portal's side: its chat and message ids.
type IMRef struct {
	ChatID    string `php:"chat_id"`
	MessageID string `php:"message_id"`
}

// StatusDeliveryItem is one item of receivingStatusDelivery: the portal's message IM reached the messenger,
// where it is Message.ID (the external id).
type StatusDeliveryItem struct {
	IM      IMRef   `php:"im"`
	Message Message `php:"message"`
	Chat    Chat    `php:"chat"`
}

// Validate requires im.message_id and chat.id.
func (s *StatusDeliveryItem) Validate() error {
	if s.IM.MessageID == "" {
		return wire.Errorf(wire.CodeBadPacket, "the item has no im.message_id")
	}
	return requireChat(s.Chat)
}

// StatusReadingItem is one item of receivingStatusReading: the customer read a message.
type StatusReadingItem struct {
	Chat    Chat    `php:"chat"`
	Message Message `php:"message"`
}

// Validate requires chat.id.
func (s *StatusReadingItem) Validate() error { return requireChat(s.Chat) }

// ErrorItem is one item of receivingError: the messenger refused a message.
type ErrorItem struct {
	Chat    Chat      `php:"chat"`
	Message Message   `php:"message"`
	Error   ErrorInfo `php:"error"`
}

// Validate requires chat.id.
func (s *ErrorItem) Validate() error { return requireChat(s.Chat) }

// ErrorInfo is the error of an ErrorItem.
type ErrorInfo struct {
	Code    string `php:"code"`
	Message string `php:"message"`
}

// StatusBlockItem is one item of receivingStatusBlock: the customer blocked the channel.
type StatusBlockItem struct {
	Chat Chat `php:"chat"`
	User User `php:"user"`
}

// Validate requires chat.id.
func (s *StatusBlockItem) Validate() error { return requireChat(s.Chat) }

// ChatNameItem is one item of setChatName: Chat.Name is the chat's new name.
type ChatNameItem struct {
	Chat Chat `php:"chat"`
}

// Validate requires chat.id.
func (s *ChatNameItem) Validate() error { return requireChat(s.Chat) }

func requireChat(c Chat) error {
	if c.ID == "" {
		return wire.Errorf(wire.CodeBadPacket, "the item has no chat.id")
	}
	return nil
}

// BindItems binds every item into a T. An item that does not fit is a BAD_PACKET error naming its index and
// field; the error also matches wire.ErrBadPacket and unwraps to the *wire.BindError.
func BindItems[T any](items []any) ([]T, error) {
	out := make([]T, len(items))
	for i, it := range items {
		if err := wire.Bind(it, &out[i]); err != nil {
			return nil, &wire.Error{Code: wire.CodeBadPacket, Message: fmt.Sprintf("item %d", i), Err: err}
		}
	}
	return out, nil
}
