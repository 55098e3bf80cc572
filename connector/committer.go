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
// The requests of one line are stored together, as one request of all their items in order, and the
// lines together (enqueueLanes): a round is a few statements, however many webhooks and lines it holds.
// On MySQL and PostgreSQL each statement is a round trip while the round holds its lanes' locks; a
// statement per request made the round's length grow with its size, and bounded a process's webhooks
// (and every process's, as they wait for the same lanes) to a few hundred per second.
func (c *committer) commit(ctx context.Context, reqs []*enqueueReq) error {
	order := append([]*enqueueReq(nil), reqs...)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].siteID != order[j].siteID {
			return order[i].siteID < order[j].siteID
		}
		return order[i].line < order[j].line
	})
	var groups [][]*enqueueReq // the requests of each line
	var lines []*laneItems     // and their items together
	for start := 0; start < len(order); {
		end := start + 1
		for end < len(order) && order[end].siteID == order[start].siteID && order[end].line == order[start].line {
			end++
		}
		group := order[start:end]
		start = end
		l := &laneItems{siteID: group[0].siteID, line: group[0].line, ps: group[0].ps}
		if len(group) > 1 {
			l.ps = nil
			for _, r := range group {
				l.ps = append(l.ps, r.ps...)
			}
		}
		groups, lines = append(groups, group), append(lines, l)
	}
	err := c.st.write(ctx, func(tx *stx) error {
		if err := c.st.enqueueLanes(ctx, tx, &c.st.lanes, lines, c.st.nowMS()); err != nil {
			return err
		}
		for i, l := range lines {
			splitKept(groups[i], l.lane, l.kept)
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

// splitKept hands the items kept of a line's requests, stored together, back to each request: an item
// without a dedup key is kept, and of the items with one key the first is kept when the key is among
// those kept (enqueueLanes keeps the first of a new key and drops the rest).
func splitKept(group []*enqueueReq, lane int64, kept []prepared) {
	if len(group) == 1 {
		group[0].lane, group[0].kept = lane, kept
		return
	}
	fresh := make(map[string]bool, len(kept))
	for _, p := range kept {
		if p.dkey != "" {
			fresh[p.dkey] = true
		}
	}
	for _, r := range group {
		r.lane, r.kept = lane, make([]prepared, 0, len(r.ps))
		for _, p := range r.ps {
			if p.dkey != "" {
				if !fresh[p.dkey] {
					continue
				}
				delete(fresh, p.dkey) // a later item with this key is a duplicate
			}
			r.kept = append(r.kept, p)
		}
	}
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
