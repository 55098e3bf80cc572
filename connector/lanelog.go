package connector

import (
	"context"
	"log/slog"
	"time"
)

// The dispatcher's log of a line names its site and line: a failed attempt with its number and when the
// next is due (after the schedule's last, when the items move to the dead letters), and the recovery of a
// line that had failed.

// siteName names a site in the logs: its domain, else its BX_LICENCE (a site that has not told its domain
// yet).
func siteName(site *siteRec) string {
	switch {
	case site == nil:
		return ""
	case site.domain != "":
		return site.domain
	}
	return site.site.licence()
}

// siteNamed is siteName of the site with id, read for a log line ("" when it cannot be read).
func (s *Server) siteNamed(ctx context.Context, id int64) string {
	site, err := s.store.siteByID(ctx, id)
	if err != nil {
		return ""
	}
	return siteName(site)
}

// logLaneFailure logs a failed attempt of a line at Warn: msg, the site and line, the attempt's number, when
// the next is due, and attrs.
func (s *Server) logLaneFailure(msg, site, line string, f laneFailure, attrs ...any) {
	out := []any{"site", site, "line", line}
	if f.attempt > 0 { // 0: the attempt was not counted (the lease had passed on, or the count failed)
		out = append(out, "attempt", f.attempt, "of", len(s.cfg.Queue.Schedule))
		next := time.UnixMilli(f.nextAt).UTC()
		if f.last {
			out = append(out, "dead_letters_at", next)
		} else {
			out = append(out, "next_attempt", next)
		}
	}
	s.log.Warn(msg, append(out, attrs...)...)
}

// logRecovery logs, at Info, that a line that had failed is served again, and how long it was down since
// its first failure; r nil (it had not failed) logs nothing. failed_attempts counts the attempts of the
// schedule that failed, and is left out when the schedule had started anew (Retry, or the items went to
// the dead letters and were redriven).
func (s *Server) logRecovery(site, line string, r *recovery) {
	if r == nil {
		return
	}
	down := s.cfg.Clock.Now().Sub(time.UnixMilli(r.since))
	attrs := []slog.Attr{slog.String("site", site), slog.String("line", line)}
	if r.attempts > 0 {
		attrs = append(attrs, slog.Int("failed_attempts", r.attempts))
	}
	attrs = append(attrs, slog.Duration("down_for", down.Round(time.Millisecond)))
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "connector: line recovered", attrs...)
}
