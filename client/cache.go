package client

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/olctl/olctl/clock"
)

// cache keeps the answers of ListConnector, InfoConnect and InfoConnectLink per (method, connector, line) for
// a TTL. Concurrent misses of one key share one request (singleflight). invalidate drops everything and bumps
// a generation: a request that was in flight during an invalidation does not store its (possibly stale)
// answer, and callers arriving after it start a new request instead of joining the old one.
type cache struct {
	clock clock.Clock
	ttl   time.Duration
	group singleflight.Group

	mu      sync.Mutex
	gen     uint64
	entries map[string]cacheEntry
	hits    uint64
	misses  uint64

	waiting atomic.Int64 // callers waiting on a request (tests use it to know all have joined)
}

type cacheEntry struct {
	value   any
	expires time.Time
}

func newCache(clk clock.Clock, ttl time.Duration) *cache {
	return &cache{clock: clk, ttl: ttl, entries: map[string]cacheEntry{}}
}

// get returns the cached value of key, or fetches it (once for all concurrent callers). The fetch runs on a
// context detached from the caller's cancellation, so one caller giving up does not fail the others; each
// caller still returns as soon as its own context ends.
func (c *cache) get(ctx context.Context, key string, fresh bool, fetch func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()
	if !fresh {
		if e, ok := c.entries[key]; ok {
			if c.clock.Now().Before(e.expires) {
				c.hits++
				c.mu.Unlock()
				return e.value, nil
			}
			delete(c.entries, key)
		}
	}
	c.misses++
	gen := c.gen
	c.mu.Unlock()

	flightKey := key + "\x00" + strconv.FormatUint(gen, 10)
	if fresh {
		flightKey += "\x00fresh"
	}
	ch := c.group.DoChan(flightKey, func() (any, error) {
		v, err := fetch(context.WithoutCancel(ctx))
		if err == nil && c.ttl > 0 {
			c.mu.Lock()
			if c.gen == gen {
				c.entries[key] = cacheEntry{value: v, expires: c.clock.Now().Add(c.ttl)}
			}
			c.mu.Unlock()
		}
		return v, err
	})
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *cache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
}

// CacheStats are the counters of the client's cache.
type CacheStats struct {
	Hits    uint64 // answers served from the cache
	Misses  uint64 // lookups that went (or joined a request) to the server
	Entries int    // answers held now
}

// CacheStats returns the cache counters.
func (c *Client) CacheStats() CacheStats {
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	return CacheStats{Hits: c.cache.hits, Misses: c.cache.misses, Entries: len(c.cache.entries)}
}

// InvalidateCache drops every cached answer of ListConnector, InfoConnect and InfoConnectLink.
func (c *Client) InvalidateCache() { c.cache.invalidate() }
