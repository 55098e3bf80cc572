package connector

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/olctl/olctl/wire"
)

// LaneStats describes the queue of one (site, line).
type LaneStats struct {
	Site         string    `json:"site"` // the portal's domain
	Licence      string    `json:"licence"`
	Profile      string    `json:"profile"` // the site's generation: legacy or current (docs/protocol.md §11)
	Line         string    `json:"line"`
	Pending      int       `json:"pending"`
	State        string    `json:"state"` // idle, ready, sending, awaiting, blocked
	Attempts     int       `json:"attempts"`
	FirstFailure time.Time `json:"first_failure,omitzero"`
	NextAt       time.Time `json:"next_at,omitzero"` // end of the block or confirmation deadline
	Dead         int       `json:"dead"`
}

// QueueStats summarises the queue.
type QueueStats struct {
	Lines   []LaneStats `json:"lines"`
	Pending int         `json:"pending"`
	Blocked int         `json:"blocked"`
	Dead    int         `json:"dead"`
}

// QueueStats returns the state of every line that has or had queued items.
func (s *Store) QueueStats(ctx context.Context) (QueueStats, error) {
	var st QueueStats
	rows, err := s.db.QueryContext(ctx, `SELECT l.id, s.domain, s.licence, s.profile, s.version, l.line, l.idle, l.state, l.attempts, l.first_fail_ms, l.next_at_ms,
		l.lease_owner, l.lease_until_ms,
		(SELECT COUNT(*) FROM conn_queue q WHERE q.lane_id = l.id),
		(SELECT COUNT(*) FROM conn_dead d WHERE d.lane_id = l.id)
		FROM conn_lane l JOIN conn_site s ON s.id = l.site_id ORDER BY s.domain, l.line`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	now := s.nowMS()
	for rows.Next() {
		var (
			id, firstFail, nextAt, leaseUntil int64
			idle, state                       int
			owner, profile, version           string
			ls                                LaneStats
		)
		if err := rows.Scan(&id, &ls.Site, &ls.Licence, &profile, &version, &ls.Line, &idle, &state, &ls.Attempts, &firstFail, &nextAt, &owner, &leaseUntil, &ls.Pending, &ls.Dead); err != nil {
			return st, err
		}
		ls.Profile = (&siteRec{site: Site{Profile: SiteProfile(profile)}, version: version}).generation().String()
		switch {
		case owner != "" && leaseUntil > now:
			ls.State = "sending"
		case state == stateBlocked:
			ls.State = "blocked"
			ls.NextAt = time.UnixMilli(nextAt)
		case state == stateAwaiting:
			ls.State = "awaiting"
			ls.NextAt = time.UnixMilli(nextAt)
		case ls.Pending == 0 || idle == 1:
			ls.State = "idle"
		default:
			ls.State = "ready"
		}
		if firstFail > 0 {
			ls.FirstFailure = time.UnixMilli(firstFail)
		}
		if ls.State == "blocked" {
			st.Blocked++
		}
		st.Pending += ls.Pending
		st.Dead += ls.Dead
		st.Lines = append(st.Lines, ls)
	}
	return st, rows.Err()
}

// QueueFilter selects queued or dead items.
type QueueFilter struct {
	// Site is a portal domain or licence; empty means all.
	Site string
	// Line is a line id; empty means all.
	Line string
	// AfterID lists items with a greater id only (paging).
	AfterID int64
	// Limit caps the items returned; 0 means 100.
	Limit int
}

// QueuedItem is one queued (or dead) item.
type QueuedItem struct {
	ID        int64     `json:"id"`
	Site      string    `json:"site"`
	Line      string    `json:"line"`
	Command   string    `json:"command"`
	Connector string    `json:"connector"`
	ChatID    string    `json:"chat_id,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Item      any       `json:"item"` // as decoded from the stored PHP serialization (*wire.Map, []any, …)
	Created   time.Time `json:"created"`
	// Dead-letter fields.
	DeadAt       time.Time `json:"dead_at,omitzero"`
	Attempts     int       `json:"attempts,omitempty"`
	FirstFailure time.Time `json:"first_failure,omitzero"`
}

// QueueList lists queued items in order.
func (s *Store) QueueList(ctx context.Context, f QueueFilter) ([]QueuedItem, error) {
	return s.list(ctx, f, false)
}

// DeadLetters lists dead-lettered items in order.
func (s *Store) DeadLetters(ctx context.Context, f QueueFilter) ([]QueuedItem, error) {
	return s.list(ctx, f, true)
}

func (s *Store) list(ctx context.Context, f QueueFilter, dead bool) ([]QueuedItem, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var q string
	if dead {
		q = `SELECT d.id, s.domain, d.line, d.command, d.connector, d.chat_id, d.msg_id, d.item, d.created_ms, d.dead_ms, d.attempts, d.first_fail_ms
			FROM conn_dead d JOIN conn_site s ON s.id = d.site_id WHERE d.id > ?`
	} else {
		q = `SELECT d.id, s.domain, l.line, d.command, d.connector, d.chat_id, d.msg_id, d.item, d.created_ms, 0, 0, 0
			FROM conn_queue d JOIN conn_lane l ON l.id = d.lane_id JOIN conn_site s ON s.id = l.site_id WHERE d.id > ?`
	}
	args := []any{f.AfterID}
	if f.Site != "" {
		q += ` AND (s.domain = ? OR s.licence = ?)`
		args = append(args, f.Site, strings.ToLower(f.Site))
	}
	if f.Line != "" {
		if dead {
			q += ` AND d.line = ?`
		} else {
			q += ` AND l.line = ?`
		}
		args = append(args, f.Line)
	}
	q += ` ORDER BY d.id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []QueuedItem
	for rows.Next() {
		var it QueuedItem
		var blob []byte
		var created, deadAt, firstFail int64
		if err := rows.Scan(&it.ID, &it.Site, &it.Line, &it.Command, &it.Connector, &it.ChatID, &it.MessageID, &blob, &created, &deadAt, &it.Attempts, &firstFail); err != nil {
			return nil, err
		}
		v, err := wire.Unserialize(blob)
		if err != nil {
			return nil, fmt.Errorf("connector: stored item %d: %w", it.ID, err)
		}
		it.Item = v
		it.Created = time.UnixMilli(created)
		if dead {
			it.DeadAt = time.UnixMilli(deadAt)
			if firstFail > 0 {
				it.FirstFailure = time.UnixMilli(firstFail)
			}
		}
		out = append(out, it)
	}
	return out, rows.Err()
}
