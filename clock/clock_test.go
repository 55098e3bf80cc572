package clock

import (
	"testing"
	"time"
)

func TestFakeAdvanceFiresDueTimersInOrder(t *testing.T) {
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
	if _, ok := Or(nil).(systemClock); !ok {
		t.Fatal("Or(nil) is not the system clock")
	}
	f := NewFake(time.Unix(1, 0))
	if Or(f) != Clock(f) {
		t.Fatal("Or(f) must return f")
	}
}
