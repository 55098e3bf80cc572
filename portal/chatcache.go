package portal

import (
	"context"
	"sync"
	"time"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/clock"
)

// Defaults of the cache in front of the Bot Framework chat context store.
const (
	DefaultChatContextTTL  = 10 * time.Minute
	DefaultChatContextSize = 10_000
)

// chatCache remembers the contexts it wrote, so that the next items of a chat, which carry the same context,
// cost no database access (docs/protocol.md §8.4: only a changed context is written; this skips the read too).
// Another process sharing the database may change a context meanwhile: an entry is trusted for ttl only.
type chatCache struct {
	store bfcontext.Store
	clock clock.Clock
	ttl   time.Duration // <= 0: no cache
	max   int
	locks keyedMutex

	mu sync.Mutex
	m  map[[2]string]chatEntry
}

type chatEntry struct {
	c  bfcontext.Context
	at time.Time
}

func newChatCache(store bfcontext.Store, clk clock.Clock, ttl time.Duration, max int) *chatCache {
	if max <= 0 {
		max = DefaultChatContextSize
	}
	return &chatCache{store: store, clock: clock.Or(clk), ttl: ttl, max: max, m: map[[2]string]chatEntry{}}
}

// put stores c unless the cache knows it is stored already. Writes of one chat are serialised, so that the
// cache never holds an older context than the store.
func (cc *chatCache) put(ctx context.Context, c bfcontext.Context) error {
	if cc.ttl <= 0 {
		_, err := cc.store.Put(ctx, c)
		return err
	}
	k := [2]string{c.ChatID, c.Connector}
	unlock := cc.locks.lock(k[0] + "\x00" + k[1])
	defer unlock()
	now := cc.clock.Now()
	cc.mu.Lock()
	e, ok := cc.m[k]
	cc.mu.Unlock()
	if ok && e.c.Equal(c) && now.Sub(e.at) < cc.ttl {
		return nil
	}
	if _, err := cc.store.Put(ctx, c); err != nil {
		cc.mu.Lock()
		delete(cc.m, k)
		cc.mu.Unlock()
		return err
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if _, ok := cc.m[k]; !ok && len(cc.m) >= cc.max {
		for old := range cc.m { // evict an arbitrary entry
			delete(cc.m, old)
			break
		}
	}
	cc.m[k] = chatEntry{c: c, at: now}
	return nil
}
