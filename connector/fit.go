package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// A packet to a portal must fit the portal's body cap (Config.PortalMaxBody), or the portal answers 413 and
// the whole line is blocked for nothing. A batch is cut to the most head items whose packet fits, down to
// one; a single item that can never fit, or that the portal refuses as too large on its own, is moved to
// the dead-letter table alone and the line goes on. The webhook refuses such an item before it is queued
// (checkDeliverable), so the dispatcher meets one only when the cap was lowered since.

// errPortalTooLarge matches a 413 answer of a portal.
var errPortalTooLarge = errors.New("the portal refused the packet as too large (HTTP 413)")

// statusError is a portal's answer with a status other than 2xx.
type statusError struct {
	target string
	status int
}

func (e *statusError) Error() string { return fmt.Sprintf("%s answered HTTP %d", e.target, e.status) }

// Is makes a 413 match errPortalTooLarge.
func (e *statusError) Is(target error) bool {
	return target == errPortalTooLarge && e.status == http.StatusRequestEntityTooLarge
}

// delivery is what deliver did with a claimed batch.
type delivery struct {
	b        *batch // what went out: the claimed batch, maybe cut, or the items behind its refused head
	sent     bool   // false: the site's generation does not know the command (setChatName to a legacy site)
	released bool   // settled here, its lease released (an item dead-lettered alone, the lane held): claim again
	drop     int64  // the head refused alone, to dead-letter as b (the items behind it) is settled; 0: none
}

// deliver sends a claimed batch: it encodes the packet, cuts the batch to fit the portal's cap and, while
// a refusal is narrowed (refuse.go), to half its window (the queue keeps the rest), and posts it; a 413
// answer halves the batch and tries again, and so does a refusal.
func (s *Server) deliver(ctx context.Context, owner string, site *siteRec, b *batch) (delivery, error) {
	claimed := *b // b is cut in place (its slices shortened); the items claimed stay here
	list := shapeOf(b.command) == shapeList
	if k := s.searches.size(b.lane.id); k > 0 && list {
		if err := s.store.cutBatch(ctx, owner, b, k); err != nil {
			return delivery{b: b, sent: true}, err
		}
	}
	limit := s.cfg.PortalMaxBody
	for {
		body, skip, err := s.encodeBatch(site, b)
		if err != nil || skip {
			return delivery{b: b, sent: !skip}, err
		}
		if int64(len(body)) > limit {
			k, err := s.fitting(site, b, limit)
			if err != nil {
				return delivery{b: b, sent: true}, err
			}
			if k == 0 {
				reason := fmt.Sprintf("alone it makes a packet of %d bytes, over the portal's cap of %d", len(body), limit)
				if len(b.ids) > 1 {
					reason = fmt.Sprintf("alone it makes a packet over the portal's cap of %d bytes", limit)
				}
				return delivery{b: b, released: true}, s.dropHead(ctx, owner, site, b, reason)
			}
			if err := s.store.cutBatch(ctx, owner, b, k); err != nil {
				return delivery{b: b, sent: true}, err
			}
			continue
		}
		_, err = s.postBody(ctx, site, body)
		switch {
		case err == nil:
			s.searches.accepted(b.lane.id, len(b.ids))
			return delivery{b: b, sent: true}, nil
		case !list:
			return delivery{b: b, sent: true}, err
		case errors.Is(err, errPortalTooLarge):
			// The portal's cap is below the configured one: this packet is over it.
			limit = min(limit, int64(len(body))-1)
			s.m.sends.WithLabelValues(b.command, "error").Inc()
			if len(b.ids) == 1 {
				return delivery{b: b, released: true}, s.dropHead(ctx, owner, site, b, fmt.Sprintf("the portal refused its packet of %d bytes as too large (413)", len(body)))
			}
			if err := s.store.cutBatch(ctx, owner, b, len(b.ids)/2); err != nil {
				return delivery{b: b, sent: true}, err
			}
			continue
		case !refusal(err):
			return delivery{b: b, sent: true}, err
		}
		if len(b.ids) == 1 {
			return s.refusedAlone(ctx, owner, site, &claimed, b, err, limit)
		}
		if s.searches.refused(b.lane.id, len(b.ids)) {
			s.log.Warn("connector: the portal refused a packet; sending parts of it to find the item it refuses", "site", siteName(site),
				"line", b.lane.line, "command", b.command, "items", len(b.ids), "err", err)
		}
		s.m.sends.WithLabelValues(b.command, "error").Inc()
		if err := s.store.cutBatch(ctx, owner, b, s.searches.size(b.lane.id)); err != nil {
			return delivery{b: b, sent: true}, err
		}
	}
}

// refusedAlone settles the refusal of a lane's head item sent alone (b holds it; claimed is what the claim
// read), by the rule of refuse.go: a transient refusal holds the lane for the next wait of
// Policy.RetryAlone when the line has more than this item to tell the item from the portal (other packets
// taken during the search, or items behind it); a lone item on its line is the line's failure, on the
// schedule; else the item is dead-lettered at once when the portal took other packets of the
// line during the search and the answer names the item (or nothing is behind it), or the items claimed
// behind it go out without it, and when the portal takes them it is dead-lettered as they are settled.
// Otherwise the refusal is the line's failure, and the search keeps the item for the next attempt.
func (s *Server) refusedAlone(ctx context.Context, owner string, site *siteRec, claimed, b *batch, refused error, limit int64) (delivery, error) {
	lane, bad := b.lane.id, itemRefused(refused)
	s.searches.refused(lane, 1)
	if !bad && (s.searches.evidence(lane) || len(claimed.ids) > 1) {
		if try, ok := s.searches.retry(lane, b.ids[0], len(s.cfg.Queue.RetryAlone)); ok {
			return s.retryAlone(ctx, owner, site, b, refused, try)
		}
	}
	probe, body, err := s.behindHead(site, claimed, limit)
	if err != nil {
		return delivery{b: b, sent: true}, refused
	}
	if s.searches.evidence(lane) && (bad || probe == nil) {
		s.searches.done(lane)
		s.m.sends.WithLabelValues(b.command, "error").Inc()
		return delivery{b: b, released: true}, s.dropHead(ctx, owner, site, b,
			"the portal refused it alone and took the other packets of its line: "+refused.Error())
	}
	if probe == nil {
		return delivery{b: b, sent: true}, refused
	}
	s.m.sends.WithLabelValues(b.command, "error").Inc()
	if err := s.store.markSent(ctx, owner, b, probe.last); err != nil {
		return delivery{b: b, sent: true}, err
	}
	if _, err := s.postBody(ctx, site, body); err != nil {
		return delivery{b: probe, sent: true}, err
	}
	s.searches.done(lane)
	return delivery{b: probe, sent: true, drop: b.ids[0]}, nil
}

// retryAlone holds a lane whose head item the portal refused alone by a transient answer for the wait try
// of Policy.RetryAlone; the item goes alone again when it ends.
func (s *Server) retryAlone(ctx context.Context, owner string, site *siteRec, b *batch, refused error, try int) (delivery, error) {
	wait := min(s.cfg.Queue.RetryAlone[try], s.cfg.Queue.Schedule[0]) // never slower than the line's back-off
	s.m.sends.WithLabelValues(b.command, "error").Inc()
	at, err := s.store.holdLane(ctx, owner, b.lane.id, wait)
	if err != nil {
		return delivery{b: b, released: true}, err
	}
	s.log.Warn("connector: the portal refused an item alone; sending it alone again after a pause", "site", siteName(site),
		"line", b.lane.line, "command", b.command, "item", b.ids[0], "attempt", try+1, "of", len(s.cfg.Queue.RetryAlone)+1,
		"next_attempt", time.UnixMilli(at).UTC(), "err", refused)
	return delivery{b: b, released: true}, nil
}

// holdLane blocks a lane that owner holds for wait and releases its lease, its failures not counted (its
// attempts stay below the schedule's length, so the block's end does not dead-letter its items). It returns
// the block's end (unix ms); a lease passed to another holder is left alone.
func (s *Store) holdLane(ctx context.Context, owner string, laneID int64, wait time.Duration) (int64, error) {
	var at int64
	err := s.write(ctx, func(tx *stx) error {
		at = s.nowMS() + wait.Milliseconds()
		_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET state = ?, next_at_ms = ?, lease_owner = '', lease_until_ms = 0
			WHERE id = ? AND lease_owner = ?`, stateBlocked, at, laneID, owner)
		return err
	})
	return at, err
}

// behindHead returns the items of a claimed batch after its head, as many as fit limit, and their packet;
// nil when there are none.
func (s *Server) behindHead(site *siteRec, claimed *batch, limit int64) (*batch, string, error) {
	if len(claimed.ids) < 2 {
		return nil, "", nil
	}
	p := *claimed
	p.ids, p.created, p.blobs = claimed.ids[1:], claimed.created[1:], claimed.blobs[1:]
	for {
		p.first, p.last = p.ids[0], p.ids[len(p.ids)-1]
		body, _, err := s.encodeBatch(site, &p)
		if err != nil || int64(len(body)) <= limit {
			return &p, body, err
		}
		k, err := s.fitting(site, &p, limit)
		if err != nil || k == 0 {
			return nil, "", err
		}
		p.ids, p.created, p.blobs = p.ids[:k], p.created[:k], p.blobs[:k]
	}
}

// fitting returns the most head items of b whose packet fits limit (0: not even the first). The sizes are
// exact and computed without building the packets: a batch over the cap can be megabytes.
func (s *Server) fitting(site *siteRec, b *batch, limit int64) (int, error) {
	sz, err := s.newSizer(site, b)
	if err != nil {
		return 0, err
	}
	lo, hi := 0, len(b.ids)-1 // lo items fit; more than hi do not
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if sz.size(mid) <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// dropHead dead-letters the first item of a claimed batch alone, logging why, and releases the lane.
func (s *Server) dropHead(ctx context.Context, owner string, site *siteRec, b *batch, reason string) error {
	moved, err := s.store.deadLetterOne(ctx, owner, b)
	if err != nil || !moved {
		return err
	}
	s.deadLetteredAlone(site, b.lane.line, b.command, b.ids[0], reason)
	return nil
}

// deadLetteredAlone counts and logs an item moved to the dead-letter table alone.
func (s *Server) deadLetteredAlone(site *siteRec, line, command string, item int64, reason string) {
	s.m.deadLettered.Inc()
	s.log.Error("connector: an item the portal cannot take moved to the dead-letter table alone; its line goes on",
		"site", siteName(site), "line", line, "command", command, "item", item, "reason", reason)
}

// cutBatch keeps the first k items of a claimed batch: the others stay queued for the next packet.
func (s *Store) cutBatch(ctx context.Context, owner string, b *batch, k int) error {
	if k <= 0 || k >= len(b.ids) {
		return nil
	}
	last := b.ids[k-1]
	if err := s.markSent(ctx, owner, b, last); err != nil {
		return err
	}
	b.ids, b.created, b.blobs, b.last = b.ids[:k], b.created[:k], b.blobs[:k], last
	return nil
}

// markSent records last as the lane's last item sent (its sent_upto) while owner holds the lease.
func (s *Store) markSent(ctx context.Context, owner string, b *batch, last int64) error {
	var held bool
	err := s.write(ctx, func(tx *stx) error {
		r, err := tx.ExecContext(ctx, `UPDATE conn_lane SET sent_upto = ? WHERE id = ? AND lease_owner = ?`, last, b.lane.id, owner)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		held = n == 1
		return err
	})
	if err != nil {
		return err
	}
	if !held {
		return errLeaseLost
	}
	b.lane.sentUpto = last
	return nil
}

// deadLetterOne moves the first item of a claimed batch to the dead-letter table and makes the lane ready
// for the next one. It reports false when the lease had passed to another holder (nothing changed).
func (s *Store) deadLetterOne(ctx context.Context, owner string, b *batch) (bool, error) {
	var moved bool
	err := s.write(ctx, func(tx *stx) error {
		moved = false
		now := s.nowMS()
		l, err := scanLane(tx.QueryRowContext(ctx, `SELECT `+laneCols+` FROM conn_lane WHERE id = ?`+s.forUpdate(false), b.lane.id))
		if err != nil {
			return err
		}
		if l.leaseOwner != owner {
			return nil
		}
		if err := s.deadLetterItemTx(ctx, tx, l, b.ids[0], now); err != nil {
			return err
		}
		moved = true
		return s.succeedTx(ctx, tx, l.id, now)
	})
	return moved, err
}

// deadLetterItemTx moves one queued item of a lane to the dead-letter table, with the lane's attempts and
// first failure (now when it has not failed).
func (s *Store) deadLetterItemTx(ctx context.Context, tx *stx, l *lane, id, now int64) error {
	first := l.firstFail
	if first == 0 {
		first = now
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO conn_dead (id, lane_id, site_id, line, command, connector, chat_id, msg_id, item,
		created_ms, dead_ms, attempts, first_fail_ms)
		SELECT id, lane_id, ?, ?, command, connector, chat_id, msg_id, item, created_ms, ?, ?, ? FROM conn_queue WHERE id = ?`,
		l.siteID, l.line, now, l.attempts, first, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM conn_queue WHERE id = ?`, id)
	return err
}

// checkDeliverable refuses webhook items that no packet to the site could carry (413): alone, each would
// make a packet over Config.PortalMaxBody. Only items large enough to come near the cap are measured.
func (s *Server) checkDeliverable(site *siteRec, line string, ps []prepared) error {
	for i, p := range ps {
		// A stub makes a value at most 7 times longer (N; → s:7:"#EMPTY#";), base64 4/3 and the form's
		// escapes 3 times: a packet is at most 28 times its item plus the fields, so an item below that
		// bound fits without being measured.
		if int64(len(p.blob))*28+4096 <= s.cfg.PortalMaxBody || shapeOf(p.command) == shapeEmpty {
			continue
		}
		if p.command == openlines.CommandSetChatName && site.generation() == wire.Legacy {
			continue // never sent
		}
		b := &batch{lane: &lane{line: line}, command: p.command, connector: p.connector, ids: []int64{0}, blobs: [][]byte{p.blob}}
		sz, err := s.newSizer(site, b)
		if err != nil {
			return err
		}
		if n := sz.size(1); n > s.cfg.PortalMaxBody {
			return wire.Errorf(wire.CodeRequestEntityTooLarge,
				"item %d would make a packet of %d bytes to the portal, over its cap of %d: it can never be delivered", i, n, s.cfg.PortalMaxBody)
		}
	}
	return nil
}

// encodeBatch returns the signed form body of a batch's packet in the site's generation, or skip for a
// batch the generation does not know (setChatName to a legacy site).
func (s *Server) encodeBatch(site *siteRec, b *batch) (body string, skip bool, err error) {
	gen := site.generation()
	if b.command == openlines.CommandSetChatName && gen == wire.Legacy {
		return "", true, nil
	}
	var data any = []any{}
	switch shapeOf(b.command) {
	case shapeList:
		items := make([]any, 0, len(b.blobs))
		for i, blob := range b.blobs {
			v, err := wire.Unserialize(blob)
			if err != nil {
				return "", false, fmt.Errorf("stored item %d: %w", b.ids[i], err)
			}
			items = append(items, v)
		}
		data = items
	case shapeOne:
		v, err := wire.Unserialize(b.blobs[0])
		if err != nil {
			return "", false, fmt.Errorf("stored item %d: %w", b.ids[0], err)
		}
		data = v
	}
	body, err = s.encodePacket(site, &wire.Packet{Command: b.command, Connector: b.connector, Line: b.lane.line, Data: data})
	return body, false, err
}

// sizer tells the length of the signed form body of the packet of a batch's first k items, exactly as
// encodeBatch would make it, without building it: the fields around DATA are those of a packet with an
// empty DATA, and DATA is the form-escaped base64 of the stubbed list, counted as it streams.
type sizer struct {
	fixed int64    // the body's length without DATA's value
	items [][]byte // each item serialized with the site's stubs
	list  bool     // DATA is the list of the items (else the one item itself)
}

func (s *Server) newSizer(site *siteRec, b *batch) (*sizer, error) {
	gen := site.generation()
	empty, err := s.encodePacket(site, &wire.Packet{Command: b.command, Connector: b.connector, Line: b.lane.line, Data: []any{}})
	if err != nil {
		return nil, err
	}
	stubbed, err := wire.SerializeStubbed([]any{}, gen)
	if err != nil {
		return nil, err
	}
	var c b64len
	c.write(stubbed)
	sz := &sizer{fixed: int64(len(empty)) - c.total(), list: shapeOf(b.command) == shapeList}
	for i, blob := range b.blobs {
		v, err := wire.Unserialize(blob)
		if err != nil {
			return nil, fmt.Errorf("stored item %d: %w", b.ids[i], err)
		}
		ser, err := wire.SerializeStubbed(v, gen)
		if err != nil {
			return nil, fmt.Errorf("stored item %d: %w", b.ids[i], err)
		}
		sz.items = append(sz.items, ser)
	}
	return sz, nil
}

// size is the body's length for the first k items (k >= 1).
func (z *sizer) size(k int) int64 {
	var c b64len
	if !z.list {
		c.write(z.items[0])
		return z.fixed + c.total()
	}
	c.write([]byte("a:" + strconv.Itoa(k) + ":{"))
	for i := 0; i < k; i++ {
		c.write([]byte("i:" + strconv.Itoa(i) + ";"))
		c.write(z.items[i])
	}
	c.write([]byte("}"))
	return z.fixed + c.total()
}

// b64len counts the length of the standard base64 of a byte stream, form-escaped as wire.Fields.Encode
// writes it ('+', '/' and '=' take three bytes each), fed in pieces.
type b64len struct {
	n     int64
	carry [2]byte
	nc    int
}

func (c *b64len) write(p []byte) {
	for len(p) > 0 && c.nc > 0 { // complete the group carried from the last piece
		if c.nc == 1 {
			c.carry[1], c.nc, p = p[0], 2, p[1:]
			continue
		}
		c.group(c.carry[0], c.carry[1], p[0])
		c.nc, p = 0, p[1:]
	}
	for ; len(p) >= 3; p = p[3:] {
		c.group(p[0], p[1], p[2])
	}
	for _, x := range p { // fewer than 3 left, nothing carried
		c.carry[c.nc] = x
		c.nc++
	}
}

func (c *b64len) group(a, b, d byte) {
	x := uint(a)<<16 | uint(b)<<8 | uint(d)
	c.n += sextet(x>>18) + sextet(x>>12) + sextet(x>>6) + sextet(x)
}

// sextet is the escaped length of the base64 character of the low six bits of x: '+' (62) and '/' (63)
// are escaped.
func sextet(x uint) int64 {
	if x&63 >= 62 {
		return 3
	}
	return 1
}

// total is the length once the stream ends (padding included).
func (c *b64len) total() int64 {
	switch c.nc {
	case 1:
		x := uint(c.carry[0]) << 16
		return c.n + sextet(x>>18) + sextet(x>>12) + 6 // "==" escaped
	case 2:
		x := uint(c.carry[0])<<16 | uint(c.carry[1])<<8
		return c.n + sextet(x>>18) + sextet(x>>12) + sextet(x>>6) + 3
	}
	return c.n
}
