package portal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/olctl/olctl/sqldb"
)

// ErrNoTx is returned by Tx for a context that carries no event transaction: outside a subscriber, or in the
// subscriber of an event that is not kept in the portal's store (a typing notice, a status event).
var ErrNoTx = errors.New("portal: the context carries no event transaction")

// Tx returns the transaction in which the portal commits the result of the item whose event ctx carries:
// the ctx a subscriber of a message event (OnReceivedMessage, OnReceivedMessageUpdate, OnReceivedMessageDel,
// OnReceivedPost, OnReceivedPostUpdate, OnReceivedCommandStart) is called with. The first call opens it on
// the portal's database; the subscribers of the same delivery share it. A subscriber writes its action
// through it; once every subscriber returned nil, the portal marks the item done in the same transaction
// and commits it, so that the action and the record that the item fired are durable together or not at all.
// An error or panic of a subscriber, a crash or a failed commit rolls it back, and the item is tried again
// (docs/protocol.md §8.1): a backend that writes through Tx acts exactly once per item.
//
// The transaction is on the portal's own database (Config.DB, DSN or DataDir), so the backend's tables must
// live there. Keep it short and do not commit or roll it back: the portal does. On SQLite, the one writer of
// the file, a subscriber must not write to the database outside the transaction while it holds it.
func Tx(ctx context.Context) (*sqldb.Tx, error) {
	e, _ := ctx.Value(eventTxKey{}).(*eventTx)
	if e == nil {
		return nil, ErrNoTx
	}
	return e.get(ctx)
}

// eventTxKey is the context key of an attempt's eventTx.
type eventTxKey struct{}

// eventTx is the transaction of one attempt at a message item, opened by the first Tx call of its
// subscribers. It is opened after every step but the event (files, user, chat context), so that it lasts as
// long as the subscribers and the item's result.
type eventTx struct {
	db     *sqldb.DB
	writer *sync.Mutex // SQLite: held while the transaction is open; nil otherwise

	mu     sync.Mutex
	tx     *sqldb.Tx
	closed bool // the attempt's subscribers returned: no more Tx calls
}

func (e *eventTx) get(ctx context.Context) (*sqldb.Tx, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.tx != nil:
		return e.tx, nil
	case e.closed:
		return nil, ErrNoTx
	}
	if e.writer != nil {
		e.writer.Lock()
	}
	tx, err := e.db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		if e.writer != nil {
			e.writer.Unlock()
		}
		return nil, fmt.Errorf("portal: opening the event transaction: %w", err)
	}
	e.tx = tx
	return tx, nil
}

// take ends Tx calls and returns the transaction they opened, nil when none did.
func (e *eventTx) take() *sqldb.Tx {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return e.tx
}

// end releases the SQLite writer after the transaction committed or rolled back.
func (e *eventTx) end() {
	if e.writer != nil {
		e.writer.Unlock()
	}
}

// newEventTx returns the event transaction of one attempt, and ctx carrying it.
func (p *Portal) newEventTx(ctx context.Context) (context.Context, *eventTx) {
	e := &eventTx{db: p.db}
	if p.db.Dialect == sqldb.SQLite {
		e.writer = &p.sqliteWriter
	}
	return context.WithValue(ctx, eventTxKey{}, e), e
}

// commitEvent marks attempt on item id done in the event transaction e opened and commits it, or rolls it
// back when out is not outDone. It reports whether it committed the result; false with a nil error: the
// result was not written (the item failed, or a later attempt claimed it), and nothing of the subscribers'
// writes was kept.
func (p *Portal) commitEvent(ctx context.Context, e *eventTx, tx *sqldb.Tx, id int64, attempt int, out outcome, now time.Time) (bool, error) {
	defer e.end()
	defer func() { _ = tx.Rollback() }()
	if out != outDone {
		return false, nil
	}
	res, err := tx.ExecContext(ctx, finishDropQuery, int(itemDone), now.UnixMilli(), "", id, attempt)
	if err != nil {
		return false, fmt.Errorf("portal: recording the result of item %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err // a later attempt claimed the item: its delivery counts
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("portal: committing the event of item %d: %w", id, err)
	}
	return true, nil
}
