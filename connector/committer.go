package connector

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/olctl/olctl/internal/groupcommit"
)

// enqueueReq is one caller's items for one lane.
type enqueueReq struct {
	siteID int64
	line   string
	ps     []prepared
	lane   int64      // set by the commit
	kept   []prepared // the items stored (new dedup keys)
}

// committer writes the enqueues of concurrent callers in shared transactions (internal/groupcommit): the
// callers that arrive while a commit is in flight go together in the next one. It also tells the
// dispatcher's linger (see Server.linger) what arrived: the items each lane got from this process's commits,
// and whether a webhook is being handled at all.
type committer struct {
	st *Store
	gc *groupcommit.Committer[*enqueueReq]
	// pending counts the callers between begin and the end of their enqueue (or done): while it is zero no
	// webhook is being handled, and a lingering dispatcher need not wait for more.
	pending atomic.Int32

	mu      sync.Mutex
	arrived map[int64]int64 // lane id → items committed
	changed chan struct{}   // closed (and replaced) whenever arrived or quiet may have changed
}

func newCommitter(st *Store) *committer {
	c := &committer{st: st, arrived: map[int64]int64{}, changed: make(chan struct{})}
	c.gc = groupcommit.New(c.commit)
	return c
}

// commit stores the requests of one round in one transaction. Lanes are locked in one order in every
// process (fewer deadlocks on MySQL); the sort is stable, so the requests of one line keep their order.
func (c *committer) commit(ctx context.Context, reqs []*enqueueReq) error {
	order := append([]*enqueueReq(nil), reqs...)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].siteID != order[j].siteID {
			return order[i].siteID < order[j].siteID
		}
		return order[i].line < order[j].line
	})
	err := c.st.write(ctx, func(tx *stx) error {
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
	if err != nil {
		return err
	}
	c.mu.Lock()
	for _, r := range reqs {
		c.arrived[r.lane] += int64(len(r.kept))
	}
	c.mu.Unlock()
	c.kick()
	return nil
}

// begin announces a caller that will probably enqueue soon (a webhook being handled); enqueue or done ends
// the announcement.
func (c *committer) begin() {
	if c.pending.Add(1) == 1 {
		c.kick() // no longer quiet
	}
}

// done ends the announcement of a caller that does not enqueue.
func (c *committer) done() {
	if c.pending.Add(-1) <= 0 {
		c.kick()
	}
}

// enqueue stores items for (site, line), together with the enqueues of concurrent callers, and returns the
// items kept once they are committed. The caller must have called begin.
func (c *committer) enqueue(ctx context.Context, siteID int64, line string, ps []prepared) ([]prepared, error) {
	defer c.done()
	r := &enqueueReq{siteID: siteID, line: line, ps: ps}
	if err := c.gc.Do(ctx, r); err != nil {
		return nil, err
	}
	return r.kept, nil
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
