package botframework

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// ErrTooLarge is matched by an outgoing activity over schema.MaxActivityBytes (262 144 bytes), which the
// channel refuses to send.
var ErrTooLarge = errors.New("botframework: activity too large")

// ErrAPI is matched (errors.Is) by every *APIError.
var ErrAPI = errors.New("botframework: Connector API call failed")

// APIError is a failed call to the Connector REST API: the answer's status, its {error:{code,message}} body and
// its X-Correlating-OperationId header (for Microsoft support), or the transport error (Status 0).
type APIError struct {
	Method, URL   string
	Status        int
	Code, Message string
	CorrelationID string
	// RetryAfter is the answer's Retry-After, if any.
	RetryAfter time.Duration
	// Attempts is how many times the call was tried.
	Attempts int
	Err      error
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "botframework: %s %s", e.Method, e.URL)
	if e.Status == 0 {
		fmt.Fprintf(&b, ": %v", e.Err)
	} else {
		fmt.Fprintf(&b, ": %d", e.Status)
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " (%s: %s)", schema.CorrelationHeader, e.CorrelationID)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Is matches ErrAPI.
func (e *APIError) Is(target error) bool { return target == ErrAPI }

// Unwrap returns the transport error.
func (e *APIError) Unwrap() error { return e.Err }

// retryable reports the statuses the Bot Framework asks to retry.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusPreconditionFailed, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Send delivers sendMessage, updateMessage and deleteMessage items (openlines.OutgoingMessage, with the chat's
// Bot Framework context merged in by the portal) in order as activities to
// {service_url}/v3/conversations/{chat.id}/activities[/{id}]. A sent message is reported with
// receivingStatusDelivery {im, message:{id:[activity id], date}, chat:{id}} (its activity id is the external
// message id, needed to update and delete it later); an item that fails is reported with a flat
// receivingError (docs/protocol.md §7). A typing notice (message.type typing_start) becomes a typing
// activity and is reported on failure only. It returns an error, sending nothing, when the line has no
// working token or the method is not one of the three.
func (c *Channel) Send(ctx context.Context, l *Line, method string, items []any) ([]connector.Incoming, error) {
	switch method = strings.ToLower(method); method {
	case "sendmessage", "updatemessage", "deletemessage":
	default:
		return nil, wire.Errorf(wire.CodeMethodNotFound, "botframework: cannot send %q items", method)
	}
	var ts *tokenSource
	if id := l.Settings[SettingAppID]; id != "" {
		ts = c.source(id, l.Settings[SettingAppSecret])
		if _, err := ts.get(ctx, false); err != nil {
			return nil, err
		}
	} else if !c.o.anonymous {
		return nil, fmt.Errorf("botframework: the line has no %s: saveSettings first", SettingAppID)
	}
	out := make([]connector.Incoming, 0, len(items))
	for i, raw := range items {
		var it openlines.OutgoingMessage
		err := wire.Bind(withIDList(raw), &it)
		var delivered string
		if err == nil {
			delivered, err = c.sendOne(ctx, ts, l, method, &it)
		} else {
			err = wire.Errorf(wire.CodeBadPacket, "botframework: item %d: %v", i, err)
		}
		switch {
		case err != nil:
			c.log.Warn("botframework: sending failed", "method", method, "line", l.LineID, "chat", it.Chat.ID, "error", err)
			out = append(out, connector.Incoming{Command: openlines.CommandReceivingError, Connector: l.Connector, Item: failure(method, &it, err)})
		case method == "sendmessage" && delivered != "":
			out = append(out, connector.Incoming{Command: openlines.CommandReceivingStatusDelivery, Connector: l.Connector,
				Item: openlines.StatusDeliveryItem{
					IM:      it.IM,
					Message: openlines.Message{ID: []string{delivered}, Date: c.clock.Now().Unix()},
					Chat:    openlines.Chat{ID: it.Chat.ID},
				}})
		}
	}
	return out, nil
}

// failure is the receivingError item of an outgoing item that could not be sent: the portal's own chat and
// message ids, the messenger's message and code.
func failure(method string, it *openlines.OutgoingMessage, err error) openlines.ErrorItem {
	code := openlines.ErrorNotSendMessageChat
	if method == "deletemessage" {
		code = openlines.ErrorDeleteMessage
	}
	return openlines.ErrorItem{
		Code:             code,
		ChatID:           it.IM.ChatID,
		MessageID:        it.IM.MessageID,
		MessageConnector: err.Error(),
		Params:           openlines.ErrorParams{ErrorCode: errorCode(err)},
	}
}

// withIDList returns an item whose message.id, when a single id, is a list of it (the shape of
// openlines.OutgoingContent.ID); other items are returned as they are.
func withIDList(raw any) any {
	item, ok := raw.(*wire.Map)
	if !ok {
		return raw
	}
	m, _ := item.Get("message")
	msg, ok := m.(*wire.Map)
	if !ok {
		return raw
	}
	id, ok := msg.Get("id")
	if !ok {
		return raw
	}
	switch id.(type) {
	case []any, *wire.Map, nil:
		return raw
	}
	if wire.IsEmpty(id) {
		return raw
	}
	nm := &wire.Map{Entries: slices.Clone(msg.Entries)}
	nm.Set("id", []any{id})
	ni := &wire.Map{Entries: slices.Clone(item.Entries)}
	ni.Set("message", nm)
	return ni
}

// errorCode returns the code of a receivingError for err.
func errorCode(err error) string {
	var api *APIError
	switch {
	case errors.Is(err, ErrTooLarge):
		return "PAYLOAD_TOO_LARGE"
	case errors.As(err, &api) && api.Code != "":
		return api.Code
	case errors.As(err, &api) && api.Status != 0:
		return "HTTP_" + strconv.Itoa(api.Status)
	case errors.As(err, &api):
		return "NETWORK_ERROR"
	case errors.Is(err, ErrToken):
		return openlines.ErrorExpiredToken
	}
	return string(wire.CodeOf(err))
}

// sendOne sends one item and returns the new activity id (a sendMessage that is not a typing notice).
func (c *Channel) sendOne(ctx context.Context, ts *tokenSource, l *Line, method string, it *openlines.OutgoingMessage) (string, error) {
	from := accountOf(it.From)
	var missing []string
	if it.Chat.ID == "" {
		missing = append(missing, "chat.id")
	}
	if it.ServiceURL == "" {
		missing = append(missing, "service_url")
	}
	if from.ID == "" && method != "deletemessage" {
		missing = append(missing, "from.id")
	}
	if len(missing) > 0 {
		return "", wire.Errorf(wire.CodeBadPacket, "botframework: the item has no %s (is the chat's context stored?)", strings.Join(missing, ", "))
	}
	su, err := url.Parse(it.ServiceURL)
	if err == nil {
		err = c.o.checkURL(su)
	}
	if err != nil {
		return "", wire.Errorf(wire.CodeBadPacket, "botframework: %v", err)
	}
	key := sentKey(l, it)
	a := schema.Activity{
		Type:         schema.TypeMessage,
		From:         from,
		Conversation: schema.ConversationAccount{ID: it.Chat.ID},
		Text:         c.o.fromIcons(it.Message.Text),
	}
	for _, f := range it.Message.Files {
		link := f.DownloadLink
		if link == "" {
			link = f.Link
		}
		if link == "" {
			continue
		}
		ct := f.MIME
		if !strings.Contains(ct, "/") {
			ct = fileType(f.Type, f.Name)
		}
		a.Attachments = append(a.Attachments, schema.Attachment{ContentType: ct, ContentURL: link, Name: f.Name})
	}
	switch {
	case method == "sendmessage" && strings.EqualFold(it.Message.Type, openlines.TypeTypingStart):
		u, err := schema.ActivitiesURL(it.ServiceURL, it.Chat.ID, "")
		if err != nil {
			return "", wire.Errorf(wire.CodeBadPacket, "botframework: %v", err)
		}
		_, err = c.call(ctx, ts, http.MethodPost, u, &schema.Activity{Type: schema.TypeTyping, From: from, Conversation: a.Conversation})
		return "", err
	case method == "sendmessage":
		if a.Text == "" && len(a.Attachments) == 0 {
			return "", wire.Errorf(wire.CodeBadPacket, "botframework: the message has neither text nor files")
		}
		u, err := schema.ActivitiesURL(it.ServiceURL, it.Chat.ID, "")
		if err != nil {
			return "", wire.Errorf(wire.CodeBadPacket, "botframework: %v", err)
		}
		rr, err := c.call(ctx, ts, http.MethodPost, u, &a)
		if err != nil {
			return "", err
		}
		if rr.ID == "" {
			return "", &APIError{Method: http.MethodPost, URL: u, Status: http.StatusOK, Message: "the answer has no activity id"}
		}
		c.sent.add(key, rr.ID)
		return rr.ID, nil
	}
	ids := it.Message.ID
	if len(ids) == 0 {
		ids = c.sent.get(key)
	}
	if len(ids) == 0 {
		return "", wire.Errorf(wire.CodeBadPacket,
			"botframework: no activity id for portal message %q in chat %q (message.id is empty and it was not sent through this server)",
			it.IM.MessageID, it.Chat.ID)
	}
	for _, id := range ids {
		u, err := schema.ActivitiesURL(it.ServiceURL, it.Chat.ID, id)
		if err != nil {
			return "", wire.Errorf(wire.CodeBadPacket, "botframework: %v", err)
		}
		if method == "deletemessage" {
			_, err = c.call(ctx, ts, http.MethodDelete, u, nil)
		} else {
			a.ID = id
			_, err = c.call(ctx, ts, http.MethodPut, u, &a)
		}
		if err != nil {
			return "", err
		}
	}
	return "", nil
}

// accountOf reads the from of an outgoing item (the stored recipient map of the chat) as a channel account.
func accountOf(v any) schema.ChannelAccount {
	var a struct {
		ID   string `php:"id"`
		Name string `php:"name"`
		Role string `php:"role"`
	}
	_ = wire.Bind(v, &a) // anything that is not an account has no id, which sendOne reports
	return schema.ChannelAccount{ID: a.ID, Name: a.Name, Role: a.Role}
}

// fileType returns the MIME type of an outgoing file: t when it is one (portals also send "image" or "file"),
// else by the name's extension, else application/octet-stream.
func fileType(t, name string) string {
	if strings.Contains(t, "/") {
		return t
	}
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		ext = name[i+1:]
	}
	if m := mimeByExt(ext); m != "" {
		return m
	}
	return "application/octet-stream"
}

func mimeByExt(ext string) string {
	if ext == "" {
		return ""
	}
	m := mime.TypeByExtension("." + strings.ToLower(ext))
	if i := strings.IndexByte(m, ';'); i >= 0 {
		m = m[:i]
	}
	return m
}

// call makes one Connector REST API call with retries: 429, 412, 502, 503 and 504 and connections that could
// not be made are retried with jittered exponential back-off, or after the answer's Retry-After; a 401 gets
// one retry with a fresh token.
func (c *Channel) call(ctx context.Context, ts *tokenSource, method, u string, a *schema.Activity) (schema.ResourceResponse, error) {
	var body []byte
	if a != nil {
		var err error
		if body, err = json.Marshal(a); err != nil {
			return schema.ResourceResponse{}, fmt.Errorf("botframework: encoding the activity: %w", err)
		}
		if len(body) > schema.MaxActivityBytes {
			return schema.ResourceResponse{}, fmt.Errorf("%w: %d bytes, the Bot Framework accepts at most %d",
				ErrTooLarge, len(body), schema.MaxActivityBytes)
		}
	}
	refreshed := false
	for attempt := 1; ; attempt++ {
		var tok string
		if ts != nil {
			var err error
			if tok, err = ts.get(ctx, false); err != nil {
				return schema.ResourceResponse{}, err
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return schema.ResourceResponse{}, &APIError{Method: method, URL: u, Err: err, Attempts: attempt}
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			apiErr := &APIError{Method: method, URL: u, Err: err, Attempts: attempt}
			if attempt < c.o.maxAttempts && ctx.Err() == nil && notConnected(err) {
				if err := c.sleep(ctx, c.backoff(attempt)); err != nil {
					return schema.ResourceResponse{}, apiErr
				}
				continue
			}
			return schema.ResourceResponse{}, apiErr
		}
		rb, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 && rerr == nil {
			var rr schema.ResourceResponse
			if len(bytes.TrimSpace(rb)) > 0 && json.Unmarshal(rb, &rr) != nil && method != http.MethodDelete {
				return rr, &APIError{Method: method, URL: u, Status: resp.StatusCode, Attempts: attempt,
					Message: "the answer is not a ResourceResponse: " + truncate(string(rb), 200)}
			}
			return rr, nil
		}
		apiErr := &APIError{Method: method, URL: u, Status: resp.StatusCode, Attempts: attempt,
			CorrelationID: resp.Header.Get(schema.CorrelationHeader)}
		var eb schema.ErrorResponse
		if json.Unmarshal(rb, &eb) == nil && eb.Error.Code != "" {
			apiErr.Code, apiErr.Message = eb.Error.Code, eb.Error.Message
		} else if rerr != nil {
			apiErr.Err = rerr
		} else {
			apiErr.Message = truncate(strings.TrimSpace(string(rb)), 200)
		}
		retryAfter, hasRetryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
		apiErr.RetryAfter = retryAfter
		switch {
		case resp.StatusCode == http.StatusUnauthorized && ts != nil && !refreshed:
			refreshed = true
			ts.invalidate(tok)
			continue
		case !retryable(resp.StatusCode) || attempt >= c.o.maxAttempts:
			return schema.ResourceResponse{}, apiErr
		}
		d := c.backoff(attempt)
		if hasRetryAfter {
			if retryAfter > c.o.maxDelay {
				return schema.ResourceResponse{}, apiErr
			}
			d = retryAfter
		}
		c.log.Debug("botframework: retrying", "method", method, "status", resp.StatusCode, "attempt", attempt, "delay", d)
		if err := c.sleep(ctx, d); err != nil {
			return schema.ResourceResponse{}, apiErr
		}
	}
}

// backoff returns the delay before retry n (n ≥ 1): base·2^(n-1), at most max, jittered into its upper half.
func (c *Channel) backoff(n int) time.Duration {
	d := c.o.baseDelay
	for i := 1; i < n && d < c.o.maxDelay; i++ {
		d *= 2
	}
	d = min(d, c.o.maxDelay)
	return d/2 + time.Duration(c.o.random()*float64(d/2))
}

func (c *Channel) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-c.clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, 1<<31)) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// notConnected reports a transport error that happened before the request could reach the server (so a retry
// cannot duplicate the activity).
func notConnected(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// sentIndex remembers the activity ids of recently sent portal messages, for update and delete items that do
// not carry them. Bounded: the oldest entries are dropped.
type sentIndex struct {
	mu    sync.Mutex
	max   int
	ids   map[string][]string
	order []string
}

func newSentIndex(max int) *sentIndex { return &sentIndex{max: max, ids: map[string][]string{}} }

func sentKey(l *Line, it *openlines.OutgoingMessage) string {
	return l.SiteDomain + "\x00" + l.LineID + "\x00" + it.Chat.ID + "\x00" + it.IM.ChatID + "\x00" + it.IM.MessageID
}

func (s *sentIndex) add(key, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[key]; !ok {
		s.order = append(s.order, key)
		if len(s.order) > s.max {
			delete(s.ids, s.order[0])
			s.order = s.order[1:]
		}
	}
	s.ids[key] = append(s.ids[key], id)
}

func (s *sentIndex) get(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids[key]...)
}
