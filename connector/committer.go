package connector

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// enqueueReq is one caller's items waiting for the group committer.
type enqueueReq struct {
	siteID int64
	line   string
	ps     []prepared
	lane   int64      // set by the commit
	kept   []prepared // the items stored (new dedup keys)
	err    error
	done   chan struct{}
}

// committer writes the enqueue requests of concurrent callers in shared transactions (group commit): one
// transaction per round instead of one per webhook. When a shared transaction fails, its requests are
// retried one by one so that one cannot fail the others.
//
// Like PostgreSQL's commit_delay, the committer waits a little for more requests, but only when other
// enqueuing callers are already on their way (active counts them): a lone webhook is committed at once.
type committer struct {
	st   *Store
	reqs chan *enqueueReq
	stop chan struct{}
	// active counts the callers on their way: between begin and the moment the committer takes their
	// request. A request taken (in the group being built or committed) no longer counts, or the committer
	// would linger for callers who are only waiting for its own commit.
	active atomic.Int32
	// pending counts the callers between begin and the end of their enqueue (or done): while it is zero no
	// webhook is being handled, and a lingering dispatcher need not wait for more.
	pending atomic.Int32

	// What the dispatcher's linger watches (see Server.linger): the items each lane got from this
	// process's commits, and a channel closed (and replaced) whenever that count or quiet may have changed.
	mu      sync.Mutex
	arrived map[int64]int64 // lane id → items committed
	changed chan struct{}
}

func newCommitter(st *Store) *committer {
	return &committer{st: st, reqs: make(chan *enqueueReq, 1024), stop: make(chan struct{}),
		arrived: map[int64]int64{}, changed: make(chan struct{})}
}

// arrivals returns how many items this process committed to a lane so far, and a channel closed at the
// next change of that count or of quiet.
func (c *committer) arrivals(lane int64) (int64, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.arrived[lane], c.changed
}

// quiet reports that no enqueuing caller is being handled.
func (c *committer) quiet() bool { return c.pending.Load() <= 0 }

// kick wakes the watchers of arrivals.
func (c *committer) kick() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// leave ends a caller's pending state (see begin); the last one makes the committer quiet.
func (c *committer) leave() {
	if c.pending.Add(-1) <= 0 {
		c.kick()
	}
}

const (
	// maxGroup bounds the items of one group transaction.
	maxGroup = 2000
	// maxLinger bounds the wait for more requests (real time: it only shapes batching, never behaviour).
	maxLinger = time.Millisecond
)

// run commits requests until stop is closed.
func (c *committer) run() {
	for {
		var first *enqueueReq
		select {
		case <-c.stop:
			return
		case first = <-c.reqs:
		}
		c.active.Add(-1)
		group := []*enqueueReq{first}
		items := len(first.ps)
		var linger *time.Timer
	more:
		for items < maxGroup {
			select {
			case r := <-c.reqs:
				group, items = c.took(group, r, items)
				continue
			default:
			}
			if c.active.Load() <= 0 { // nobody else is on the way: do not wait for nothing
				break
			}
			if linger == nil {
				linger = time.NewTimer(maxLinger)
			}
			select {
			case r := <-c.reqs:
				group, items = c.took(group, r, items)
			case <-linger.C:
				break more
			case <-c.stop:
				break more
			}
		}
		if linger != nil {
			linger.Stop()
		}
		c.commit(group, true)
	}
}

// took adds a request taken from the queue to a group of items items: it is no longer on its way.
func (c *committer) took(group []*enqueueReq, r *enqueueReq, items int) ([]*enqueueReq, int) {
	c.active.Add(-1)
	return append(group, r), items + len(r.ps)
}

// commit writes a group of requests. With late (SQLite), the requests that came while the group waited for
// the writer's turn (often behind a dispatcher's write) join it when its transaction starts, instead of
// waiting for the next round and its commit. (On MySQL the group's lanes must be locked in order.)
func (c *committer) commit(group []*enqueueReq, late bool) {
	ctx := context.Background() // a request's own context only bounds its wait: a started round completes
	// Lanes are locked in one order in every process (fewer deadlocks on MySQL); the sort is stable, so
	// the requests of one line keep their arrival order.
	order := append([]*enqueueReq(nil), group...)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].siteID != order[j].siteID {
			return order[i].siteID < order[j].siteID
		}
		return order[i].line < order[j].line
	})
	late = late && c.st.sqlite()
	err := c.st.write(ctx, func(tx *stx) error {
		if late { // once: a retry runs the same group
			late = false
			items := 0
			for _, r := range group {
				items += len(r.ps)
			}
		more:
			for items < maxGroup {
				select {
				case r := <-c.reqs:
					group, items = c.took(group, r, items)
					order = append(order, r)
				default:
					break more
				}
			}
		}
		now := c.st.nowMS()
		for _, r := range order {
			lane, kept, err := c.st.enqueuePrepared(ctx, tx, &c.st.lanes, r.siteID, r.line, r.ps, now)
			if err != nil {
				return err
			}
			r.lane, r.kept = lane, kept
		}
		return nil
	})
	if err != nil && len(group) > 1 {
		for _, r := range group {
			c.commit([]*enqueueReq{r}, false)
		}
		return
	}
	if err == nil {
		c.mu.Lock()
		for _, r := range group {
			c.arrived[r.lane] += int64(len(r.kept))
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
	for _, r := range group {
		r.err = err
		if err != nil {
			r.kept = nil
		}
		close(r.done)
	}
}

// begin announces a caller that will probably enqueue soon; the committer ends the announcement when it
// takes the request (enqueue ends it when the request cannot be handed over), and done must end it when
// the caller does not enqueue.
func (c *committer) begin() {
	c.active.Add(1)
	if c.pending.Add(1) == 1 {
		c.kick() // no longer quiet
	}
}

func (c *committer) done() {
	c.active.Add(-1)
	c.leave()
}

// enqueue queues items through the committer and waits until they are committed (or refused). The caller
// must have called begin.
func (c *committer) enqueue(ctx context.Context, siteID int64, line string, ps []prepared) ([]prepared, error) {
	defer c.leave()
	r := &enqueueReq{siteID: siteID, line: line, ps: ps, done: make(chan struct{})}
	select {
	case c.reqs <- r: // the committer ends the announcement when it takes r
	case <-ctx.Done():
		c.active.Add(-1)
		return nil, ctx.Err()
	case <-c.stop:
		c.active.Add(-1)
		return nil, errors.New("connector: server closed")
	}
	select {
	case <-r.done:
		return r.kept, r.err
	case <-c.stop:
		select {
		case <-r.done: // its round had started
			return r.kept, r.err
		default:
			return nil, errors.New("connector: server closed")
		}
	}
}
