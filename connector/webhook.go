package connector

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/olctl/olctl/internal/httpserve"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// handleWebhook takes a messenger's update at POST /imwebhook/{real}?h={lineHash}: the hash names the line
// connector, its channel turns the body into items, and the items are queued in one transaction. Any error
// is answered with a status (404 for an unknown hash or channel, 405, 413, 400 for a body the channel
// refuses) and the JSON envelope, and nothing is stored.
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Clock.Now()
	hook, err := s.webhook(r)
	n := hook.queued
	err = badText(err)
	if err != nil && httpserve.Gone(r) {
		s.log.Debug("connector: the messenger left before its answer", "path", r.URL.Path, "err", err)
		httpserve.Abort() // nobody to answer: no INTERNAL_ERROR "context canceled"
	}
	code := "OK"
	status := http.StatusOK
	if err != nil {
		status = webhookStatus(err)
		err = withStatusCode(err, status)
		code = string(wire.CodeOf(err))
		if status >= 500 {
			s.log.Error("connector: webhook", "path", r.URL.Path, "err", err)
		} else {
			s.log.Info("connector: webhook refused", "path", r.URL.Path, "status", status, "err", err)
		}
	} else {
		s.log.Debug("connector: webhook", "site", hook.site, "line", hook.line, "connector", hook.connector,
			"items", hook.items, "queued", n, "status", status, "took", s.cfg.Clock.Now().Sub(start))
	}
	s.m.requests.WithLabelValues("webhook", code).Inc()
	s.m.reqSeconds.WithLabelValues("webhook").Observe(s.cfg.Clock.Now().Sub(start).Seconds())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if err != nil {
		w.WriteHeader(status)
		_, _ = w.Write(wire.ErrorBody(err))
		return
	}
	_, _ = w.Write(s.queuedBody(n))
}

// withStatusCode gives an error without a protocol code (a channel's 401 for a bad token, say) the code of
// its HTTP status (UNAUTHORIZED), so that the answer and the metrics tell what happened; a 5xx stays
// INTERNAL_ERROR.
func withStatusCode(err error, status int) error {
	var we *wire.Error
	var code wire.Code
	if errors.As(err, &we) || errors.As(err, &code) || status >= 500 {
		return err
	}
	name := strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	if name == "" {
		name = "HTTP_" + strconv.Itoa(status)
	}
	return &wire.Error{Code: wire.Code(name), Message: err.Error(), Err: err}
}

// queuedBody is the answer to a webhook that queued n items; the usual ones are made once per server (two
// JSON encodings per webhook were ~2 % of the queue benchmark's CPU).
func (s *Server) queuedBody(n int) []byte {
	if n >= 0 && n < len(s.queuedBodies) {
		return s.queuedBodies[n]
	}
	body, _ := wire.OKBody(map[string]int{"QUEUED": n}) // a map of ints always encodes
	return body
}

// webhookTaken is what a webhook was, for its log line: the line it came for, the items its channel read
// and how many of them were new (queued).
type webhookTaken struct {
	site, line, connector string
	items, queued         int
}

func (s *Server) webhook(r *http.Request) (hook webhookTaken, err error) {
	defer func() {
		if p := recover(); p != nil {
			hook.queued, err = 0, wire.Errorf(wire.CodeInternal, "panic: %v", p)
		}
	}()
	if r.Method != http.MethodPost {
		return hook, wire.Errorf(wire.CodeMethodNotAllowed, "webhooks must be POST")
	}
	real := r.PathValue("real")
	ch, err := s.Channel(real)
	if err != nil || openlines.RealConnector(real) != real {
		return hook, &wire.Error{Code: wire.CodeUnknownConnector, Message: "no channel " + real}
	}
	hash := r.URL.Query().Get("h")
	if hash == "" || len(hash) > 64 {
		return hook, wire.Errorf(wire.CodeNotActiveLine, "the h parameter (line hash) is missing")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return hook, wire.Errorf(wire.CodeRequestEntityTooLarge, "body larger than %d bytes", s.cfg.MaxBody)
		}
		return hook, wire.Errorf(wire.CodeBadPacket, "reading the body: %v", err)
	}
	ctx := r.Context()
	s.enq.begin()
	enqueued := false
	defer func() {
		if !enqueued {
			s.enq.done()
		}
	}()
	l, err := s.store.lineByHash(ctx, hash)
	if err != nil {
		return hook, err
	}
	if l == nil || l.realID != real || !l.active {
		return hook, wire.Errorf(wire.CodeNotActiveLine, "no active line connector has this hash")
	}
	site, err := s.store.siteByID(ctx, l.siteID)
	if err != nil {
		return hook, err
	}
	hook.site, hook.line, hook.connector = siteName(site), l.line, l.connector
	items, err := ch.Receive(ctx, s.line(site, l), r, body)
	if err != nil {
		return hook, err
	}
	hook.items = len(items)
	if len(items) == 0 {
		return hook, nil
	}
	enqueued = true
	n, err := s.enqueue(ctx, site, l.line, l.connector, items)
	if err != nil {
		return hook, err
	}
	if d := len(items) - n; d > 0 {
		s.m.duplicates.Add(float64(d))
	}
	hook.queued = n
	return hook, nil
}
