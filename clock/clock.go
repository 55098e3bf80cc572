// Package clock is the time source that every time-dependent part of olctl takes by injection: the replay
// window of hardened signatures, the back-off schedule of the connector server's queue, cache lifetimes and
// retry delays. Production code uses System(); tests use a Fake and move it forward instead of sleeping.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// System returns the real wall clock.
func System() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Until returns a channel that receives the time once c reaches t, at once when it has. A clock that arms a
// timer for a moment itself (the Fake's AfterTime) does it in one step; otherwise Until reads the time and
// arms After with the difference. Against a Fake, the second way could miss t: a Set between reading the time
// and arming the timer would put the deadline past t, and a test that then waits at t would wait forever.
func Until(c Clock, t time.Time) <-chan time.Time {
	if a, ok := c.(interface {
		AfterTime(t time.Time) <-chan time.Time
	}); ok {
		return a.AfterTime(t)
	}
	return c.After(t.Sub(c.Now()))
}

// Or returns c, or the system clock when c is nil. Constructors use it to default an optional clock.
func Or(c Clock) Clock {
	if c == nil {
		return System()
	}
	return c
}

// Fake is a manually driven clock for tests. Its time moves only through Set and Advance; timers made by
// After fire when the fake time reaches their deadline. The zero value is not usable: use NewFake.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake returns a Fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After returns a channel that receives the fake time once it has moved d forward.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.arm(f.now.Add(d))
}

// AfterTime returns a channel that receives the fake time once it reaches t, at once when it has (see Until).
func (f *Fake) AfterTime(t time.Time) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.arm(t)
}

// arm returns a timer channel for at; f.mu is held.
func (f *Fake) arm(at time.Time) <-chan time.Time {
	ch := make(chan time.Time, 1)
	if !at.After(f.now) {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: at, ch: ch})
	return ch
}

// Advance moves the fake time forward by d and fires the timers that are due.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the fake time to t (never backwards) and fires the timers that are due, earliest first.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Before(f.now) {
		return
	}
	f.now = t
	sort.SliceStable(f.waiters, func(i, j int) bool { return f.waiters[i].at.Before(f.waiters[j].at) })
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.at.After(t) {
			w.ch <- t
			continue
		}
		kept = append(kept, w)
	}
	f.waiters = kept
}

// Waiters reports how many timers are pending; tests use it to wait until a goroutine is blocked on the clock.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}
