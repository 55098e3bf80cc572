package portal

import (
	"context"
	"time"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/wire"
)

// slot is the fate of one item of a receivingMessage packet.
type slot struct {
	state slotState
	id    int64 // its row in the store, once taken
	err   error // why it was rejected
}

type slotState uint8

const (
	slotRejected  slotState = iota // invalid: never taken, reported
	slotTyping                     // a typing notice: fired at once, never stored
	slotTaken                      // new: stored, to be processed now
	slotDuplicate                  // taken before (by this packet or an earlier one): skipped
)

// receivingMessage takes a packet's items (docs/protocol.md §8): it checks each, stores the valid ones in
// the portal's store in one commit (a duplicate of an item taken before is skipped), runs the pipeline over
// the new ones (see run), and in the legacy profile confirms every item with one setStatusDelivered. The
// packet is answered OK once its items are stored, whatever their pipeline did: an item that failed for now
// stays in the store and is retried with back-off. Only a failure to store them fails the packet
// (INTERNAL_ERROR, nothing processed): the server sends it again.
func (p *Portal) receivingMessage(ctx context.Context, req *router.Request, items []openlines.MessageItem, itemErrs []error) error {
	// The server may give up waiting: work once started is finished, so that a fired event is recorded.
	ctx = context.WithoutCancel(ctx)
	now := p.clock.Now()
	slots := make([]slot, len(items))
	take := make([]newItem, 0, len(items))
	idx := make([]int, 0, len(items))
	for i := range items {
		it := &items[i]
		if itemErrs != nil && itemErrs[i] != nil {
			slots[i].reject(&wire.Error{Code: wire.CodeBadPacket, Message: "the item does not fit docs/protocol.md §7.1", Err: itemErrs[i]})
			continue
		}
		if err := it.Validate(); err != nil {
			slots[i].reject(err)
			continue
		}
		if it.Type() == openlines.MessageTypingStart {
			slots[i].state = slotTyping
			continue
		}
		body, err := wire.Serialize(it)
		if err != nil {
			slots[i].reject(&wire.Error{Code: wire.CodeBadPacket, Message: "the item cannot be stored", Err: err})
			continue
		}
		take = append(take, newItem{sum: keyOf(req.Connector, req.Line, it, body).sum(),
			command: openlines.CommandReceivingMessage, connector: req.Connector, line: req.Line, body: body})
		idx = append(idx, i)
	}
	ids, err := p.items.take(ctx, take, now, p.retry.Lease)
	if err != nil {
		p.logger.Error("portal: the packet's items could not be stored; the server will send them again",
			"connector", req.Connector, "line", req.Line, "items", len(take), "error", err)
		return &wire.Error{Code: wire.CodeInternal, Message: "storing the items", Err: err}
	}
	for j, i := range idx {
		if ids[j] == 0 {
			slots[i].state = slotDuplicate
		} else {
			slots[i].state, slots[i].id = slotTaken, ids[j]
		}
	}

	p.run(ctx, req, items, slots, now)
	if req.Profile == wire.Legacy {
		p.confirmItems(ctx, req, items)
	}
	return nil
}

// run runs the pipeline over the items of a packet taken at now, each chat's in its lane and the chats at
// once, and returns once they finished or AnswerWithin passed (see packetWork.wait).
func (p *Portal) run(ctx context.Context, req *router.Request, items []openlines.MessageItem, slots []slot, now time.Time) {
	var taken, duplicates, rejected, jobs int
	for i := range slots {
		if st := slots[i].state; st == slotTaken || st == slotTyping {
			jobs++
		}
	}
	work := newPacketWork(&p.background, jobs)
	var budget <-chan time.Time // nil: wait for every item
	if p.answerWithin > 0 {
		budget = p.clock.After(p.answerWithin)
	}
	for i := range slots {
		s, it := &slots[i], &items[i]
		chat := req.Connector + "|" + req.Line + "|" + it.Chat.ID
		switch s.state {
		case slotTaken:
			taken++
			p.note(ctx, i, s.id, 0, messageEvents[it.Type()], "taken", nil)
			p.lanes.add(ctx, chat, func(ctx context.Context) {
				defer work.finish()
				if p.leaseHeld(ctx, s.id, now) {
					p.attemptMessage(ctx, s.id, 1, req.Connector, req.Line, it)
				}
			})
		case slotTyping:
			p.lanes.add(ctx, chat, func(ctx context.Context) {
				defer work.finish()
				p.fireTyping(ctx, req, i, it)
			})
		case slotDuplicate:
			duplicates++
			p.stats.duplicates.Add(1)
			p.note(ctx, i, 0, 0, "", "duplicate", nil)
		case slotRejected:
			rejected++
			p.stats.rejected.Add(1)
			p.note(ctx, i, 0, 0, "", "rejected", s.err)
			p.logger.Warn("portal: item rejected", "connector", req.Connector, "line", req.Line, "item", i,
				"chat", it.Chat.ID, "message", it.Message.FirstID(), "code", string(wire.CodeOf(s.err)), "error", s.err.Error())
		}
	}
	work.wait(budget)
	p.logger.Debug("portal: packet taken", "connector", req.Connector, "line", req.Line, "taken", taken,
		"duplicates", duplicates, "rejected", rejected)
}

// leaseHeld reports whether the first attempt at item id, taken at taken and waiting in its chat's lane
// until now, may run: after half its lease it renews the lease, which fails when the lease ran out and a
// retry claimed the item meanwhile (here or in another process). Without that, the item would run twice.
func (p *Portal) leaseHeld(ctx context.Context, id int64, taken time.Time) bool {
	now := p.clock.Now()
	if now.Sub(taken) < p.retry.Lease/2 {
		return true
	}
	ok, err := p.items.renew(ctx, id, 1, now, p.retry.Lease)
	switch {
	case err != nil:
		p.logger.Error("portal: an item's lease could not be renewed; it is tried again when the lease ends", "item", id, "error", err)
	case !ok:
		p.logger.Warn("portal: an item waited in its chat's lane past its lease; its retry runs instead", "item", id)
	}
	return ok
}

// fireTyping fires the typing notice item i of a packet: once, never stored.
func (p *Portal) fireTyping(ctx context.Context, req *router.Request, i int, it *openlines.MessageItem) {
	result := "fired"
	if _, err := p.process(ctx, req.Connector, req.Line, it, 0, 1); err != nil {
		result = "failed"
		p.logger.Warn("portal: typing notice failed", "connector", req.Connector, "line", req.Line,
			"chat", it.Chat.ID, "error", err)
	}
	p.note(ctx, i, 0, 1, messageEvents[openlines.MessageTypingStart], result, nil)
}

func (s *slot) reject(err error) {
	s.state, s.err = slotRejected, err
}

// confirmItems confirms a legacy packet's items with one setStatusDelivered (docs/protocol.md §8): every
// item of a packet the portal took is processed, kept for a retry, a duplicate or invalid for good, so all
// of them are confirmed. A failed confirmation is logged: the server sends the items again, and the portal
// confirms them again as duplicates.
func (p *Portal) confirmItems(ctx context.Context, req *router.Request, items []openlines.MessageItem) {
	if len(items) == 0 {
		return
	}
	confirm := make([]openlines.StatusItem, len(items))
	for i := range items {
		confirm[i] = openlines.StatusItem{Chat: openlines.ChatRef{ID: items[i].Chat.ID},
			Message: openlines.MessageRef{ID: items[i].Message.FirstID()}}
	}
	if err := p.confirm.ConfirmDelivered(ctx, req.Connector, req.Line, confirm); err != nil {
		p.logger.Error("portal: setStatusDelivered failed; the server will send the items again", "connector", req.Connector,
			"line", req.Line, "items", len(confirm), "error", err)
	}
}

// attemptMessage runs the pipeline over a stored receivingMessage item on its attempt and records the
// result. When a subscriber opened the event transaction (Tx), a done result commits in it, with what the
// subscribers wrote; any other result rolls it back and is recorded on its own.
func (p *Portal) attemptMessage(ctx context.Context, id int64, attempt int, connector, line string, it *openlines.MessageItem) {
	const command = openlines.CommandReceivingMessage
	ectx, e := p.newEventTx(ctx)
	out, err := p.process(ectx, connector, line, it, id, attempt)
	tx := e.take()
	if tx == nil {
		p.settle(ctx, id, attempt, command, connector, line, out, err)
		return
	}
	now := p.clock.Now()
	committed, cerr := p.commitEvent(ctx, e, tx, id, attempt, out, now)
	switch {
	case committed:
		p.stats.fired.Add(1)
		p.noteSettled(ctx, id, attempt, command, itemDone, now, nil)
	case cerr != nil:
		p.settle(ctx, id, attempt, command, connector, line, outRetry,
			&wire.Error{Code: wire.CodeInternal, Message: "the event transaction", Err: cerr})
	case out == outDone:
		p.logger.Warn("portal: an attempt outlived its lease; a later attempt's result counts", "item", id, "attempt", attempt)
	default:
		p.settle(ctx, id, attempt, command, connector, line, out, err)
	}
}

// settle records how attempt on item id ended: done; rejected; or, failed for now, due again after the
// retry schedule's next delay, or dead after its last one.
func (p *Portal) settle(ctx context.Context, id int64, attempt int, command, connector, line string, out outcome, err error) {
	now := p.clock.Now()
	state, due, msg := itemDone, now, ""
	switch out {
	case outDone:
		p.stats.fired.Add(1)
	case outRejected:
		state, msg = itemRejected, err.Error()
		p.stats.rejected.Add(1)
		p.logger.Warn("portal: item rejected", "item", id, "command", command, "connector", connector, "line", line,
			"code", string(wire.CodeOf(err)), "error", msg)
	case outRetry:
		msg = err.Error()
		if attempt <= len(p.retry.Schedule) {
			state, due = itemPending, now.Add(p.retry.Schedule[attempt-1])
			p.stats.failures.Add(1)
			p.logger.Warn("portal: item failed; kept for a retry", "item", id, "command", command, "connector", connector,
				"line", line, "attempt", attempt, "retry_at", due, "error", msg)
		} else {
			state = itemDead
			p.stats.dead.Add(1)
			p.logger.Error("portal: item failed its last attempt; kept as a dead letter", "item", id, "command", command,
				"connector", connector, "line", line, "attempts", attempt, "error", msg)
		}
	}
	applied, werr := p.items.finish(ctx, id, attempt, state, due, msg)
	p.noteSettled(ctx, id, attempt, command, state, due, err)
	switch {
	case werr != nil:
		p.logger.Error("portal: the result of an item could not be recorded; it is tried again when its lease ends",
			"item", id, "attempt", attempt, "error", werr)
	case !applied:
		p.logger.Warn("portal: an attempt outlived its lease; a later attempt's result counts", "item", id, "attempt", attempt)
	case state == itemPending:
		p.retrier.kick()
	}
}
