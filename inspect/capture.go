package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/olctl/olctl/wire"
)

// Incoming returns next recording every POST it serves: the body as read (up to MaxBody), the answer, the
// time it took and what Note said meanwhile. Other methods pass unrecorded. Replays are served to the
// handler Incoming returned last.
func (r *Recorder) Incoming(next http.Handler) http.Handler {
	h := &incoming{r: r, next: next}
	r.mu.Lock()
	r.target = replayTarget{h: h}
	r.mu.Unlock()
	return h
}

type incoming struct {
	r    *Recorder
	next http.Handler
}

func (h *incoming) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	other := req.Method != http.MethodPost // recorded with Options.Requests, unless a read
	if other && (!h.r.opt.Requests || req.Method == http.MethodGet || req.Method == http.MethodHead) {
		h.next.ServeHTTP(w, req)
		return
	}
	ctx, p := h.r.begin(req.Context(), In)
	body := &prefix{max: h.r.opt.MaxBody}
	req = req.WithContext(ctx)
	orig := req.Body
	if orig != nil {
		req.Body = teeBody{Reader: io.TeeReader(orig, body), Closer: orig}
	}
	cw := &captureWriter{ResponseWriter: w, answer: prefix{max: h.r.opt.MaxBody}}
	h.next.ServeHTTP(cw, req)
	if orig != nil && !body.over { // what the handler left unread (it refused early), up to MaxBody
		_, _ = io.Copy(body, io.LimitReader(orig, int64(h.r.opt.MaxBody-body.buf.Len()+1)))
	}

	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: req.Host, Path: req.URL.Path, RawQuery: req.URL.RawQuery}
	p.mu.Lock()
	h.r.fill(p.rec, u.String(), body.buf.Bytes(), body.over, cw.status, cw.answer.buf.Bytes(), "")
	if other {
		p.rec.method = req.Method
	}
	p.mu.Unlock()
	h.r.finish(p)
}

// Outgoing returns a transport over next (nil: http.DefaultTransport) that records every POST of a packet
// (a form with BX_COMMAND) it carries, with its answer (with Options.Requests, every POST). Other requests
// (a messenger's API, a token) pass unrecorded, and nothing of them is kept.
func (r *Recorder) Outgoing(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &outgoing{r: r, next: next}
}

type outgoing struct {
	r    *Recorder
	next http.RoundTripper
}

func (o *outgoing) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.Body == nil || req.Body == http.NoBody {
		return o.next.RoundTrip(req)
	}
	max := o.r.opt.MaxBody
	head, err := io.ReadAll(io.LimitReader(req.Body, int64(max)+1))
	if err != nil {
		_ = req.Body.Close()
		return nil, err
	}
	sent := req.Clone(req.Context())
	sent.Body = teeBody{Reader: io.MultiReader(bytes.NewReader(head), req.Body), Closer: req.Body}
	if len(head) > max || (!o.r.opt.Requests && !isPacket(head)) {
		return o.next.RoundTrip(sent)
	}
	_, p := o.r.begin(req.Context(), Out)
	resp, err := o.next.RoundTrip(sent)
	status, detail := 0, ""
	var answer []byte
	if err != nil {
		detail = err.Error()
	} else {
		status = resp.StatusCode
		var rerr error
		if answer, rerr = io.ReadAll(io.LimitReader(resp.Body, int64(max))); rerr != nil {
			detail = rerr.Error()
		}
		resp.Body = teeBody{Reader: io.MultiReader(bytes.NewReader(answer), resp.Body), Closer: resp.Body}
	}
	p.mu.Lock()
	o.r.fill(p.rec, req.URL.String(), head, false, status, answer, detail)
	p.mu.Unlock()
	o.r.finish(p)
	return resp, err
}

// isPacket reports whether a body is a form that carries BX_COMMAND.
func isPacket(b []byte) bool {
	fields, err := wire.ParseForm(string(b))
	if err != nil {
		return false
	}
	_, ok := fields.Lookup("BX_COMMAND")
	return ok
}

// fill describes a packet from its body and answer; the record is its own caller's.
func (r *Recorder) fill(rec *record, target string, raw []byte, over bool, status int, answer []byte, detail string) {
	rec.url, rec.detail = target, detail
	rec.sum.Status = status
	rec.answer = bytes.Clone(answer)
	rec.truncated = over
	switch {
	case detail != "":
		rec.sum.Code = "NETWORK"
	default:
		rec.sum.Code = answerCode(status, answer)
	}
	if over {
		rec.sum.Command, rec.sum.Signature = "(body over the inspector's limit)", "unchecked"
		return
	}
	fields, err := wire.ParseForm(string(raw))
	if _, ok := fields.Lookup("BX_COMMAND"); err != nil || !ok {
		// Not a packet: a messenger's webhook, or a form the endpoint refused.
		rec.body = bytes.Clone(raw)
		rec.sum.Command, rec.sum.Signature = "webhook", "unchecked"
		if u, err := url.Parse(target); err == nil && r.opt.Requests {
			rec.sum.Command = u.Path
		} else if err == nil {
			rec.sum.Connector = path.Base(u.Path)
		}
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			rec.sum.Signature = "invalid"
		}
		return
	}
	rec.fields = fields
	pkt, _ := wire.Parse(fields, wire.ToPortal)
	rec.sum.Command, rec.sum.Connector, rec.sum.Line = pkt.Command, pkt.Connector, pkt.Line
	if pkt.DecodeData() == nil {
		rec.sum.Items = itemCount(pkt.Data)
	}
	rec.sum.Signature = r.signature(rec.sum.Direction, fields)
}

// signature is the verdict on a packet's signature: an incoming one checked with Options.Verify.
func (r *Recorder) signature(dir Direction, fields wire.Fields) string {
	if h, ok := fields.Lookup("BX_HASH"); !ok || h == "" || h == wire.EmptyStub {
		return "missing"
	}
	switch {
	case dir == Out:
		return "signed"
	case r.opt.Verify == nil:
		return "unchecked"
	case r.opt.Verify(fields) != nil:
		return "invalid"
	}
	return "valid"
}

// itemCount is the number of DATA's items: a push's items (one map: one), or a call's first argument's when
// it is a list (sendMessage's messages), else its arguments.
func itemCount(data any) int {
	switch x := data.(type) {
	case []any:
		if len(x) > 0 {
			if inner, ok := x[0].([]any); ok {
				return len(inner)
			}
		}
		return len(x)
	case *wire.Map:
		return 1
	case nil, string:
		return 0
	}
	return 1
}

// answerCode reads the envelope of an answer: OK, the codes of its errors, or HTTP n when it is none.
func answerCode(status int, answer []byte) string {
	var env struct {
		OK     *bool `json:"OK"`
		Errors []struct {
			Code string `json:"CODE"`
		} `json:"ERROR"`
	}
	if json.Unmarshal(answer, &env) != nil || env.OK == nil {
		return fmt.Sprintf("HTTP %d", status)
	}
	if *env.OK {
		return "OK"
	}
	codes := make([]string, 0, len(env.Errors))
	for _, e := range env.Errors {
		codes = append(codes, e.Code)
	}
	if len(codes) == 0 {
		return "OK:false"
	}
	return strings.Join(codes, ", ")
}

// prefix keeps the first max bytes written to it and notes whether there were more.
type prefix struct {
	max  int
	buf  bytes.Buffer
	over bool
}

func (p *prefix) Write(b []byte) (int, error) {
	room := p.max - p.buf.Len()
	if len(b) > room {
		p.over = true
	}
	p.buf.Write(b[:max(0, min(room, len(b)))])
	return len(b), nil
}

type teeBody struct {
	io.Reader
	io.Closer
}

// captureWriter keeps the status and the first bytes of an answer.
type captureWriter struct {
	http.ResponseWriter
	status int
	answer prefix
}

func (w *captureWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_, _ = w.answer.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
