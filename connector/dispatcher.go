package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// worker dispatches ready lanes until ctx ends: claim a lane, send its batch, settle it; when nothing is
// ready, wait for a wake-up (an enqueue or a confirmation in this process), the next block or confirmation
// deadline on the injected clock, or (MySQL) the poll interval.
func (s *Server) worker(ctx context.Context) {
	for ctx.Err() == nil {
		worked, taken, err := s.dispatchOnce(ctx)
		s.rounds.Add(1)
		if err != nil && ctx.Err() == nil {
			s.log.Error("connector: dispatch", "err", err)
		}
		if worked && err == nil {
			continue
		}
		s.wait(ctx, s.tokens, err != nil, taken)
	}
}

// wait waits for the next reason to look for work. taken says that the ready lanes were locked by other
// transactions (MySQL, PostgreSQL: an enqueue, a claim or a settlement, of this process or another): their
// holders see to them, so a deadline that has passed does not end the wait, else every idle worker of every
// process would claim again and again while another process's enqueue holds a lane (with 3 processes this
// spinning took more CPU per message than the messages did).
func (s *Server) wait(ctx context.Context, wake <-chan struct{}, failed, taken bool) {
	clk := s.cfg.Clock
	var due, poll <-chan time.Time
	if at, ok, err := s.store.nextDue(ctx, !s.store.sqlite()); err != nil {
		failed = true
	} else if ok && (!taken || at.After(clk.Now())) {
		due = clock.Until(clk, at) // not After(at - Now): a fake clock set in between would miss at
	}
	if !s.store.sqlite() {
		poll = clk.After(s.cfg.PollInterval)
	}
	var retry <-chan time.Time
	if failed {
		// A failed look (a database error) is retried after PollInterval of real time, whatever the clock:
		// the error is not on the queue's schedule, and a fake clock that a test moves only when the queue
		// has answered would otherwise leave the dispatcher asleep after one.
		t := time.NewTimer(s.cfg.PollInterval)
		defer t.Stop()
		retry = t.C
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case <-ctx.Done():
	case <-wake:
	case <-due:
	case <-poll:
	case <-retry:
	}
}

// dispatchOnce claims one ready lane and settles or sends it. It reports whether there was one, and whether
// lanes were ready but none could be claimed (taken: other transactions held them).
func (s *Server) dispatchOnce(ctx context.Context) (worked, taken bool, err error) {
	s.maybePrune(ctx)
	if ready, err := s.store.anyReady(ctx); err != nil || !ready {
		return false, false, err
	}
	owner := s.leaseOwner()
	res, err := s.store.claim(ctx, owner)
	if err != nil {
		return false, false, fmt.Errorf("claim: %w", err)
	}
	if !res.worked {
		return false, true, nil
	}
	if res.timedOut {
		s.searches.failed(res.lane.id)
		s.m.failures.WithLabelValues("confirm_timeout").Inc()
		s.logLaneFailure("connector: no confirmation in time; line blocked", s.siteNamed(ctx, res.lane.siteID), res.lane.line,
			res.failure)
	}
	if res.deadLetters > 0 {
		s.searches.done(res.lane.id)
		s.m.deadLettered.Add(float64(res.deadLetters))
		s.log.Error("connector: schedule exhausted; items moved to the dead-letter table", "site", s.siteNamed(ctx, res.lane.siteID),
			"line", res.lane.line, "items", res.deadLetters, "attempts", res.lane.attempts,
			"failing_since", time.UnixMilli(res.lane.firstFail).UTC())
	}
	if res.recovered != nil {
		s.logRecovery(s.siteNamed(ctx, res.lane.siteID), res.lane.line, res.recovered)
	}
	b := res.batch
	if b == nil {
		return true, false, nil
	}
	since, _ := s.enq.arrivals(b.lane.id)
	s.wake() // there may be more ready lines: let another worker look
	hold, release := s.holdLease(ctx, b.lane.id, owner)
	defer release()
	site, err := s.store.siteByID(ctx, b.lane.siteID)
	// A worker keeps a busy lane for a few batches in a row (one transaction between them), then lets it
	// go so that the other lanes get their turn.
	for i := 1; b != nil; i++ {
		var sendErr error
		var drop int64 // the head the portal refused alone, dead-lettered with the settlement of b
		result := "ok"
		if err != nil {
			sendErr = err
		} else {
			b.byAnswer = site.generation() == wire.Current || !confirmable(b.command)
			start := s.cfg.Clock.Now()
			d, derr := s.deliver(hold, owner, site, b)
			s.m.sendSeconds.Observe(s.cfg.Clock.Now().Sub(start).Seconds())
			if d.released {
				return true, false, derr // the lane is free for its next item
			}
			b, drop = d.b, d.drop
			if sendErr = derr; !d.sent && sendErr == nil {
				s.log.Debug("connector: setChatName not sent to a legacy portal", "site", site.domain, "line", b.lane.line)
				result = "skipped"
			}
		}
		if ctx.Err() != nil {
			// Shutting down: Close frees the lease; the batch is sent again.
			return true, false, nil
		}
		if errors.Is(context.Cause(hold), errLeaseLost) {
			s.log.Warn("connector: lease lost while sending; the line is left to its next holder", "site", siteName(site),
				"line", b.lane.line)
			return true, false, nil
		}
		if sendErr != nil {
			result = "error"
			s.m.failures.WithLabelValues("send").Inc()
		}
		s.m.sends.WithLabelValues(b.command, result).Inc()
		cont := i < maxConsecutive
		if cont && sendErr == nil {
			if s.linger(hold, b, since); hold.Err() != nil {
				return true, false, nil // as above
			}
		}
		fin, ferr := s.store.finishDropping(ctx, owner, b, sendErr, cont, drop)
		if sendErr != nil {
			s.searches.failed(b.lane.id)
			s.logLaneFailure("connector: send failed; line blocked", siteName(site), b.lane.line, fin.failure,
				"connector", b.connector, "command", b.command, "items", len(b.ids), "err", sendErr)
		}
		if ferr != nil {
			return true, false, fmt.Errorf("finish: %w", ferr)
		}
		if fin.lost {
			s.log.Warn("connector: lease expired while sending; the line has another holder now", "site", siteName(site),
				"line", b.lane.line)
		}
		if fin.dropped {
			s.deadLetteredAlone(site, b.lane.line, b.command, drop, "the portal refused it alone and took the items behind it")
		}
		s.logRecovery(siteName(site), b.lane.line, fin.recovered)
		if fin.confirmed > 0 {
			s.m.confirmed.Add(float64(fin.confirmed))
		}
		if b = fin.next; b != nil {
			since, _ = s.enq.arrivals(b.lane.id)
		}
	}
	return true, false, nil
}

// linger holds the next packet of a busy line for more items, so that a line fed by many small webhooks
// gets fewer, fuller packets (each packet costs a claim, a signed POST, a confirmation and their
// transactions, whatever its size). It waits only after a packet with room to spare during which more
// items arrived for the line (since is the line's arrival count when the packet was read), and ends as
// soon as a full batch has arrived, after Config.Linger on the clock, or when no webhook has been in
// progress in this process for lingerGrace (the items are not coming; this also keeps a fake clock that
// nobody advances from holding packets). A lone message is never delayed, and the line stays leased to
// this worker (one sender) meanwhile.
func (s *Server) linger(ctx context.Context, b *batch, since int64) {
	if s.cfg.Queue.Linger <= 0 || len(b.ids) >= s.cfg.Queue.Batch || shapeOf(b.command) != shapeList {
		return
	}
	n, changed := s.enq.arrivals(b.lane.id)
	if n == since {
		return // nothing came while the packet was out: the line is not busy
	}
	timeout := s.cfg.Clock.After(s.cfg.Queue.Linger)
	var grace *time.Timer
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	for n-since < int64(s.cfg.Queue.Batch) {
		var graceC <-chan time.Time
		switch quiet := s.enq.quiet(); {
		case quiet && grace == nil:
			grace = time.NewTimer(lingerGrace)
			graceC = grace.C
		case quiet:
			graceC = grace.C
		case grace != nil:
			grace.Stop()
			grace = nil
		}
		select {
		case <-changed:
		case <-graceC:
			return
		case <-timeout:
			return
		case <-ctx.Done():
			return
		}
		n, changed = s.enq.arrivals(b.lane.id)
	}
}

// lingerGrace is how long no webhook may be in progress before a linger gives up (real time, like the
// committer's maxLinger: it only shapes batching). It bridges the moments when every webhook client is
// between two requests, which last longer on a loaded machine (with 500 µs, lingers ended early there and
// packets carried a third fewer items).
const lingerGrace = 2 * time.Millisecond

// maxConsecutive is how many batches of one lane a worker sends before it lets the lane go.
const maxConsecutive = 8

// post signs a packet for a portal, sends it and returns the answer; a transport error, a non-2xx status
// and OK:false are errors. The packet's empty values are stubbed in the site's generation.
func (s *Server) post(ctx context.Context, site *siteRec, p *wire.Packet) (*wire.Response, error) {
	body, err := s.encodePacket(site, p)
	if err != nil {
		return nil, err
	}
	return s.postBody(ctx, site, body)
}

// encodePacket returns the signed form body of a packet to a portal, stubbed in the site's generation.
func (s *Server) encodePacket(site *siteRec, p *wire.Packet) (string, error) {
	p.Version = s.cfg.Version
	p.Profile = site.generation()
	fields, err := p.Encode(wire.ToPortal)
	if err != nil {
		return "", err
	}
	signed, err := site.signer.Sign(fields)
	if err != nil {
		return "", err
	}
	return signed.Encode(), nil
}

// postBody posts an encoded packet to a portal and reads the answer (a *statusError for a non-2xx status).
func (s *Server) postBody(ctx context.Context, site *siteRec, body string) (*wire.Response, error) {
	if site.domain == "" {
		return nil, fmt.Errorf("portal %s has not told its domain yet", site.site.licence())
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	target := trimSlash(site.domain) + s.cfg.PortalPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &statusError{target: target, status: resp.StatusCode}
	}
	return wire.ParseResponse(answer)
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// maybePrune forgets old dedup keys about every 10 minutes of the clock.
func (s *Server) maybePrune(ctx context.Context) {
	now := s.cfg.Clock.Now()
	last := s.lastPrune.Load()
	if last != 0 && now.Sub(time.UnixMilli(last)) < 10*time.Minute {
		return
	}
	if !s.lastPrune.CompareAndSwap(last, now.UnixMilli()) {
		return
	}
	if err := s.store.pruneDedup(ctx, now.Add(-s.cfg.DedupRetention).UnixMilli()); err != nil && ctx.Err() == nil {
		s.log.Warn("connector: prune dedup keys", "err", err)
	}
}
