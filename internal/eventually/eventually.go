// Package eventually is the one place the tests of olctl wait for something another goroutine or process
// does. True polls a condition until it holds and fails the test, naming what it waited for and how long,
// when it does not hold within a bound. It runs on real time because what it waits on (a server goroutine, a
// child process, a database) runs on real time. A wait on a back-off schedule or a replay window belongs to
// the fake clock (package clock) instead: the test moves the clock, it does not poll past the window.
package eventually

import (
	"testing"
	"time"
)

// The interval between two polls starts at firstPoll and doubles up to lastPoll: a condition that holds
// soon is seen within about a millisecond, one that takes seconds costs at most 50 polls a second.
const (
	firstPoll = time.Millisecond
	lastPoll  = 20 * time.Millisecond
)

// True returns once cond reports true, and fails t with t.Fatalf when it has not within the duration
// within. what names the condition for the failure message ("the portal to record the send"). cond is called
// from the calling goroutine only, at least once, and once more at the deadline.
func True(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for interval := firstPoll; !cond(); interval = min(2*interval, lastPoll) {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("timed out after %v waiting for %s", time.Since(start).Round(time.Millisecond), what)
			return // a testing.TB whose Fatalf returns (a fake) gets no further calls of cond
		}
		time.Sleep(min(interval, left))
	}
}
