package clock

import (
	"testing"
	"time"
)

func TestFakeAdvanceFiresDueTimersInOrder(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	f := NewFake(start)
	a := f.After(2 * time.Minute)
	b := f.After(time.Minute)
	if f.Waiters() != 2 {
		t.Fatalf("waiters = %d, want 2", f.Waiters())
	}
	f.Advance(time.Minute)
	select {
	case got := <-b:
		if !got.Equal(start.Add(time.Minute)) {
			t.Fatalf("b fired at %v", got)
		}
	default:
		t.Fatal("b did not fire after 1m")
	}
	select {
	case <-a:
		t.Fatal("a fired early")
	default:
	}
	f.Advance(time.Minute)
	select {
	case <-a:
	default:
		t.Fatal("a did not fire after 2m")
	}
	if f.Waiters() != 0 {
		t.Fatalf("waiters = %d, want 0", f.Waiters())
	}
}

func TestFakeNeverGoesBack(t *testing.T) {
	t.Parallel()
	start := time.Unix(100, 0)
	f := NewFake(start)
	f.Set(time.Unix(50, 0))
	if !f.Now().Equal(start) {
		t.Fatalf("clock went back to %v", f.Now())
	}
	if ch := f.After(0); len(ch) != 1 {
		t.Fatal("After(0) must fire at once")
	}
}

func TestOrDefaultsToSystem(t *testing.T) {
	t.Parallel()
	if _, ok := Or(nil).(systemClock); !ok {
		t.Fatal("Or(nil) is not the system clock")
	}
	f := NewFake(time.Unix(1, 0))
	if Or(f) != Clock(f) {
		t.Fatal("Or(f) must return f")
	}
}

// afterOnly is a Clock without AfterTime: Until falls back to After(t - Now()).
type afterOnly struct{ *Fake }

func (a afterOnly) After(d time.Duration) <-chan time.Time { return a.Fake.After(d) }
func (a afterOnly) Now() time.Time                         { return a.Fake.Now() }

func TestUntil(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	at := start.Add(time.Minute)
	fired := func(ch <-chan time.Time) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	for _, c := range []struct {
		name string
		clk  func(f *Fake) Clock
	}{
		{"Fake (AfterTime)", func(f *Fake) Clock { return f }},
		{"a clock with After only", func(f *Fake) Clock { return afterOnly{f} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := NewFake(start)
			ch := Until(c.clk(f), at)
			f.Set(at.Add(-time.Millisecond))
			if fired(ch) {
				t.Fatal("fired before t")
			}
			f.Set(at)
			if !fired(ch) {
				t.Fatal("did not fire at t")
			}
			if !fired(Until(c.clk(f), start)) {
				t.Fatal("a moment already past must fire at once")
			}
		})
	}
	// The race Until closes: the time is read (start), then set to the deadline by another goroutine, then
	// the timer is armed. After(at - the time read) would wait for at + 1 min; AfterTime fires at once.
	f := NewFake(start)
	read := f.Now()
	f.Set(at)
	if fired(f.After(at.Sub(read))) {
		t.Fatal("After fired: the test no longer shows the race")
	}
	if !fired(Until(f, at)) {
		t.Fatal("Until missed a deadline the clock had reached while the timer was armed")
	}
}
