package portal

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// RetryPolicy is how the portal retries an item that failed for a reason that may pass.
type RetryPolicy struct {
	// Schedule is the delay before each retry: the first after the item's first attempt, and so on. After
	// the last, a failing item is a dead letter (DeadLetters, Redrive). Default DefaultRetrySchedule.
	Schedule []time.Duration
	// Lease is how long an attempt may run before another process (or this one after a restart) may take the
	// item over; it must exceed the longest pipeline run (downloads included). Default DefaultLease.
	Lease time.Duration
	// Poll is how often the store is looked at for items that other processes left due. Default DefaultPoll.
	Poll time.Duration
}

// Defaults of RetryPolicy: the connector server's own back-off (docs/protocol.md §11), 11 attempts over a
// day.
var DefaultRetrySchedule = []time.Duration{time.Minute, 4 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 5 * time.Hour, 12 * time.Hour}

const (
	DefaultLease = 10 * time.Minute
	DefaultPoll  = time.Minute
)

func (r RetryPolicy) orDefault() (RetryPolicy, error) {
	if r.Schedule == nil {
		r.Schedule = DefaultRetrySchedule
	}
	for i, d := range r.Schedule {
		if d <= 0 {
			return r, fmt.Errorf("%w: Retry.Schedule[%d] is %v, want a positive delay", ErrConfig, i, d)
		}
	}
	if r.Lease == 0 {
		r.Lease = DefaultLease
	}
	if r.Poll == 0 {
		r.Poll = DefaultPoll
	}
	if r.Lease < 0 || r.Poll < 0 {
		return r, fmt.Errorf("%w: Retry.Lease and Retry.Poll must not be negative", ErrConfig)
	}
	return r, nil
}

// retrier runs the stored items that are due, one at a time, until stopped: it wakes when the earliest is
// due, when kicked (an item was scheduled or redriven), and every Poll.
type retrier struct {
	p     *Portal
	clock clock.Clock
	kickc chan struct{}
	stop  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	started bool
	stopped bool
}

func newRetrier(p *Portal) *retrier {
	return &retrier{p: p, clock: p.clock, kickc: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// start starts the retries, once, unless closed.
func (r *retrier) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return
	}
	r.started = true
	go r.run()
}

func (r *retrier) kick() {
	select {
	case r.kickc <- struct{}{}:
	default:
	}
}

// close stops the retrier and waits for the attempt in progress.
func (r *retrier) close() {
	r.mu.Lock()
	started := r.started
	if !r.stopped {
		r.stopped = true
		close(r.stop)
	}
	r.mu.Unlock()
	if started {
		<-r.done
	}
}

func (r *retrier) run() {
	defer close(r.done)
	ctx := context.Background()
	for {
		r.runDue(ctx, r.stop)
		wait := r.clock.After(r.p.retry.Poll)
		var due <-chan time.Time
		if next, ok, err := r.p.items.nextDue(ctx); err != nil {
			r.p.logger.Error("portal: reading the store for due items failed", "error", err)
		} else if ok {
			due = clock.Until(r.clock, next)
		}
		select {
		case <-r.stop:
			return
		case <-r.kickc:
		case <-wait:
		case <-due:
		}
	}
}

// runDue runs every item due now, until stop is closed.
func (r *retrier) runDue(ctx context.Context, stop <-chan struct{}) {
	for {
		items, err := r.p.items.dueItems(ctx, r.clock.Now(), 64)
		if err != nil {
			r.p.logger.Error("portal: reading due items failed", "error", err)
			return
		}
		if len(items) == 0 {
			return
		}
		for _, it := range items {
			select {
			case <-stop:
				return
			default:
			}
			claimed, err := r.p.items.claim(ctx, it, r.clock.Now(), r.p.retry.Lease)
			if err != nil {
				r.p.logger.Error("portal: claiming an item failed", "item", it.id, "error", err)
				return
			}
			if claimed {
				r.p.stats.retries.Add(1)
				r.p.retryItem(ctx, it, it.attempts+1)
			}
		}
	}
}

// retryItem runs attempt on a stored item.
func (p *Portal) retryItem(ctx context.Context, it storedItem, attempt int) {
	if it.command == openlines.CommandReceivingMessage {
		var item openlines.MessageItem
		if err := unserializeInto(it.body, &item); err != nil {
			p.settle(ctx, it.id, attempt, it.command, it.connector, it.line, outRejected,
				&wire.Error{Code: wire.CodeInternal, Message: "the stored item cannot be read", Err: err})
			return
		}
		p.attemptMessage(ctx, it.id, attempt, it.connector, it.line, &item)
		return
	}
	retry := retryers[it.command]
	if retry == nil {
		p.settle(ctx, it.id, attempt, it.command, it.connector, it.line, outRejected,
			wire.Errorf(wire.CodeInternal, "no retry for the command %q", it.command))
		return
	}
	out, err := retry(p, ctx, it.connector, it.line, it.body)
	p.settle(ctx, it.id, attempt, it.command, it.connector, it.line, out, err)
}

// itemCounters count what the portal did with items since New.
type itemCounters struct {
	fired, duplicates, rejected, failures, retries, dead atomic.Uint64
}

// ItemStats are the figures of the portal's store of items: what it holds now, and what this Portal did
// since New.
type ItemStats struct {
	Pending int64 `json:"pending"` // waiting for a retry (or being processed)
	Dead    int64 `json:"dead"`    // dead letters (DeadLetters)

	Fired      uint64 `json:"fired"`      // items processed: their events fired
	Duplicates uint64 `json:"duplicates"` // received again and skipped
	Rejected   uint64 `json:"rejected"`   // invalid for good (reported in the log)
	Failures   uint64 `json:"failures"`   // attempts that failed and were scheduled for a retry
	Retries    uint64 `json:"retries"`    // retries run
	DeadLetter uint64 `json:"dead_letters"`
}

// ItemStats returns the figures of the store of items.
func (p *Portal) ItemStats(ctx context.Context) (ItemStats, error) {
	pending, dead, err := p.items.counts(ctx)
	return ItemStats{Pending: pending, Dead: dead, Fired: p.stats.fired.Load(), Duplicates: p.stats.duplicates.Load(),
		Rejected: p.stats.rejected.Load(), Failures: p.stats.failures.Load(), Retries: p.stats.retries.Load(),
		DeadLetter: p.stats.dead.Load()}, err
}

// DeadLetter is an item that failed its last retry. Redrive it once the cause is fixed.
type DeadLetter struct {
	ID        int64     `json:"id"`
	Command   string    `json:"command"`
	Connector string    `json:"connector"`
	Line      string    `json:"line"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	Received  time.Time `json:"received"`
	Died      time.Time `json:"died"`
	// Item is the item as received, decoded (maps as *wire.Map, in their order); nil for deactivateConnector.
	Item any `json:"item"`
}

// DeadLetters returns up to limit dead letters with an id above after, in id order (limit <= 0: 100). Page
// through them by passing the last id seen.
func (p *Portal) DeadLetters(ctx context.Context, after int64, limit int) ([]DeadLetter, error) {
	return deadLetters(ctx, p.items, after, limit)
}

// Redrive makes the dead letters ids pending again, to be tried at once with a fresh retry schedule, and
// returns how many of them were dead letters.
func (p *Portal) Redrive(ctx context.Context, ids ...int64) (int, error) {
	n, err := p.items.redrive(ctx, ids, p.clock.Now())
	if n > 0 {
		p.logger.Info("portal: dead letters redriven", "items", n)
		p.retrier.kick()
	}
	return n, err
}

// PruneItems forgets the items that finished (processed or rejected) more than age ago and returns how many.
// Run it daily with an age of a few days: an item forgotten is no longer known as a duplicate, and the
// connector server gives an item up a day after its first attempt (docs/protocol.md §11).
func (p *Portal) PruneItems(ctx context.Context, age time.Duration) (int64, error) {
	return p.items.prune(ctx, p.clock.Now().Add(-age))
}
