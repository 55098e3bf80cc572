package portal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/olctl/olctl/openlines"
)

// Message is the event of one receivingMessage item after the pipeline (docs/protocol.md §7.1, §8): its user
// synced to an internal one, its attachments rendered into the text, its files imported, the server's
// failed_big_file warning put first, hex escapes decoded and emoji turned into icon tags.
type Message struct {
	Connector string // as received, usually virtual: botframework.skype
	Line      string
	Type      openlines.MessageType // lower-cased; never empty

	Chat openlines.Chat // as received
	// ChatDescription is chat.url made into the chat's description ("Link to original post: …"), or "".
	ChatDescription string
	MessageID       string    // message.id, the messenger's id ("" when the item has none)
	Date            time.Time // message.date, UTC (zero when absent)
	Text            string    // the text after the pipeline
	RawText         string    // message.text as received

	UserID string         // the internal user id
	User   openlines.User // the external user, its name split (docs/protocol.md §8.2)

	Files        []FileID      // internal ids of the imported files, in order
	FileFailures []FileFailure // the files that could not be imported (left out of Files)
	// FailedBigFile is the server's message.failed_big_file: the messenger's file was too large for the
	// connector server, and Text starts with the warning.
	FailedBigFile bool
	// Attachments are message.attachments as data (their rendering is in Text).
	Attachments []openlines.Attachment
	Extra       openlines.Extra // with the flags current Bitrix moves there (skip_phone_validate, disable_crm)
	Ref         openlines.Ref

	// Item is the item as received.
	Item openlines.MessageItem

	// ItemID is the item's id in the portal's store, the same on every delivery of the event: a subscriber
	// that must not act twice writes through Tx, or keeps the ids it acted on. Attempt is 1 on the first
	// delivery; a later one may follow an earlier delivery whose result was not recorded (see the package
	// documentation).
	ItemID  int64
	Attempt int
}

// StatusDelivery is the event of one receivingStatusDelivery item: the portal's message IM.MessageID (in
// chat IM.ChatID) reached the messenger, where its ids are ExternalIDs. Store them: updateMessage and
// deleteMessage name the message by them. The message counts as delivered and read.
type StatusDelivery struct {
	Connector, Line string
	ExternalIDs     []string // message.id as a list
	openlines.StatusDeliveryItem
}

// StatusReading is the event of one receivingStatusReading item: the customer read Message.
type StatusReading struct {
	Connector, Line string
	openlines.StatusReadingItem
}

// ReceivedError is the event of one receivingError item (docs/protocol.md §7): the messenger refused or could
// not delete the portal's message MessageID of chat ChatID (internal ids).
type ReceivedError struct {
	Connector, Line string
	openlines.ErrorItem
	// User is the internal id of the external UserID, "" when the portal does not know that user.
	User string
	// Notice is the text to post into the chat ChatID: for CONNECTOR_NOT_SEND_MESSAGE_CHAT "could not be
	// delivered", asking to reconnect the connector when Reconnect; for CONNECTOR_ERROR_DELETE_MESSAGE "could
	// not delete"; each quoting MessageConnector. "" for other codes.
	Notice string
	// Reconnect: params.errorCode is CONNECTOR_HAS_EXPIRED_ACCESS_TOKEN_USER, the connector's access expired.
	Reconnect bool
	// Undelivered is the internal message to mark undelivered (MessageID), "" for a failed deletion.
	Undelivered string
}

// StatusBlock is the event of one receivingStatusBlock item: the customer blocked the channel (Blocked,
// message_deny) or unblocked it (message_allow).
type StatusBlock struct {
	Connector, Line string
	Blocked         bool
	UserID          string // the internal id of User.ID, "" when the portal does not know that user
	openlines.StatusBlockItem
}

// ChatName is the event of setChatName: the chat ChatID (external) is now called Name.
type ChatName struct {
	Connector, Line string
	// User is the internal id of the external UserID, "" when the portal does not know that user.
	User string
	openlines.ChatName
}

// ErrSubscriber is wrapped by the error of an item whose subscriber failed or panicked.
var ErrSubscriber = errors.New("portal: an event subscriber failed")

// subscribers is a list of event handlers that may grow while events are fired.
type subscribers[T any] struct {
	mu  sync.RWMutex
	fns []func(context.Context, T) error
}

func (s *subscribers[T]) add(fn func(context.Context, T) error) {
	if fn == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fns = append(s.fns[:len(s.fns):len(s.fns)], fn)
}

func (s *subscribers[T]) list() []func(context.Context, T) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.fns
}

// fire calls every subscriber in the order they were added and stops at the first failure (a returned error
// or a panic), which it returns wrapped in ErrSubscriber.
func (s *subscribers[T]) fire(ctx context.Context, ev T) error {
	for i, fn := range s.list() {
		if err := call(ctx, fn, ev); err != nil {
			return fmt.Errorf("%w (subscriber %d): %w", ErrSubscriber, i+1, err)
		}
	}
	return nil
}

func call[T any](ctx context.Context, fn func(context.Context, T) error, ev T) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return fn(ctx, ev)
}

// events holds the subscribers of every event.
type events struct {
	messages map[openlines.MessageType]*subscribers[Message]
	delivery subscribers[StatusDelivery]
	reading  subscribers[StatusReading]
	errors   subscribers[ReceivedError]
	block    subscribers[StatusBlock]
	chatName subscribers[ChatName]
	// The changes of a line's status.
	statusAdd, statusUpdate, statusDelete subscribers[StatusConnector]
}

func newEvents() *events {
	e := &events{messages: map[openlines.MessageType]*subscribers[Message]{}}
	for _, t := range []openlines.MessageType{openlines.MessageNew, openlines.MessageUpdate, openlines.MessageDelete,
		openlines.MessagePost, openlines.MessagePostUpdate, openlines.MessageTypingStart, openlines.MessageCommandStart} {
		e.messages[t] = &subscribers[Message]{}
	}
	return e
}

// OnReceivedMessage subscribes fn to new messages (type_message "message" or absent). Subscribers run in
// the order they were added; an error (or panic) of any of them keeps the item in the portal's store for a
// retry with back-off (Config.Retry), after which all of them run again. See the package documentation for
// how often an event can be delivered.
func (p *Portal) OnReceivedMessage(fn func(ctx context.Context, m Message) error) {
	p.events.messages[openlines.MessageNew].add(fn)
}

// OnReceivedMessageUpdate subscribes fn to edited messages (message_update); see OnReceivedMessage.
func (p *Portal) OnReceivedMessageUpdate(fn func(ctx context.Context, m Message) error) {
	p.events.messages[openlines.MessageUpdate].add(fn)
}

// OnReceivedMessageDel subscribes fn to deleted messages (message_del); see OnReceivedMessage.
func (p *Portal) OnReceivedMessageDel(fn func(ctx context.Context, m Message) error) {
	p.events.messages[openlines.MessageDelete].add(fn)
}

// OnReceivedPost subscribes fn to new posts (post); see OnReceivedMessage.
func (p *Portal) OnReceivedPost(fn func(ctx context.Context, m Message) error) {
	p.events.messages[openlines.MessagePost].add(fn)
}

// OnReceivedPostUpdate subscribes fn to edited posts (post_update); see OnReceivedMessage.
func (p *Portal) OnReceivedPostUpdate(fn func(ctx context.Context, m Message) error) {
	p.events.messages[openlines.MessagePostUpdate].add(fn)
}

// OnReceivedCommandStart subscribes fn to bot start commands (command_start). An item whose ref.source is
// set and does not start with "btrx" is also a message: OnReceivedMessage fires for it after fn. See
// OnReceivedMessage.
func (p *Portal) OnReceivedCommandStart(fn func(ctx context.Context, m Message) error) {
	p.events.messages[openlines.MessageCommandStart].add(fn)
}

// OnReceivedStatusWrites subscribes fn to typing notices (typing_start). A typing notice is momentary: it
// fires once when it arrives, is neither kept for a retry nor checked for duplicates, and a failing fn is
// logged.
func (p *Portal) OnReceivedStatusWrites(fn func(ctx context.Context, m Message) error) {
	p.events.messages[openlines.MessageTypingStart].add(fn)
}

// OnReceivedStatusDelivery subscribes fn to receivingStatusDelivery items. An error keeps the item for a
// retry, as for messages.
func (p *Portal) OnReceivedStatusDelivery(fn func(ctx context.Context, s StatusDelivery) error) {
	p.events.delivery.add(fn)
}

// OnReceivedStatusReading subscribes fn to receivingStatusReading items; see OnReceivedStatusDelivery.
func (p *Portal) OnReceivedStatusReading(fn func(ctx context.Context, s StatusReading) error) {
	p.events.reading.add(fn)
}

// OnReceivedError subscribes fn to receivingError items; see OnReceivedStatusDelivery.
func (p *Portal) OnReceivedError(fn func(ctx context.Context, e ReceivedError) error) {
	p.events.errors.add(fn)
}

// OnReceivedStatusBlock subscribes fn to receivingStatusBlock items: a block or an unblock (s.Blocked); see
// OnReceivedStatusDelivery.
func (p *Portal) OnReceivedStatusBlock(fn func(ctx context.Context, s StatusBlock) error) {
	p.events.block.add(fn)
}

// OnNewChatName subscribes fn to setChatName; see OnReceivedStatusDelivery.
func (p *Portal) OnNewChatName(fn func(ctx context.Context, c ChatName) error) {
	p.events.chatName.add(fn)
}

// OnAddStatusConnector subscribes fn to a line getting its first status through this portal (SetLineStatus,
// the connect flow). Status events are fired after the change is stored; an error of fn is logged.
func (p *Portal) OnAddStatusConnector(fn func(ctx context.Context, s StatusConnector) error) {
	p.events.statusAdd.add(fn)
}

// OnUpdateStatusConnector subscribes fn to changes of a line's stored status: SetLineStatus, and
// deactivateConnector, which sets ERROR (the connection was taken over elsewhere); see OnAddStatusConnector.
func (p *Portal) OnUpdateStatusConnector(fn func(ctx context.Context, s StatusConnector) error) {
	p.events.statusUpdate.add(fn)
}

// OnDeleteStatusConnector subscribes fn to a line's status being deleted (DeleteLineStatus); see
// OnAddStatusConnector.
func (p *Portal) OnDeleteStatusConnector(fn func(ctx context.Context, s StatusConnector) error) {
	p.events.statusDelete.add(fn)
}
