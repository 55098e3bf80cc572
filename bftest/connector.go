package bftest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/connector/botframework/schema"
)

// Op is what a call to the Connector REST API did.
type Op string

// Operations of the Connector REST API.
const (
	OpSend   Op = "send"   // POST /v3/conversations/{id}/activities
	OpReply  Op = "reply"  // POST /v3/conversations/{id}/activities/{activityId}
	OpUpdate Op = "update" // PUT /v3/conversations/{id}/activities/{activityId}
	OpDelete Op = "delete" // DELETE /v3/conversations/{id}/activities/{activityId}
)

// Record is one call to the Connector REST API as the fake received and answered it.
type Record struct {
	Op     Op
	Method string
	// RawPath is the path as it came on the wire, still escaped, e.g. /v3/conversations/a%2Fb/activities.
	RawPath string
	// ConversationID and ActivityID are the unescaped ids of the path (ActivityID is empty for OpSend).
	ConversationID string
	ActivityID     string
	// Activity is the decoded body (zero for OpDelete and undecodable bodies); Body is the body as sent.
	Activity schema.Activity
	Body     []byte
	Header   http.Header
	// AppID is the app id of the caller's access token, empty for an anonymous call.
	AppID string
	// Status is the HTTP status the fake answered; ID the id of its ResourceResponse (the new activity's id for
	// OpSend and OpReply). CorrelationID is its X-Correlating-OperationId header.
	Status        int
	ID            string
	CorrelationID string
	At            time.Time
}

// Accepted reports whether the fake answered the call with a 2xx status.
func (r Record) Accepted() bool { return r.Status >= 200 && r.Status < 300 }

// Match selects records.
type Match func(Record) bool

// ByConversation matches records of a conversation id (unescaped).
func ByConversation(id string) Match { return func(r Record) bool { return r.ConversationID == id } }

// ByOp matches records of an operation.
func ByOp(op Op) Match { return func(r Record) bool { return r.Op == op } }

// ByText matches records whose activity text is text.
func ByText(text string) Match { return func(r Record) bool { return r.Activity.Text == text } }

// All matches records that every m matches.
func All(ms ...Match) Match {
	return func(r Record) bool {
		for _, m := range ms {
			if !m(r) {
				return false
			}
		}
		return true
	}
}

// Records returns every call to the Connector REST API so far, failed ones included, in arrival order.
func (s *Server) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// Activities returns the accepted calls so far, in arrival order.
func (s *Server) Activities() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, r := range s.records {
		if r.Accepted() {
			out = append(out, r)
		}
	}
	return out
}

// WaitFor returns the first accepted call that m matches (nil m matches any), waiting for it until ctx ends.
func (s *Server) WaitFor(ctx context.Context, m Match) (Record, error) {
	for {
		s.mu.Lock()
		for _, r := range s.records {
			if r.Accepted() && (m == nil || m(r)) {
				s.mu.Unlock()
				return r, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Record{}, fmt.Errorf("bftest: no matching activity among %d calls: %w", len(s.Records()), ctx.Err())
		case <-s.done:
			return Record{}, errors.New("bftest: server closed while waiting for an activity")
		}
	}
}

// WaitRecords returns the first n calls (accepted or not) once there are n, waiting until ctx ends.
func (s *Server) WaitRecords(ctx context.Context, n int) ([]Record, error) {
	for {
		s.mu.Lock()
		if len(s.records) >= n {
			out := slices.Clone(s.records[:n])
			s.mu.Unlock()
			return out, nil
		}
		have, ch := len(s.records), s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("bftest: %d of %d calls arrived: %w", have, n, ctx.Err())
		case <-s.done:
			return nil, errors.New("bftest: server closed while waiting for calls")
		}
	}
}

// Expect waits up to 10 s for an accepted call that m matches and fails the test if none comes.
func (s *Server) Expect(t testing.TB, m Match) Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := s.WaitFor(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s *Server) record(r Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

// serveConnector implements the Connector REST API's activity operations.
func (s *Server) serveConnector(w http.ResponseWriter, r *http.Request) {
	rec := Record{Method: r.Method, RawPath: r.URL.EscapedPath(), Header: r.Header.Clone(), At: s.clock.Now(),
		CorrelationID: randomHex(16)}
	w.Header().Set(schema.CorrelationHeader, rec.CorrelationID)
	rw := &statusWriter{ResponseWriter: w}
	defer func() {
		rec.Status = rw.status
		if rec.Status == 0 {
			return // the client went away during a held answer
		}
		s.record(rec)
	}()
	if s.applyFailure(rw, r, s.takeFailure(EndpointConnector)) {
		drain(r.Body)
		return
	}

	// Route on the escaped path, one segment at a time: ids may contain '/'.
	segs := strings.Split(strings.TrimPrefix(rec.RawPath, "/v3/conversations/"), "/")
	if len(segs) < 2 || len(segs) > 3 || segs[0] == "" || segs[1] != "activities" || len(segs) == 3 && segs[2] == "" {
		writeError(rw, http.StatusNotFound, "NotFound", "bftest: no such resource: "+rec.RawPath)
		return
	}
	var err error
	if rec.ConversationID, err = url.PathUnescape(segs[0]); err == nil && len(segs) == 3 {
		rec.ActivityID, err = url.PathUnescape(segs[2])
	}
	if err != nil {
		writeError(rw, http.StatusBadRequest, "BadArgument", "bftest: bad escape in path: "+err.Error())
		return
	}
	switch {
	case len(segs) == 2 && r.Method == http.MethodPost:
		rec.Op = OpSend
	case len(segs) == 3 && r.Method == http.MethodPost:
		rec.Op = OpReply
	case len(segs) == 3 && r.Method == http.MethodPut:
		rec.Op = OpUpdate
	case len(segs) == 3 && r.Method == http.MethodDelete:
		rec.Op = OpDelete
	default:
		writeError(rw, http.StatusMethodNotAllowed, "MethodNotAllowed", "bftest: "+r.Method+" is not allowed on "+rec.RawPath)
		return
	}

	if rec.AppID, err = s.authorize(r); err != nil {
		writeError(rw, http.StatusUnauthorized, "Unauthorized", "Authorization has been denied for this request. "+err.Error())
		return
	}

	rec.Body, err = io.ReadAll(io.LimitReader(r.Body, schema.MaxActivityBytes+1))
	if err != nil {
		writeError(rw, http.StatusBadRequest, "BadArgument", "bftest: reading body: "+err.Error())
		return
	}
	if len(rec.Body) > schema.MaxActivityBytes {
		drain(r.Body)
		writeError(rw, http.StatusRequestEntityTooLarge, "MessageSizeTooBig",
			fmt.Sprintf("activity bodies are limited to %d bytes", schema.MaxActivityBytes))
		return
	}
	if rec.Op != OpDelete {
		if err := json.Unmarshal(rec.Body, &rec.Activity); err != nil {
			writeError(rw, http.StatusBadRequest, "BadArgument", "bftest: the body is not an activity: "+err.Error())
			return
		}
		if rec.Activity.Type == "" {
			writeError(rw, http.StatusBadRequest, "BadArgument", "bftest: the activity has no type")
			return
		}
	}

	switch rec.Op {
	case OpSend, OpReply:
		rec.ID = fmt.Sprintf("%s|%07d", rec.ConversationID, s.nextSeq())
		s.mu.Lock()
		if s.activities[rec.ConversationID] == nil {
			s.activities[rec.ConversationID] = map[string]bool{}
		}
		s.activities[rec.ConversationID][rec.ID] = true
		s.mu.Unlock()
		writeJSON(rw, http.StatusOK, schema.ResourceResponse{ID: rec.ID})
	case OpUpdate, OpDelete:
		s.mu.Lock()
		known := s.activities[rec.ConversationID][rec.ActivityID]
		if known && rec.Op == OpDelete {
			delete(s.activities[rec.ConversationID], rec.ActivityID)
		}
		s.mu.Unlock()
		if !known {
			writeError(rw, http.StatusNotFound, "ActivityNotFound",
				fmt.Sprintf("no activity %q in conversation %q", rec.ActivityID, rec.ConversationID))
			return
		}
		if rec.Op == OpDelete {
			rw.WriteHeader(http.StatusOK)
			return
		}
		rec.ID = rec.ActivityID
		writeJSON(rw, http.StatusOK, schema.ResourceResponse{ID: rec.ID})
	}
}

// authorize checks the caller's bearer token and returns its app id ("" when anonymous under NoAuth).
func (s *Server) authorize(r *http.Request) (string, error) {
	tok, present := bearer(r.Header.Get("Authorization"))
	if !present {
		if s.cfg.NoAuth {
			return "", nil
		}
		return "", errors.New("no bearer token")
	}
	return s.checkAccess(tok)
}

// AddActivity makes the fake know activity id in a conversation, so that it can be updated and deleted (the
// fake answers 404 ActivityNotFound for ids it did not create).
func (s *Server) AddActivity(conversationID, activityID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.activities[conversationID] == nil {
		s.activities[conversationID] = map[string]bool{}
	}
	s.activities[conversationID][activityID] = true
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"ServiceError","message":"bftest: encoding the answer failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, schema.ErrorResponse{Error: schema.ErrorBody{Code: code, Message: msg}})
}
