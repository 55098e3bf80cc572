package router

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// Logging returns middleware that logs every routed packet to l: command, connector, line, number of items,
// duration and, for a failure, its protocol code and error. Successes are logged at Debug level, failures at
// Warn (INTERNAL_ERROR at Error). A nil l discards; durations are measured on clk (nil: the system clock).
func Logging(l *slog.Logger, clk clock.Clock) Middleware {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	clk = clock.Or(clk)
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, req *Request) error {
			start := clk.Now()
			err := next(ctx, req)
			if err == nil && !l.Enabled(ctx, slog.LevelDebug) {
				return nil
			}
			attrs := []any{"command", req.Command, "connector", req.Connector, "line", req.Line,
				"items", req.ItemCount(), "duration", clk.Now().Sub(start)}
			switch {
			case err == nil:
				l.DebugContext(ctx, "router: packet handled", attrs...)
			case wire.CodeOf(err) == wire.CodeInternal:
				l.ErrorContext(ctx, "router: packet failed", append(attrs, "code", string(wire.CodeOf(err)), "error", err.Error())...)
			default:
				l.WarnContext(ctx, "router: packet refused", append(attrs, "code", string(wire.CodeOf(err)), "error", err.Error())...)
			}
			return err
		}
	}
}

// Observer receives one observation per packet: its command ("" for a packet refused before routing), the
// protocol code of its failure ("" for success) and how long it took. Adapt it to Prometheus or any other
// metrics system; Metrics is a ready, dependency-free one.
type Observer interface {
	Observe(command string, code wire.Code, d time.Duration)
}

// Observe returns middleware that reports every routed packet to o under its command as registered (so that
// a sender cannot grow the set of names), timed on clk (nil: the system clock).
func Observe(o Observer, clk clock.Clock) Middleware {
	clk = clock.Or(clk)
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, req *Request) error {
			start := clk.Now()
			err := next(ctx, req)
			var code wire.Code
			if err != nil {
				code = wire.CodeOf(err)
			}
			o.Observe(req.Command, code, clk.Now().Sub(start))
			return err
		}
	}
}

// RefusedLabel is the command Metrics files the packets refused before routing under.
const RefusedLabel = "(refused)"

// Metrics counts packets per command: how many, how many failed by protocol code, and their total and
// longest duration. It is an Observer; use Middleware for the Router and WithObserver for the Input. Safe for
// concurrent use.
type Metrics struct {
	clock clock.Clock
	mu    sync.Mutex
	stats map[string]*CommandStats
}

// CommandStats are the counters of one command.
type CommandStats struct {
	Command  string
	Requests uint64
	Errors   map[wire.Code]uint64 // failures by code
	Total    time.Duration
	Max      time.Duration
}

// NewMetrics returns empty Metrics timing on clk (nil: the system clock).
func NewMetrics(clk clock.Clock) *Metrics {
	return &Metrics{clock: clock.Or(clk), stats: map[string]*CommandStats{}}
}

// Middleware returns the Router middleware that feeds m.
func (m *Metrics) Middleware() Middleware { return Observe(m, m.clock) }

// Observe implements Observer; the command "" is counted as "(refused)".
func (m *Metrics) Observe(command string, code wire.Code, d time.Duration) {
	if command == "" {
		command = RefusedLabel
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats[command]
	if s == nil {
		s = &CommandStats{Command: command}
		m.stats[command] = s
	}
	s.Requests++
	s.Total += d
	if d > s.Max {
		s.Max = d
	}
	if code != "" {
		if s.Errors == nil {
			s.Errors = map[wire.Code]uint64{}
		}
		s.Errors[code]++
	}
}

// Snapshot returns a copy of the counters, sorted by command.
func (m *Metrics) Snapshot() []CommandStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]CommandStats, 0, len(m.stats))
	for _, s := range m.stats {
		c := *s
		if s.Errors != nil {
			c.Errors = make(map[wire.Code]uint64, len(s.Errors))
			for k, v := range s.Errors {
				c.Errors[k] = v
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Command < out[j].Command })
	return out
}
