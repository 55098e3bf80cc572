// Package groupcommit writes the work of concurrent callers in shared transactions (group commit): while one
// commit is in flight, the callers that arrive gather, and the next commit takes all of them at once. A lone
// caller is committed at once, with no timer; under load the number of commits stays near the number a
// database can make in a row, instead of one per caller. This is what lets a store on SQLite or MySQL keep up
// with many concurrent writers that each need their write durable before they go on.
package groupcommit

import (
	"context"
	"sync"
)

// Committer commits the items of concurrent Do calls together. Safe for concurrent use.
type Committer[T any] struct {
	commit func(ctx context.Context, items []T) error

	mu       sync.Mutex
	cond     *sync.Cond
	next     *round[T] // the round gathering; nil when none
	flushing bool      // a round is being committed
}

// round is the items of the Do calls that gathered while another commit was in flight.
type round[T any] struct {
	items []T
	calls []call
	done  bool
	err   error   // the shared commit's error
	errs  []error // when it failed: each call's own commit's
}

// call is the part of a round one Do call gave.
type call struct{ start, end int }

// New returns a Committer that writes with commit: commit must make all of items durable in one transaction
// or none of them, and return nil only once they are. When a round of several calls fails, each call is
// committed again on its own, so that one caller's bad items cannot fail the others.
func New[T any](commit func(ctx context.Context, items []T) error) *Committer[T] {
	c := &Committer[T]{commit: commit}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Do commits items, together with those of the calls made at the same time, and returns once they are
// durable or their commit failed. The commit runs without ctx's cancellation: items handed over are
// committed even if this caller gives up.
func (c *Committer[T]) Do(ctx context.Context, items ...T) error {
	if len(items) == 0 {
		return nil
	}
	c.mu.Lock()
	if c.next == nil {
		c.next = &round[T]{}
	}
	r := c.next
	i := len(r.calls)
	r.calls = append(r.calls, call{len(r.items), len(r.items) + len(items)})
	r.items = append(r.items, items...)
	for c.flushing && !r.done {
		c.cond.Wait()
	}
	if r.done {
		c.mu.Unlock()
		return r.callErr(i)
	}
	// Lead: commit the round (everything gathered so far) while the next one gathers.
	c.flushing = true
	c.next = nil
	c.mu.Unlock()

	r.run(context.WithoutCancel(ctx), c.commit)

	c.mu.Lock()
	r.done = true
	c.flushing = false
	c.cond.Broadcast()
	c.mu.Unlock()
	return r.callErr(i)
}

func (r *round[T]) run(ctx context.Context, commit func(context.Context, []T) error) {
	err := commit(ctx, r.items)
	if err == nil || len(r.calls) == 1 {
		r.err = err
		return
	}
	r.errs = make([]error, len(r.calls))
	for i, cl := range r.calls {
		r.errs[i] = commit(ctx, r.items[cl.start:cl.end])
	}
}

func (r *round[T]) callErr(i int) error {
	if r.errs != nil {
		return r.errs[i]
	}
	return r.err
}
