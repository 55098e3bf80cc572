package portal

import (
	"context"
	"fmt"
	"strings"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/wire"
)

// The commands other than receivingMessage carry statuses and notices. Their events fire as the packet is
// handled; an item whose event fails for now (a subscriber's error, a user lookup) is stored and retried as a
// message is. They are not checked for duplicates: a packet the server sends again fires them again, which
// is harmless for statuses.

// firer fires the event of one item of a command; it also runs the stored item's retries.
type firer[T any] func(p *Portal, ctx context.Context, connector, line string, it *T) (outcome, error)

// validator is an item of openlines that checks itself.
type validator interface{ Validate() error }

// handleEach returns the handler of a command whose items fire: each valid item's event fires in packet
// order; an invalid one is rejected and logged; one that failed for now is stored for a retry.
func handleEach[T any, PT interface {
	*T
	validator
}](p *Portal, fire firer[T]) func(ctx context.Context, req *router.Request, items []T, itemErrs []error) error {
	return func(ctx context.Context, req *router.Request, items []T, itemErrs []error) error {
		ctx = context.WithoutCancel(ctx)
		for i := range items {
			var out outcome
			var err error
			switch {
			case itemErrs != nil && itemErrs[i] != nil:
				out, err = outRejected, &wire.Error{Code: wire.CodeBadPacket, Message: "the item does not fit docs/protocol.md §7", Err: itemErrs[i]}
			default:
				if err = PT(&items[i]).Validate(); err != nil {
					out = outRejected
				} else {
					out, err = fire(p, ctx, req.Connector, req.Line, &items[i])
				}
			}
			switch out {
			case outDone:
				p.stats.fired.Add(1)
				p.note(ctx, i, 0, 1, commandEvents[canonicalCommand(req.Command)], "fired", nil)
			case outRejected:
				p.stats.rejected.Add(1)
				p.note(ctx, i, 0, 0, "", "rejected", err)
				p.logger.Warn("portal: item rejected", "command", req.Command, "connector", req.Connector, "line", req.Line,
					"item", i, "code", string(wire.CodeOf(err)), "error", err.Error())
			case outRetry:
				if err := p.keep(ctx, req.Command, req.Connector, req.Line, &items[i], err); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// keep stores an item whose first attempt failed for now, for a retry.
func (p *Portal) keep(ctx context.Context, command, connector, line string, item any, cause error) error {
	command = canonicalCommand(command)
	body, err := wire.Serialize(item)
	if err != nil {
		return &wire.Error{Code: wire.CodeInternal, Message: "storing an item for a retry", Err: err}
	}
	now := p.clock.Now()
	ids, err := p.items.take(ctx, []newItem{{sum: uniqueSum(now), command: command, connector: connector, line: line, body: body}},
		now, p.retry.Lease)
	if err != nil {
		p.logger.Error("portal: an item that failed could not be stored; the server will send the packet again",
			"command", command, "connector", connector, "line", line, "cause", cause, "error", err)
		return &wire.Error{Code: wire.CodeInternal, Message: "storing an item for a retry", Err: err}
	}
	p.settle(ctx, ids[0], 1, command, connector, line, outRetry, cause)
	return nil
}

// canonicalCommand returns a command's name as openlines spells it (the Router matches any case).
func canonicalCommand(command string) string {
	for _, c := range openlines.Commands() {
		if strings.EqualFold(c, command) {
			return c
		}
	}
	return command
}

// retryers runs the retry of a stored item of each command other than receivingMessage.
var retryers = map[string]func(p *Portal, ctx context.Context, connector, line string, body []byte) (outcome, error){
	openlines.CommandReceivingStatusDelivery: retryOf(fireDelivery),
	openlines.CommandReceivingStatusReading:  retryOf(fireReading),
	openlines.CommandReceivingError:          retryOf(fireError),
	openlines.CommandReceivingStatusBlock:    retryOf(fireBlock),
	openlines.CommandSetChatName:             retryOf(fireChatName),
	openlines.CommandDeactivateConnector: func(p *Portal, ctx context.Context, connector, line string, _ []byte) (outcome, error) {
		return p.fireDeactivated(ctx, connector, line)
	},
}

// retryOf decodes a stored item into a T and fires it.
func retryOf[T any](fire firer[T]) func(p *Portal, ctx context.Context, connector, line string, body []byte) (outcome, error) {
	return func(p *Portal, ctx context.Context, connector, line string, body []byte) (outcome, error) {
		var it T
		if err := unserializeInto(body, &it); err != nil {
			return outRejected, &wire.Error{Code: wire.CodeInternal, Message: "the stored item cannot be read", Err: err}
		}
		return fire(p, ctx, connector, line, &it)
	}
}

// fired is the outcome of firing an event.
func fired(command string, err error) (outcome, error) {
	if err != nil {
		return outRetry, &wire.Error{Code: wire.CodeInternal, Message: "on " + command, Err: err}
	}
	return outDone, nil
}

func fireDelivery(p *Portal, ctx context.Context, connector, line string, it *openlines.StatusDeliveryItem) (outcome, error) {
	return fired(openlines.CommandReceivingStatusDelivery, p.events.delivery.fire(ctx,
		StatusDelivery{Connector: connector, Line: line, ExternalIDs: it.Message.IDs(), StatusDeliveryItem: *it}))
}

func fireReading(p *Portal, ctx context.Context, connector, line string, it *openlines.StatusReadingItem) (outcome, error) {
	return fired(openlines.CommandReceivingStatusReading, p.events.reading.fire(ctx,
		StatusReading{Connector: connector, Line: line, StatusReadingItem: *it}))
}

func fireError(p *Portal, ctx context.Context, connector, line string, it *openlines.ErrorItem) (outcome, error) {
	ev := ReceivedError{Connector: connector, Line: line, ErrorItem: *it}
	if it.UserID != "" {
		uid, err := p.users.LookupUser(ctx, connector, it.UserID)
		if err != nil {
			return outRetry, &wire.Error{Code: wire.CodeInternal, Message: "looking up the user", Err: err}
		}
		ev.User = uid
	}
	switch it.Code {
	case openlines.ErrorNotSendMessageChat:
		ev.Reconnect = it.Params.ErrorCode == openlines.ErrorExpiredToken
		msg := p.locale.NotSent
		if ev.Reconnect {
			msg += "[BR]" + p.locale.Reconnect
		}
		ev.Notice, ev.Undelivered = p.locale.notice(msg, it.MessageConnector), it.MessageID
	case openlines.ErrorDeleteMessage:
		ev.Notice = p.locale.notice(p.locale.NotDeleted, it.MessageConnector)
	default:
		ev.Undelivered = it.MessageID
	}
	return fired(openlines.CommandReceivingError, p.events.errors.fire(ctx, ev))
}

func fireBlock(p *Portal, ctx context.Context, connector, line string, it *openlines.StatusBlockItem) (outcome, error) {
	ev := StatusBlock{Connector: connector, Line: line, Blocked: it.Blocked(), StatusBlockItem: *it}
	if it.User.ID != "" {
		uid, err := p.users.LookupUser(ctx, connector, it.User.ID)
		if err != nil {
			return outRetry, &wire.Error{Code: wire.CodeInternal, Message: "looking up the user", Err: err}
		}
		ev.UserID = uid
	}
	return fired(openlines.CommandReceivingStatusBlock, p.events.block.fire(ctx, ev))
}

func fireChatName(p *Portal, ctx context.Context, connector, line string, it *openlines.ChatName) (outcome, error) {
	ev := ChatName{Connector: connector, Line: line, ChatName: *it}
	if it.UserID != "" {
		uid, err := p.users.LookupUser(ctx, connector, it.UserID)
		if err != nil {
			return outRetry, &wire.Error{Code: wire.CodeInternal, Message: "looking up the user", Err: err}
		}
		ev.User = uid
	}
	return fired(openlines.CommandSetChatName, p.events.chatName.fire(ctx, ev))
}

// deactivateConnector: the connection was taken over elsewhere (docs/protocol.md §7). ERROR is set on the
// real connector's line (the gate stays shut until the line is connected again), the client's cached
// connector info is dropped, and OnUpdateStatusConnector fires with the stored status.
func (p *Portal) deactivateConnector(ctx context.Context, req *router.Request, _ []any, _ []error) error {
	ctx = context.WithoutCancel(ctx)
	real := openlines.RealConnector(req.Connector)
	if err := p.status.setError(ctx, real, req.Line); err != nil {
		return &wire.Error{Code: wire.CodeInternal, Message: "storing the line's status", Err: err}
	}
	if p.client != nil {
		p.client.ForgetLine(real, req.Line)
	}
	p.logger.Warn("portal: connector deactivated by the connector server: connected elsewhere", "connector", real, "line", req.Line)
	out, err := p.fireDeactivated(ctx, real, req.Line)
	if out == outRetry {
		return p.keep(ctx, req.Command, real, req.Line, struct{}{}, err)
	}
	return nil
}

// fireDeactivated fires OnUpdateStatusConnector with the stored status of (real connector, line).
func (p *Portal) fireDeactivated(ctx context.Context, real, line string) (outcome, error) {
	st, err := p.status.get(ctx, real, line)
	if err != nil {
		return outRetry, &wire.Error{Code: wire.CodeInternal, Message: "reading the line's status", Err: err}
	}
	err = p.events.statusUpdate.fire(ctx, StatusConnector{Connector: real, Line: line, Status: st, At: p.clock.Now()})
	if err != nil {
		return outRetry, fmt.Errorf("on %s: %w", openlines.CommandDeactivateConnector, err)
	}
	return outDone, nil
}

// unserializeInto reads an item stored by wire.Serialize back into dst.
func unserializeInto(body []byte, dst any) error {
	v, err := wire.Unserialize(body)
	if err != nil {
		return err
	}
	return wire.Bind(v, dst)
}
