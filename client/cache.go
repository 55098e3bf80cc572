package client

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// cache keeps the successful answers of the info… and list… methods (docs/protocol.md §10: Bitrix keeps
// listConnector's 24 h) per (method, connector, line, arguments), each tagged with the line it is about, so
// that a line's entries can be dropped when its connector changes. A forget bumps a generation: an answer
// fetched while a forget ran is not stored, since it may predate the change.
type cache struct {
	clock clock.Clock
	ttl   time.Duration

	mu      sync.Mutex
	gen     uint64
	entries map[string]cacheEntry
}

type cacheEntry struct {
	res       Result
	connector string // CONNECTOR as sent
	line      string // the line the answer is about
	expires   time.Time
}

// sweepAt is the number of entries past which an insert first drops the expired ones.
const sweepAt = 1024

func newCache(clk clock.Clock, ttl time.Duration) *cache {
	return &cache{clock: clk, ttl: ttl, entries: map[string]cacheEntry{}}
}

// cached reports whether a method's answers are kept: the read-only info… and list… methods, not
// testConnect (a check must reach the server) nor readSettings.
func cachedMethod(method string) bool {
	return openlines.IsReadOnly(method) && !strings.EqualFold(method, openlines.MethodTestConnect) &&
		!strings.EqualFold(method, openlines.MethodReadSettings)
}

// cacheKey names one call: the method in any case, CONNECTOR, LINE and the serialized arguments.
func cacheKey(method string, cc callConfig, args []any) string {
	ser, _ := wire.Serialize(args) // an argument that does not serialize fails the call before it is stored
	return strings.ToLower(method) + "\x00" + cc.connector + "\x00" + cc.line + "\x00" + string(ser)
}

// subjectLine is the line a call is about: the argument of deleteLine and infoConnectorsLine, which go out
// with an empty LINE, else LINE.
func subjectLine(method string, cc callConfig, args []any) string {
	if (strings.EqualFold(method, openlines.MethodDeleteLine) || strings.EqualFold(method, openlines.MethodInfoConnectorsLine)) &&
		len(args) > 0 {
		var s string
		if wire.Bind(args[0], &s) == nil {
			return s
		}
	}
	return cc.line
}

// get returns the stored answer of key, or fetches and stores it. Each caller gets its own copy.
func (c *cache) get(key, line string, cc callConfig, fetch func() (*Result, error)) (*Result, error) {
	if c.ttl <= 0 {
		return fetch()
	}
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && !cc.fresh && c.clock.Now().Before(e.expires) {
		c.mu.Unlock()
		return e.res.clone(), nil
	}
	gen := c.gen
	c.mu.Unlock()
	res, err := fetch()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		now := c.clock.Now()
		if len(c.entries) >= sweepAt {
			maps.DeleteFunc(c.entries, func(_ string, e cacheEntry) bool { return !now.Before(e.expires) })
		}
		c.entries[key] = cacheEntry{res: *res.clone(), connector: cc.connector, line: line, expires: now.Add(c.ttl)}
	}
	return res, nil
}

// forget drops the entries of line for connector's real id and the connector-less ones; connector "all"
// drops every connector's.
func (c *cache) forget(connector, line string) {
	rc := openlines.RealConnector(connector)
	all := rc == openlines.ConnectorAll
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	maps.DeleteFunc(c.entries, func(_ string, e cacheEntry) bool {
		if e.line != line {
			return false
		}
		er := openlines.RealConnector(e.connector)
		return all || er == openlines.ConnectorAll || er == rc
	})
}

// clone copies a Result so that a caller may change it without touching the cache's.
func (r *Result) clone() *Result {
	out := *r
	out.Raw = slices.Clone(r.Raw)
	out.Header = r.Header.Clone()
	return &out
}
