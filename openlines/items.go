package openlines

import (
	"slices"
	"strings"

	"github.com/olctl/olctl/wire"
)

// MessageType is the type_message of a receivingMessage item, lower-cased (docs/protocol.md §7.1).
type MessageType string

// The message types of docs/protocol.md §7.1.
const (
	MessageNew          MessageType = "message" // also what an absent or empty type_message means
	MessageUpdate       MessageType = "message_update"
	MessageDelete       MessageType = "message_del"
	MessagePost         MessageType = "post"
	MessagePostUpdate   MessageType = "post_update"
	MessageTypingStart  MessageType = "typing_start"
	MessageCommandStart MessageType = "command_start"
	MessageWelcome      MessageType = "welcome"
)

// Known reports whether t (lower-cased) is one of the types of docs/protocol.md §7.1, or empty.
func (t MessageType) Known() bool {
	switch t.normal() {
	case MessageNew, MessageUpdate, MessageDelete, MessagePost, MessagePostUpdate, MessageTypingStart,
		MessageCommandStart, MessageWelcome:
		return true
	}
	return false
}

func (t MessageType) normal() MessageType {
	if t == "" {
		return MessageNew
	}
	return MessageType(strings.ToLower(string(t)))
}

// MessageItem is one item of receivingMessage (docs/protocol.md §7.1).
type MessageItem struct {
	User    User    `php:"user" json:"user"`
	Message Message `php:"message" json:"message"`
	Chat    Chat    `php:"chat" json:"chat"`
	// TypeMessage is as received; Type returns it lower-cased, with "" read as MessageNew.
	TypeMessage MessageType `php:"type_message,omitempty" json:"type_message,omitempty"`
	Extra       Extra       `php:"extra,omitempty" json:"extra,omitempty"`
	Ref         Ref         `php:"ref,omitempty" json:"ref,omitempty"`
	// Recipient is the whole recipient map (for Bot Framework the bot account the customer wrote to);
	// ServiceURL is where the channel takes answers.
	Recipient  *wire.Map `php:"recipient,omitempty" json:"recipient,omitempty"`
	ServiceURL string    `php:"service_url,omitempty" json:"service_url,omitempty"`
	// Other holds keys of the item this struct does not name.
	Other map[string]any `php:",rest" json:"other,omitempty"`
}

// Type returns the item's type_message lower-cased, MessageNew when it is empty.
func (m *MessageItem) Type() MessageType { return m.TypeMessage.normal() }

// HasContent reports whether the type carries content that the required check asks for: messages and posts,
// not deletions, typing or welcome.
func (t MessageType) HasContent() bool {
	switch t.normal() {
	case MessageNew, MessageUpdate, MessagePost, MessagePostUpdate, MessageCommandStart:
		return true
	}
	return false
}

// Validate checks what docs/protocol.md §7.1 requires before the file step: user.id
// (CONNECTOR_PROXY_NO_USER_IM), chat.id, and a known type (PROVIDER_UNSUPPORTED_TYPE_INCOMING_MESSAGE).
// message.id is not required. Whether a message has text or files is checked after the file step
// (ValidateContent).
func (m *MessageItem) Validate() error {
	if m.User.ID == "" {
		return wire.Errorf(wire.CodeNoUserIM, "the item has no user.id")
	}
	if m.Chat.ID == "" {
		return wire.Errorf(wire.CodeNotAllRequiredData, "the item has no chat.id")
	}
	if !m.TypeMessage.Known() {
		return wire.Errorf(wire.CodeUnsupportedType, "unsupported type_message %.40q", string(m.TypeMessage))
	}
	return nil
}

// ValidateContent checks that a message or post has text or files (IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA);
// run it after the files are imported and failed_big_file has put its warning into the text.
func (m *MessageItem) ValidateContent() error {
	if m.Type().HasContent() && strings.TrimSpace(m.Message.Text) == "" && len(m.Message.Files) == 0 {
		return wire.Errorf(wire.CodeNotAllRequiredData, "the message has neither text nor files")
	}
	return nil
}

// User is the external user of an item (docs/protocol.md §7.1, §8.2).
type User struct {
	ID       string  `php:"id" json:"id"`
	Name     string  `php:"name,omitempty" json:"name,omitempty"`
	LastName string  `php:"last_name,omitempty" json:"last_name,omitempty"`
	Title    string  `php:"title,omitempty" json:"title,omitempty"`
	URL      string  `php:"url,omitempty" json:"url,omitempty"`
	Gender   string  `php:"gender,omitempty" json:"gender,omitempty"` // male or female
	Picture  Picture `php:"picture,omitempty" json:"picture,omitempty"`
	Email    string  `php:"email,omitempty" json:"email,omitempty"`
	Phone    string  `php:"phone,omitempty" json:"phone,omitempty"`
	// SkipPhoneValidate is the "Y" flag of legacy Bitrix (current Bitrix moves it into extra).
	SkipPhoneValidate string `php:"skip_phone_validate,omitempty" json:"skip_phone_validate,omitempty"`
	// Other holds keys this struct does not name.
	Other map[string]any `php:",rest" json:"other,omitempty"`
}

// Picture is a user's avatar: its URL and the headers to fetch it with.
type Picture struct {
	URL     string   `php:"url,omitempty" json:"url,omitempty"`
	Headers []Header `php:"headers,omitempty" json:"headers,omitempty"`
	// Other holds keys this struct does not name (a user's digest covers them).
	Other map[string]any `php:",rest" json:"other,omitempty"`
}

// Header is one HTTP header to send when downloading a file or a picture.
type Header struct {
	Name  string `php:"name" json:"name"`
	Value string `php:"value" json:"value"`
}

// Message is the message part of an item (and the message reference of the status items).
type Message struct {
	// ID is the messenger's message id: a string, or for receivingStatusDelivery a list of them (IDs reads
	// both).
	ID   any    `php:"id,omitempty" json:"id,omitempty"`
	Date int64  `php:"date,omitempty" json:"date,omitempty"` // unix seconds
	Text string `php:"text,omitempty" json:"text,omitempty"`
	// Type is message.type of receivingStatusBlock (message_deny, message_allow).
	Type        string       `php:"type,omitempty" json:"type,omitempty"`
	Files       []File       `php:"files,omitempty" json:"files,omitempty"`
	Attachments []Attachment `php:"attachments,omitempty" json:"attachments,omitempty"`
	// FailedBigFile is set by the server when the messenger's file was too large for it (PHP truthiness).
	FailedBigFile bool   `php:"failed_big_file,omitempty" json:"failed_big_file,omitempty"`
	DisableCRM    string `php:"disable_crm,omitempty" json:"disable_crm,omitempty"`
	// Other holds keys this struct does not name.
	Other map[string]any `php:",rest" json:"other,omitempty"`
}

// IDs returns message.id as a list: one id, every id of a list, or none.
func (m *Message) IDs() []string {
	switch x := m.ID.(type) {
	case nil:
		return nil
	case []string: // as a sender builds it
		return slices.DeleteFunc(slices.Clone(x), func(s string) bool { return s == "" })
	case []any:
		out := make([]string, 0, len(x))
		for _, v := range x {
			if s := scalarText(v); s != "" {
				out = append(out, s)
			}
		}
		return out
	case *wire.Map:
		out := make([]string, 0, len(x.Entries))
		for _, e := range x.Entries {
			if s := scalarText(e.Value); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	if s := scalarText(m.ID); s != "" {
		return []string{s}
	}
	return nil
}

// FirstID returns the first of IDs, or "".
func (m *Message) FirstID() string {
	if ids := m.IDs(); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// scalarText reads a decoded scalar as text, as wire.Bind reads one into a string; arrays read as "".
func scalarText(v any) string {
	var s string
	if wire.Bind(v, &s) != nil {
		return ""
	}
	return s
}

// File is one file of an incoming message to download (docs/protocol.md §8.3).
type File struct {
	URL     string   `php:"url" json:"url"`
	Name    string   `php:"name,omitempty" json:"name,omitempty"`
	Type    string   `php:"type,omitempty" json:"type,omitempty"`
	Headers []Header `php:"headers,omitempty" json:"headers,omitempty"`
}

// Chat is the chat (conversation) of an item.
type Chat struct {
	ID   string `php:"id" json:"id"`
	Name string `php:"name,omitempty" json:"name,omitempty"`
	// URL is the chat's original post; the portal makes it the chat's description.
	URL string `php:"url,omitempty" json:"url,omitempty"`
}

// Extra is an item's extra data; current Bitrix moves the "Y" flags skip_phone_validate and disable_crm here.
type Extra struct {
	LastMessageID     string `php:"last_message_id,omitempty" json:"last_message_id,omitempty"`
	SkipPhoneValidate string `php:"skip_phone_validate,omitempty" json:"skip_phone_validate,omitempty"`
	DisableCRM        string `php:"disable_crm,omitempty" json:"disable_crm,omitempty"`
	// Other holds keys this struct does not name.
	Other map[string]any `php:",rest" json:"other,omitempty"`
}

// Ref is where a command_start came from; a source that does not start with "btrx" also makes the item a
// message.
type Ref struct {
	Source string `php:"source,omitempty" json:"source,omitempty"`
}

// IMRef names a message on the portal's side: its internal chat and message ids.
type IMRef struct {
	ChatID    string `php:"chat_id" json:"chat_id"`
	MessageID string `php:"message_id" json:"message_id"`
}

// StatusDeliveryItem is one item of receivingStatusDelivery: the portal's message IM reached the messenger,
// where its ids are Message.IDs().
type StatusDeliveryItem struct {
	IM      IMRef   `php:"im" json:"im"`
	Message Message `php:"message" json:"message"`
	Chat    Chat    `php:"chat" json:"chat"`
}

// Validate requires im.message_id, all a portal needs.
func (s *StatusDeliveryItem) Validate() error {
	if s.IM.MessageID == "" {
		return wire.Errorf(wire.CodeNotAllRequiredData, "the item has no im.message_id")
	}
	return nil
}

// StatusReadingItem is one item of receivingStatusReading: the customer read a message.
type StatusReadingItem struct {
	Chat    Chat    `php:"chat" json:"chat"`
	Message Message `php:"message" json:"message"`
}

// Validate requires chat.id.
func (s *StatusReadingItem) Validate() error { return requireChat(s.Chat) }

// ErrorItem is one item of receivingError (docs/protocol.md §7): flat, with the portal's own chat and
// message ids and the external user id.
type ErrorItem struct {
	Code             string      `php:"code" json:"code"`
	ChatID           string      `php:"chatId" json:"chatId"`
	MessageID        string      `php:"messageId" json:"messageId"`
	UserID           string      `php:"userId" json:"userId,omitempty"`
	MessageConnector string      `php:"messageConnector" json:"messageConnector,omitempty"`
	Params           ErrorParams `php:"params" json:"params,omitempty"`
}

// ErrorParams are the params of an ErrorItem.
type ErrorParams struct {
	ErrorCode string `php:"errorCode" json:"errorCode,omitempty"`
	// Other holds keys this struct does not name.
	Other map[string]any `php:",rest" json:"other,omitempty"`
}

// The receivingError codes a portal acts on.
const (
	// ErrorNotSendMessageChat: the messenger refused the message MessageID of chat ChatID.
	ErrorNotSendMessageChat = "CONNECTOR_NOT_SEND_MESSAGE_CHAT"
	// ErrorDeleteMessage: the messenger could not delete the message.
	ErrorDeleteMessage = "CONNECTOR_ERROR_DELETE_MESSAGE"
	// ErrorExpiredToken is a params.errorCode of ErrorNotSendMessageChat: the connector must be reconnected.
	ErrorExpiredToken = "CONNECTOR_HAS_EXPIRED_ACCESS_TOKEN_USER"
)

// Validate requires code.
func (s *ErrorItem) Validate() error {
	if s.Code == "" {
		return wire.Errorf(wire.CodeNotAllRequiredData, "the item has no code")
	}
	return nil
}

// The message.type values of receivingStatusBlock.
const (
	BlockDeny  = "message_deny"  // the customer blocked the channel
	BlockAllow = "message_allow" // the customer unblocked it
)

// StatusBlockItem is one item of receivingStatusBlock: the customer blocked (message.type message_deny) or
// unblocked (message_allow) the channel.
type StatusBlockItem struct {
	Chat    Chat    `php:"chat" json:"chat"`
	User    User    `php:"user" json:"user"`
	Message Message `php:"message" json:"message"`
}

// Blocked reports whether the item is a block (message_deny) rather than an unblock.
func (s *StatusBlockItem) Blocked() bool { return strings.ToLower(s.Message.Type) != BlockAllow }

// Validate requires chat.id and a message.type of message_deny or message_allow.
func (s *StatusBlockItem) Validate() error {
	if err := requireChat(s.Chat); err != nil {
		return err
	}
	switch strings.ToLower(s.Message.Type) {
	case BlockDeny, BlockAllow:
		return nil
	}
	return wire.Errorf(wire.CodeNotAllRequiredData, "message.type %.40q is neither %s nor %s", s.Message.Type, BlockDeny, BlockAllow)
}

// ChatName is the DATA of setChatName: one map, with external ids.
type ChatName struct {
	Name   string `php:"name" json:"name"`
	ChatID string `php:"chat_id" json:"chat_id"`
	UserID string `php:"user_id" json:"user_id,omitempty"`
}

// Validate requires chat_id.
func (c *ChatName) Validate() error {
	if c.ChatID == "" {
		return wire.Errorf(wire.CodeNotAllRequiredData, "setChatName has no chat_id")
	}
	return nil
}

func requireChat(c Chat) error {
	if c.ID == "" {
		return wire.Errorf(wire.CodeNotAllRequiredData, "the item has no chat.id")
	}
	return nil
}
