package groupcommit

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
)

// TestCallersGather: callers arriving while a commit is in flight go together in the next commit, and each
// returns only once its own items are committed.
func TestCallersGather(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var rounds [][]int
	committed := map[int]bool{}
	entered := make(chan struct{})
	release := make(chan struct{})
	first := true
	c := New(func(_ context.Context, items []int) error {
		mu.Lock()
		lead := first
		first = false
		mu.Unlock()
		if lead {
			close(entered)
			<-release // hold the first commit until the others wait behind it
		}
		mu.Lock()
		defer mu.Unlock()
		rounds = append(rounds, slices.Clone(items))
		for _, it := range items {
			committed[it] = true
		}
		return nil
	})
	ctx := context.Background()
	errs := make(chan error, 10)
	go func() { errs <- c.Do(ctx, 0) }()
	<-entered
	var wg sync.WaitGroup
	for i := 1; i <= 9; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Do(ctx, i)
			mu.Lock()
			if err == nil && !committed[i] {
				err = errors.New("returned before its commit")
			}
			mu.Unlock()
			errs <- err
		}()
	}
	// The nine wait for the first commit; let it finish once all of them have queued.
	eventually.True(t, 10*time.Second, "nine calls to queue behind the first commit", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.next != nil && len(c.next.calls) == 9
	})
	close(release)
	wg.Wait()
	for i := 0; i < 10; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if len(rounds) != 2 || len(rounds[0]) != 1 || len(rounds[1]) != 9 {
		t.Fatalf("rounds %v, want [0] then the nine together", rounds)
	}
}

// TestFailedRoundRetriesEachCall: a round that fails is committed again call by call, so that only the call
// whose items fail gets an error.
func TestFailedRoundRetriesEachCall(t *testing.T) {
	t.Parallel()
	bad := errors.New("bad item")
	var mu sync.Mutex
	var commits [][]int
	c := New(func(_ context.Context, items []int) error {
		mu.Lock()
		commits = append(commits, slices.Clone(items))
		mu.Unlock()
		if slices.Contains(items, 13) {
			return bad
		}
		return nil
	})
	r := &round[int]{items: []int{1, 2, 13, 4}, calls: []call{{0, 2}, {2, 3}, {3, 4}}}
	r.run(context.Background(), c.commit)
	if r.callErr(0) != nil || !errors.Is(r.callErr(1), bad) || r.callErr(2) != nil {
		t.Fatalf("errors %v %v %v", r.callErr(0), r.callErr(1), r.callErr(2))
	}
	if len(commits) != 4 {
		t.Fatalf("commits %v, want the round and then each call", commits)
	}
	if err := c.Do(context.Background(), 13); !errors.Is(err, bad) {
		t.Fatalf("a lone call's error: %v", err)
	}
	if err := c.Do(context.Background()); err != nil {
		t.Fatal(err)
	}
}
