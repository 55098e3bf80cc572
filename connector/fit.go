package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"

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

// deliver sends a claimed batch: it encodes the packet, cuts the batch to fit the portal's cap (the queue
// keeps the rest), and posts it; a 413 answer halves the batch and tries again. It reports sent false for a
// batch the site's generation does not know (nothing sent, the batch is done), and dropped true when the
// batch's first item was dead-lettered alone (the lease is then released: claim the lane again).
func (s *Server) deliver(ctx context.Context, owner string, site *siteRec, b *batch) (sent, dropped bool, err error) {
	limit := s.cfg.PortalMaxBody
	for {
		body, skip, err := s.encodeBatch(site, b)
		if err != nil || skip {
			return !skip, false, err
		}
		if int64(len(body)) > limit {
			k, err := s.fitting(site, b, limit)
			if err != nil {
				return true, false, err
			}
			if k == 0 {
				reason := fmt.Sprintf("alone it makes a packet of %d bytes, over the portal's cap of %d", len(body), limit)
				if len(b.ids) > 1 {
					reason = fmt.Sprintf("alone it makes a packet over the portal's cap of %d bytes", limit)
				}
				return false, true, s.dropHead(ctx, owner, b, reason)
			}
			if err := s.store.cutBatch(ctx, owner, b, k); err != nil {
				return true, false, err
			}
			continue
		}
		_, err = s.postBody(ctx, site, body)
		if !errors.Is(err, errPortalTooLarge) || shapeOf(b.command) != shapeList {
			return true, false, err
		}
		// The portal's cap is below the configured one: this packet is over it.
		limit = min(limit, int64(len(body))-1)
		if len(b.ids) == 1 {
			return false, true, s.dropHead(ctx, owner, b, fmt.Sprintf("the portal refused its packet of %d bytes as too large (413)", len(body)))
		}
		if err := s.store.cutBatch(ctx, owner, b, len(b.ids)/2); err != nil {
			return true, false, err
		}
	}
}

// fitting returns the most head items of b whose packet fits limit (0: not even the first), by bisection
// over the encoded packets.
func (s *Server) fitting(site *siteRec, b *batch, limit int64) (int, error) {
	lo, hi := 0, len(b.ids)-1 // lo items fit; more than hi do not
	for lo < hi {
		mid := (lo + hi + 1) / 2
		part := &batch{lane: b.lane, command: b.command, connector: b.connector, ids: b.ids[:mid], blobs: b.blobs[:mid]}
		body, _, err := s.encodeBatch(site, part)
		if err != nil {
			return 0, err
		}
		if int64(len(body)) <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// dropHead dead-letters the first item of a claimed batch alone, logging why, and releases the lane.
func (s *Server) dropHead(ctx context.Context, owner string, b *batch, reason string) error {
	moved, err := s.store.deadLetterOne(ctx, owner, b)
	if err != nil || !moved {
		return err
	}
	s.m.deadLettered.Inc()
	s.log.Error("connector: an item that no packet can carry moved to the dead-letter table; its line goes on",
		"line", b.lane.line, "command", b.command, "item", b.ids[0], "reason", reason)
	return nil
}

// cutBatch keeps the first k items of a claimed batch: the others stay queued for the next packet.
func (s *Store) cutBatch(ctx context.Context, owner string, b *batch, k int) error {
	if k <= 0 || k >= len(b.ids) {
		return nil
	}
	last := b.ids[k-1]
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
	b.ids, b.created, b.blobs, b.last = b.ids[:k], b.created[:k], b.blobs[:k], last
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
		first := l.firstFail
		if first == 0 {
			first = now
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO conn_dead (id, lane_id, site_id, line, command, connector, chat_id, msg_id, item,
			created_ms, dead_ms, attempts, first_fail_ms)
			SELECT id, lane_id, ?, ?, command, connector, chat_id, msg_id, item, created_ms, ?, ?, ? FROM conn_queue WHERE id = ?`,
			l.siteID, l.line, now, l.attempts, first, b.ids[0]); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM conn_queue WHERE id = ?`, b.ids[0]); err != nil {
			return err
		}
		moved = true
		return s.succeedTx(ctx, tx, l.id, now)
	})
	return moved, err
}

// checkDeliverable refuses webhook items that no packet to the site could carry (413): alone, each would
// make a packet over Config.PortalMaxBody. Only items large enough to come near the cap are encoded.
func (s *Server) checkDeliverable(site *siteRec, line string, ps []prepared) error {
	for i, p := range ps {
		// Stubs, base64 and form escapes make a packet at most ~14 times its serialized items, plus the
		// fields; an item below that bound fits without being encoded.
		if int64(len(p.blob))*14+4096 <= s.cfg.PortalMaxBody || shapeOf(p.command) == shapeEmpty {
			continue
		}
		b := &batch{lane: &lane{line: line}, command: p.command, connector: p.connector, ids: []int64{0}, blobs: [][]byte{p.blob}}
		body, skip, err := s.encodeBatch(site, b)
		if err != nil || skip {
			return err
		}
		if n := int64(len(body)); n > s.cfg.PortalMaxBody {
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
