package eventually

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTB records what True reports; its Fatalf returns instead of ending the goroutine.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }

const never = math.MaxInt32

func TestTrue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		within   time.Duration
		trueFrom int32         // cond holds from this call on
		fails    bool          // True reports a failure
		atLeast  time.Duration // True waits at least this long
	}{
		{name: "at once", within: time.Second, trueFrom: 1},
		{name: "after some polls", within: 5 * time.Second, trueFrom: 10},
		{name: "never", within: 50 * time.Millisecond, trueFrom: never, fails: true, atLeast: 50 * time.Millisecond},
		{name: "zero bound, true at once", within: 0, trueFrom: 1},
		{name: "zero bound, never", within: 0, trueFrom: never, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			f := &fakeTB{TB: t}
			start := time.Now()
			True(f, tt.within, "the thing", func() bool { return calls.Add(1) >= tt.trueFrom })
			took := time.Since(start)
			switch {
			case !tt.fails && f.fatal != "":
				t.Fatalf("failed: %s", f.fatal)
			case tt.fails && (!strings.HasPrefix(f.fatal, "timed out after ") || !strings.HasSuffix(f.fatal, " waiting for the thing")):
				t.Fatalf("failure %q, want \"timed out after <d> waiting for the thing\"", f.fatal)
			case took < tt.atLeast:
				t.Fatalf("returned after %v, want at least %v", took, tt.atLeast)
			case !tt.fails && calls.Load() != tt.trueFrom:
				t.Fatalf("cond called %d times, want %d", calls.Load(), tt.trueFrom)
			case tt.fails && calls.Load() < 1:
				t.Fatal("cond never called")
			}
		})
	}
}
