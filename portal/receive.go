package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/wire"
)

// itemKey returns the duplicate-suppression key of an item, or false for an item that is never suppressed
// (typing_start). The key is PROTOCOL.md §5.1's (connector, line, chat id, message id) plus a variant:
// the type, so that message_del or message_update of a message is not taken for the message itself, and for
// an edit a digest of its content, so that a second edit of the same message is not taken for the first.
func itemKey(connector, line string, it *openlines.MessageItem) (ItemKey, bool) {
	t := it.Type()
	if t == openlines.MessageTypingStart {
		return ItemKey{}, false
	}
	v := string(t)
	if t == openlines.MessageUpdate || t == openlines.MessagePostUpdate {
		h := sha256.New()
		fmt.Fprintf(h, "%d:%s;%d;", len(it.Message.Text), it.Message.Text, it.Message.Date)
		for _, f := range it.Message.Files {
			fmt.Fprintf(h, "%d:%s;", len(f.URL), f.URL)
		}
		v += ":" + hex.EncodeToString(h.Sum(nil)[:12])
	}
	return ItemKey{Connector: connector, Line: line, ChatID: it.Chat.ID, MessageID: it.Message.FirstID(), Variant: v, Date: it.Message.Date}, true
}

// slot is the state of one item of a packet through the pipeline.
type slot struct {
	item    openlines.MessageItem
	key     recordKey
	dedup   bool // the item has a key
	claimed bool // this packet holds the key's in-flight claim
	twin    int  // for a repeat of an earlier item of the same packet, that item's index; else -1
	state   slotState
	err     error
}

type slotState int

const (
	slotPending    slotState = iota
	slotFailed               // not confirmed; err says why
	slotDuplicate            // processed before: confirmed, no event
	slotInProgress           // another packet holds the claim: neither confirmed nor failed here
	slotDone                 // processed now: confirmed
)

// receivingMessage runs the pipeline of §5.1 over every item of a packet, in order, then confirms the items
// that succeeded with one setStatusDelivered call.
func (p *Portal) receivingMessage(ctx context.Context, req *router.Request, items []openlines.MessageItem, itemErrs []error) error {
	// The server may give up waiting; work once started is finished, so that an event that fired is also
	// recorded and confirmed.
	ctx = context.WithoutCancel(ctx)
	slots := p.getSlots(len(items))
	defer p.putSlots(slots)
	for i := range items {
		s := &slots[i]
		s.twin = -1
		s.item = items[i]
		if itemErrs != nil && itemErrs[i] != nil {
			s.fail(&wire.Error{Code: wire.CodeBadPacket, Message: "the item does not fit §5", Err: itemErrs[i]})
			continue
		}
		if err := s.item.Validate(); err != nil {
			s.fail(err)
			continue
		}
		s.key.key, s.dedup = itemKey(req.Connector, req.Line, &s.item)
		if s.dedup {
			s.key.sum = s.key.key.Sum()
		}
	}

	// Claim the keys, so that two packets carrying the same item at the same time do not both fire it.
	first := make(map[[KeySize]byte]int, len(slots))
	for i := range slots {
		s := &slots[i]
		if s.state != slotPending || !s.dedup {
			continue
		}
		if j, ok := first[s.key.sum]; ok {
			s.twin = j // the same item twice in one packet: it shares the fate of the first
			s.state = slotDuplicate
			continue
		}
		first[s.key.sum] = i
		if s.claimed = p.inflight.claim(s.key.sum); !s.claimed {
			s.state = slotInProgress
		}
	}
	defer func() {
		for i := range slots {
			if slots[i].claimed {
				p.inflight.release(slots[i].key.sum)
			}
		}
	}()

	if err := p.markSeen(ctx, slots); err != nil {
		return err
	}

	done := make([]recordKey, 0, len(slots))
	for i := range slots {
		s := &slots[i]
		if s.state != slotPending {
			continue
		}
		if err := p.process(ctx, req, &s.item); err != nil {
			s.fail(err)
			continue
		}
		s.state = slotDone
		if s.dedup {
			done = append(done, s.key)
		}
	}
	for i := range slots {
		if j := slots[i].twin; j >= 0 {
			switch slots[j].state {
			case slotFailed:
				slots[i].fail(slots[j].err)
			case slotInProgress:
				slots[i].state = slotInProgress
			}
		}
	}
	if err := p.record.mark(ctx, done, p.clock.Now()); err != nil {
		// The events fired: confirming them is what keeps them from firing again.
		p.logger.Error("portal: recording processed items failed; they are confirmed anyway", "connector", req.Connector,
			"line", req.Line, "items", len(done), "error", err)
	}

	var duplicates, inProgress int
	confirm := make([]Delivered, 0, len(slots))
	var failures []*wire.Error
	for i := range slots {
		s := &slots[i]
		switch s.state {
		case slotDone, slotDuplicate:
			confirm = append(confirm, Delivered{ChatID: s.item.Chat.ID, MessageID: s.item.Message.FirstID()})
			if s.state == slotDuplicate {
				duplicates++
			}
		case slotInProgress:
			inProgress++
		case slotFailed:
			p.logger.Warn("portal: item not confirmed", "connector", req.Connector, "line", req.Line, "item", i,
				"chat", s.item.Chat.ID, "message", s.item.Message.ID, "code", string(wire.CodeOf(s.err)), "error", s.err.Error())
			failures = append(failures, itemError(i, &s.item, s.err))
		}
	}
	p.logger.Debug("portal: packet handled", "connector", req.Connector, "line", req.Line, "confirmed", len(confirm),
		"duplicates", duplicates, "in_progress", inProgress)
	if len(confirm) > 0 {
		if err := p.confirm.ConfirmDelivered(ctx, req.Connector, req.Line, confirm); err != nil {
			p.logger.Error("portal: setStatusDelivered failed; the server will deliver the items again",
				"connector", req.Connector, "line", req.Line, "items", len(confirm), "error", err)
			failures = append(failures, &wire.Error{Code: wire.CodeInternal, Message: "confirming delivery: " + err.Error(), Err: err})
		}
	}
	if len(failures) > 0 {
		return &wire.ResponseError{Errors: failures}
	}
	return nil
}

// maxPooledSlots is the largest packet whose slots are pooled (Portal.slots): a packet's slots are about
// 0.6 KB per item, the largest allocation of the pipeline.
const maxPooledSlots = 256

func (p *Portal) getSlots(n int) []slot {
	if n > maxPooledSlots {
		return make([]slot, n)
	}
	if sp, ok := p.slots.Get().(*[]slot); ok && cap(*sp) >= n {
		return (*sp)[:n]
	}
	return make([]slot, n, max(n, 16))
}

// putSlots returns slots to the pool, cleared so that they keep no item alive.
func (p *Portal) putSlots(s []slot) {
	if cap(s) > maxPooledSlots {
		return
	}
	clear(s[:cap(s)])
	s = s[:0]
	p.slots.Put(&s)
}

func (s *slot) fail(err error) {
	s.state = slotFailed
	s.err = err
}

// itemError is the answer's error for a failed item: its code, and a message naming the item.
func itemError(i int, it *openlines.MessageItem, err error) *wire.Error {
	msg := "item " + strconv.Itoa(i)
	if it.Chat.ID != "" || it.Message.FirstID() != "" {
		msg += fmt.Sprintf(" (chat %.64q, message %.64q)", it.Chat.ID, it.Message.FirstID())
	}
	return &wire.Error{Code: wire.CodeOf(err), Message: msg + ": " + reason(err), Err: err}
}

// reason is the text of an error without its protocol code (the answer carries the code beside it).
func reason(err error) string {
	var pe *wire.Error
	if errors.As(err, &pe) && pe == err {
		switch {
		case pe.Err == nil && pe.Message == "":
			return string(pe.Code)
		case pe.Err == nil:
			return pe.Message
		case pe.Message == "":
			return pe.Err.Error()
		}
		return pe.Message + ": " + pe.Err.Error()
	}
	return err.Error()
}

// markSeen asks the store, in one query, which claimed items were processed before.
func (p *Portal) markSeen(ctx context.Context, slots []slot) error {
	keys := make([]recordKey, 0, len(slots))
	idx := make([]int, 0, len(slots))
	for i := range slots {
		if slots[i].claimed && slots[i].state == slotPending {
			keys = append(keys, slots[i].key)
			idx = append(idx, i)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	seen, err := p.record.seen(ctx, keys)
	if err != nil {
		return &wire.Error{Code: wire.CodeInternal, Message: "reading the record of processed items", Err: err}
	}
	for j, i := range idx {
		if seen[j] {
			slots[i].state = slotDuplicate
		}
	}
	return nil
}

// ErrUserSync is wrapped by the CONNECTOR_PROXY_NO_ADD_USER error of an item whose user could not be synced.
var ErrUserSync = errors.New("portal: the user could not be synced")

// process runs steps 1–5 of §5.1 for one valid item.
func (p *Portal) process(ctx context.Context, req *router.Request, it *openlines.MessageItem) error {
	m := Message{
		Connector: req.Connector,
		Line:      req.Line,
		Type:      it.Type(),
		Chat:      it.Chat,
		MessageID: it.Message.FirstID(),
		RawText:   it.Message.Text,
		Text:      it.Message.Text,
		User:      it.User,
		Item:      *it,
	}
	if it.Message.Date > 0 {
		m.Date = time.Unix(it.Message.Date, 0).UTC()
	}
	// 1. Emoji.
	if p.conv != nil && m.Text != "" {
		m.Text = p.conv.ToIcons(m.Text)
	}
	// 2. Files.
	if len(it.Message.Files) > 0 {
		m.Files, m.FileFailures = p.files.Import(ctx, it.Message.Files)
		for _, f := range m.FileFailures {
			if f.Code == CodeBigFile {
				m.FailedBigFile = true
			}
			p.logger.Warn("portal: file not imported", "connector", req.Connector, "line", req.Line,
				"chat", it.Chat.ID, "message", it.Message.ID, "file", f.Index, "url", f.URL, "code", f.Code, "error", errString(f.Err))
		}
	}
	// 3. User.
	uid, err := p.syncUser(ctx, req.Connector, it.User)
	if err != nil {
		return &wire.Error{Code: wire.CodeNoAddUser, Message: fmt.Sprintf("user %.64q", it.User.ID), Err: fmt.Errorf("%w: %w", ErrUserSync, err)}
	}
	m.UserID = uid
	// 4. Bot Framework context.
	if RealConnector(req.Connector) == "botframework" && (m.Type == openlines.MessageNew || m.Type == openlines.MessageUpdate) &&
		(it.Recipient.String("id") != "" || it.ServiceURL != "") {
		c := bfcontext.Context{ChatID: it.Chat.ID, Connector: req.Connector,
			From: bfcontext.Account{ID: it.Recipient.String("id"), Name: it.Recipient.String("name")}, ServiceURL: it.ServiceURL}
		if err := p.chatCache.put(ctx, c); err != nil {
			return &wire.Error{Code: wire.CodeInternal, Message: "storing the Bot Framework chat context", Err: err}
		}
	}
	// 5. Event.
	if err := p.events.messages[m.Type].fire(ctx, m); err != nil {
		return &wire.Error{Code: wire.CodeInternal, Message: "on " + string(m.Type), Err: err}
	}
	return nil
}

// syncUser syncs one user at a time per (connector, user.id) in this process, so that concurrent packets
// for a new user do not race to create it (the UserSyncer guards against other processes).
func (p *Portal) syncUser(ctx context.Context, connector string, u openlines.User) (string, error) {
	unlock := p.userLocks.lock(connector + "|" + u.ID)
	defer unlock()
	return p.users.SyncUser(ctx, connector, u)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// RealConnector returns the real channel of a connector id: the lower-cased part before the first "."
// (botframework.skype → botframework).
func RealConnector(id string) string {
	if i := strings.IndexByte(id, '.'); i >= 0 {
		id = id[:i]
	}
	return strings.ToLower(id)
}

// claims is a set of keys being processed in this process.
type claims struct {
	mu  sync.Mutex
	set map[[KeySize]byte]struct{}
}

func (c *claims) claim(k [KeySize]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set == nil {
		c.set = map[[KeySize]byte]struct{}{}
	}
	if _, busy := c.set[k]; busy {
		return false
	}
	c.set[k] = struct{}{}
	return true
}

func (c *claims) release(k [KeySize]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.set, k)
}

// keyedMutex is one mutex per key, dropped when nobody holds or waits for it.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
