package portal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/olctl/olctl/openlines"
)

// Message is the event of one receivingMessage item after the pipeline of PROTOCOL.md §5.1: its text with
// emoji turned into icon tags, its files imported, its user synced to an internal user.
type Message struct {
	Connector string // the (virtual) connector, e.g. botframework.skype
	Line      string
	Type      openlines.MessageType // never empty: message when the item had no type_message

	Chat      openlines.Chat
	MessageID string    // the external message id
	Date      time.Time // message.date (zero when absent), UTC
	Text      string    // message.text with emoji converted to icon tags
	RawText   string    // message.text as received

	UserID string         // the internal user id
	User   openlines.User // the external user as received

	Files         []FileID      // internal ids of the imported files, in order
	FileFailures  []FileFailure // the files that could not be imported (dropped from Files)
	FailedBigFile bool          // one of the files was over the size limit (failed_big_file)

	// Item is the item as received (before conversion).
	Item openlines.MessageItem
}

// StatusDelivery is the event of one receivingStatusDelivery item: the portal's message IM reached the
// messenger, where its id is Message.ID. The subscriber records the external id.
type StatusDelivery struct {
	Connector, Line string
	openlines.StatusDeliveryItem
}

// StatusReading is the event of one receivingStatusReading item: the customer read Message.
type StatusReading struct {
	Connector, Line string
	openlines.StatusReadingItem
}

// ReceivedError is the event of one receivingError item: the messenger refused Message.
type ReceivedError struct {
	Connector, Line string
	openlines.ErrorItem
}

// StatusBlock is the event of one receivingStatusBlock item: the customer blocked the channel.
type StatusBlock struct {
	Connector, Line string
	openlines.StatusBlockItem
}

// ChatName is the event of setChatName: Name is the new name of the chat ChatID.
type ChatName struct {
	Connector, Line string
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
	messages  map[openlines.MessageType]*subscribers[Message]
	delivery  subscribers[StatusDelivery]
	reading   subscribers[StatusReading]
	errors    subscribers[ReceivedError]
	block     subscribers[StatusBlock]
	connector subscribers[ConnectorStatus]
	chatName  subscribers[ChatName]
}

func newEvents() *events {
	e := &events{messages: map[openlines.MessageType]*subscribers[Message]{}}
	for _, t := range []openlines.MessageType{openlines.MessageNew, openlines.MessageUpdate, openlines.MessageDelete,
		openlines.MessagePost, openlines.MessagePostUpdate, openlines.MessageTypingStart} {
		e.messages[t] = &subscribers[Message]{}
	}
	return e
}

// OnReceivedMessage subscribes fn to new messages (type_message "message" or absent). Subscribers run in the
// order they were added, one item at a time in packet order; an error (or panic) of any of them leaves the
// item unconfirmed, so the connector server delivers it again. fn may be called again for an item whose
// processing failed after fn succeeded (e.g. a later subscriber failed): make it idempotent by message id.
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

// OnReceivedTypingStart subscribes fn to typing notifications (typing_start). They are not recorded as
// processed: a redelivered one fires again.
func (p *Portal) OnReceivedTypingStart(fn func(ctx context.Context, m Message) error) {
	p.events.messages[openlines.MessageTypingStart].add(fn)
}

// OnReceivedStatusDelivery subscribes fn to receivingStatusDelivery items. A failure answers the packet with
// INTERNAL_ERROR for that item.
func (p *Portal) OnReceivedStatusDelivery(fn func(ctx context.Context, s StatusDelivery) error) {
	p.events.delivery.add(fn)
}

// OnReceivedStatusReading subscribes fn to receivingStatusReading items.
func (p *Portal) OnReceivedStatusReading(fn func(ctx context.Context, s StatusReading) error) {
	p.events.reading.add(fn)
}

// OnReceivedError subscribes fn to receivingError items.
func (p *Portal) OnReceivedError(fn func(ctx context.Context, e ReceivedError) error) {
	p.events.errors.add(fn)
}

// OnReceivedStatusBlock subscribes fn to receivingStatusBlock items.
func (p *Portal) OnReceivedStatusBlock(fn func(ctx context.Context, s StatusBlock) error) {
	p.events.block.add(fn)
}

// OnUpdateStatusConnector subscribes fn to changes of a connector's status made by the connector server
// (deactivateConnector), with the status as stored after the change.
func (p *Portal) OnUpdateStatusConnector(fn func(ctx context.Context, s ConnectorStatus) error) {
	p.events.connector.add(fn)
}

// OnChatNameChanged subscribes fn to setChatName items.
func (p *Portal) OnChatNameChanged(fn func(ctx context.Context, c ChatName) error) {
	p.events.chatName.add(fn)
}
