package inspect

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/olctl/olctl/wire"
)

//go:embed static
var static embed.FS

var page = template.Must(template.ParseFS(static, "static/index.html"))

// Page is what a side shows beside its packets: its name, its own state and what redrives its dead letters.
type Page struct {
	// Title names the side: "Portal receiver", "Connector server".
	Title string
	// View is how many of the newest packets the page lists (default and most: the ring's size).
	View int
	// State returns the side's state, read each time the page asks (nil: none).
	State func(ctx context.Context) (State, error)
	// Redrive sends a dead letter (a Row with Redrive set, by its ID) again and returns how many went.
	Redrive func(ctx context.Context, id string) (int, error)
}

// State is a side's state as the page shows it: figures and tables.
type State struct {
	Stats  []Stat  `json:"stats"`
	Tables []Table `json:"tables"`
}

// Stat is one figure.
type Stat struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Table is one table of the state: lines, items waiting for a retry, dead letters.
type Table struct {
	Title   string   `json:"title"`
	Row     string   `json:"row"` // what one row is, for the labels of its buttons: "dead letter"
	Columns []string `json:"columns"`
	Rows    []Row    `json:"rows"`
	Empty   string   `json:"empty"` // what the table says when it has no rows
}

// Row is one row of a Table.
type Row struct {
	ID      string   `json:"id"`
	Cells   []string `json:"cells"`
	Redrive bool     `json:"redrive,omitempty"` // a dead letter that Page.Redrive takes by ID
}

// Handler returns the inspector: the page (GET /), its script and style, the stream of packets
// (GET /api/stream, server-sent events), a packet's detail (GET /api/packets/{id}), its replay (POST
// /api/packets/{id}/replay), the side's state (GET /api/state) and redrive (POST /api/redrive/{id}). Mount it
// under a path that ends in a slash (http.StripPrefix). It answers whoever reaches it: put it behind
// Guard or the application's own authentication. POSTs must carry the header X-Olctl-Inspector (which no
// cross-site form can send) and, when the browser names an Origin, come from the page's own.
func (r *Recorder) Handler(p Page) http.Handler {
	if p.View <= 0 || p.View > len(r.ring) {
		p.View = len(r.ring)
	}
	h := &handler{r: r, p: p}
	mux := http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(sub)))
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /api/stream", h.stream)
	mux.HandleFunc("GET /api/packets/{id}", h.detail)
	mux.HandleFunc("POST /api/packets/{id}/replay", h.replay)
	mux.HandleFunc("GET /api/state", h.state)
	mux.HandleFunc("POST /api/redrive/{id}", h.redrive)
	return secured(mux)
}

type handler struct {
	r *Recorder
	p Page
}

// secured sets the headers that keep the page to itself (nothing from another host, no framing) and refuses
// POSTs a cross-site page could send.
func secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost {
			if r.Header.Get("X-Olctl-Inspector") == "" {
				http.Error(w, "a POST to the inspector needs the header X-Olctl-Inspector", http.StatusForbidden)
				return
			}
			if o := r.Header.Get("Origin"); o != "" {
				if u, err := url.Parse(o); err != nil || u.Host != r.Host {
					http.Error(w, "cross-origin POST refused", http.StatusForbidden)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (h *handler) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var buf bytes.Buffer
	err := page.Execute(&buf, map[string]any{"Title": h.p.Title, "View": h.p.View, "Ring": len(h.r.ring),
		"Redrive": h.p.Redrive != nil})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(buf.Bytes())
}

// stream sends the ring as it is ("reset"), then every packet recorded or changed ("packet"), until the page
// goes or falls too far behind (then it reconnects and starts again from a reset).
func (h *handler) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	sub, first := h.r.subscribe(h.p.View)
	defer h.r.unsubscribe(sub)
	if _, err := io.WriteString(w, "retry: 1000\n\n"); err != nil {
		return
	}
	if _, err := w.Write(first); err != nil || rc.Flush() != nil {
		return
	}
	for {
		select {
		case frame := <-sub.ch:
			if _, err := w.Write(frame); err != nil {
				return
			}
			for more := true; more; { // what queued meanwhile goes in the same flush
				select {
				case frame := <-sub.ch:
					if _, err := w.Write(frame); err != nil {
						return
					}
				default:
					more = false
				}
			}
			if rc.Flush() != nil {
				return
			}
		case <-h.r.opt.Clock.After(15 * time.Second):
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-sub.gone:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// fieldView is one field of a packet as shown.
type fieldView struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// detailView is a packet as the page shows it expanded: every field in order, DATA decoded, the answer, the
// notes and the packet as a curl command, each with its secrets masked.
type detailView struct {
	summary
	URL       string          `json:"url"`
	Method    string          `json:"method,omitempty"` // "" is POST
	Fields    []fieldView     `json:"fields"`
	Data      json.RawMessage `json:"data,omitempty"`
	DataError string          `json:"data_error,omitempty"`
	Body      string          `json:"body,omitempty"`
	Answer    string          `json:"answer"`
	Detail    string          `json:"detail,omitempty"`
	Truncated bool            `json:"truncated,omitempty"`
	Notes     []Note          `json:"notes"`
	Curl      string          `json:"curl"`
}

func (h *handler) detail(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad packet id", http.StatusBadRequest)
		return
	}
	rec, ok := h.r.get(id)
	if !ok {
		http.Error(w, fmt.Sprintf("packet %d is not in the ring (it keeps the last %d)", id, len(h.r.ring)), http.StatusNotFound)
		return
	}
	writeJSON(w, h.r.view(&rec))
}

// view renders a record with every secret masked.
func (r *Recorder) view(rec *record) detailView {
	m := r.mask
	d := detailView{summary: r.viewSummary(rec), URL: m.text(maskQuery(m, rec.url)), Method: rec.method, Detail: m.text(rec.detail),
		Truncated: rec.truncated, Notes: make([]Note, len(rec.notes))}
	for i, n := range rec.notes {
		n.Detail, n.Event = m.text(n.Detail), m.text(n.Event)
		d.Notes[i] = n
	}
	if j, ok := m.json(rec.answer); ok {
		d.Answer = string(j)
	} else {
		d.Answer = m.text(truncate(string(rec.answer), 4096))
	}
	curlFields := make(wire.Fields, 0, len(rec.fields))
	dataMasked := false
	for _, f := range rec.fields {
		v := m.text(f.Value)
		if m.secretKey(f.Name) && v != "" {
			v = Masked
		}
		if f.Name == "DATA" {
			v, dataMasked = r.viewData(&d, f.Value)
		}
		d.Fields = append(d.Fields, fieldView{Name: f.Name, Value: v})
		curlFields = append(curlFields, wire.Field{Name: f.Name, Value: v})
	}
	switch {
	case rec.fields != nil:
		d.Curl = curl(d.URL, "application/x-www-form-urlencoded", curlFields, "", dataMasked)
	case rec.body != nil:
		if j, ok := m.json(rec.body); ok {
			d.Body = string(j)
		} else {
			d.Body = m.text(truncate(string(rec.body), 4096))
		}
		d.Curl = curl(d.URL, "application/json", nil, d.Body, false)
	}
	return d
}

// viewData decodes DATA into d and returns the value to show for the field, and whether it differs from
// the one received: the base64 as received, or, when secrets had to be masked in it, the masked DATA
// encoded again (a DATA that cannot be decoded is not shown: its secrets could not be masked).
func (r *Recorder) viewData(d *detailView, raw string) (string, bool) {
	pkt := wire.Packet{RawData: raw}
	if err := pkt.DecodeData(); err != nil {
		d.DataError = r.mask.text(err.Error())
		return Masked + " (DATA cannot be decoded, so it is not shown)", true
	}
	v, changed := r.mask.php(pkt.Data)
	d.Data, _ = json.Marshal(v) // a *wire.Map writes itself in its order
	if !changed {
		return raw, false
	}
	ser, err := wire.Serialize(v)
	if err != nil {
		return Masked, true
	}
	return base64.StdEncoding.EncodeToString(ser), true
}

// maskQuery masks the values of secret keys in a URL's query.
func maskQuery(m *masker, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return raw
	}
	q := u.Query()
	for k, vs := range q {
		if m.secretKey(k) {
			for i := range vs {
				vs[i] = Masked
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// curl writes a packet as a curl command: each field in order with --data-urlencode, or a raw body.
func curl(target, contentType string, fields wire.Fields, body string, dataMasked bool) string {
	var b strings.Builder
	if dataMasked {
		b.WriteString("# DATA held secrets, masked here: the signature no longer matches it.\n")
	}
	fmt.Fprintf(&b, "curl -sS -X POST %s \\\n  -H %s", shellQuote(target), shellQuote("Content-Type: "+contentType))
	for _, f := range fields {
		fmt.Fprintf(&b, " \\\n  --data-urlencode %s", shellQuote(f.Name+"="+f.Value))
	}
	if body != "" {
		fmt.Fprintf(&b, " \\\n  --data-raw %s", shellQuote(body))
	}
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// replayKey carries, in the context of a replay, the packet it replays and the record of the replay.
type replayKey struct{}

type replayed struct {
	r  *Recorder
	of int64
	p  *pending
}

// replayTarget is the handler replays are served to.
type replayTarget struct{ h http.Handler }

// ErrNotReplayable is wrapped by the error of a replay of a packet that cannot be replayed: one that was
// sent rather than received, not a form, longer than MaxBody, or recorded without Options.Sign.
var ErrNotReplayable = errors.New("inspect: the packet cannot be replayed")

// Replay posts packet id again to the handler Incoming wrapped, signed afresh (a new timestamp and nonce in
// hmac-sha256 mode), and returns the id of the replay's own record, whose notes show what the side did
// with it (a duplicate skipped, …).
func (r *Recorder) Replay(ctx context.Context, id int64) (int64, error) {
	rec, ok := r.get(id)
	r.mu.Lock()
	target := r.target
	r.mu.Unlock()
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: packet %d is not in the ring", ErrNotReplayable, id)
	case rec.sum.Direction != In || rec.fields == nil || r.opt.Sign == nil || target.h == nil:
		return 0, fmt.Errorf("%w: packet %d", ErrNotReplayable, id)
	}
	fields := make(wire.Fields, 0, len(rec.fields))
	for _, f := range rec.fields {
		switch f.Name {
		case "BX_HASH", "BX_TIMESTAMP", "BX_NONCE", "BX_SIGN":
		default:
			fields = append(fields, f)
		}
	}
	signed, err := r.opt.Sign(fields)
	if err != nil {
		return 0, fmt.Errorf("inspect: signing the replay: %w", err)
	}
	hold := &replayed{r: r, of: id}
	ctx = context.WithValue(ctx, replayKey{}, hold)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.url, strings.NewReader(signed.Encode()))
	if err != nil {
		return 0, fmt.Errorf("inspect: the replay's request: %w", err)
	}
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = "replay"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	target.h.ServeHTTP(&discard{header: http.Header{}}, req)
	if hold.p == nil {
		return 0, errors.New("inspect: the replay was not recorded")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return hold.p.rec.sum.ID, nil
}

// discard is the ResponseWriter of a replay: the answer is in the replay's record.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func (h *handler) replay(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad packet id", http.StatusBadRequest)
		return
	}
	nid, err := h.r.Replay(context.WithoutCancel(r.Context()), id)
	if errors.Is(err, ErrNotReplayable) {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	if err != nil {
		http.Error(w, h.r.mask.text(err.Error()), http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]int64{"id": nid})
}

func (h *handler) state(w http.ResponseWriter, r *http.Request) {
	st := State{Stats: []Stat{}, Tables: []Table{}}
	if h.p.State != nil {
		var err error
		if st, err = h.p.State(r.Context()); err != nil {
			http.Error(w, h.r.mask.text(err.Error()), http.StatusInternalServerError)
			return
		}
	}
	m := h.r.mask
	for i := range st.Stats {
		st.Stats[i].Value = m.text(st.Stats[i].Value)
	}
	for i := range st.Tables {
		t := &st.Tables[i]
		if t.Rows == nil {
			t.Rows = []Row{}
		}
		for j := range t.Rows {
			for k, c := range t.Rows[j].Cells {
				t.Rows[j].Cells[k] = m.text(c)
			}
			t.Rows[j].Redrive = t.Rows[j].Redrive && h.p.Redrive != nil
		}
	}
	writeJSON(w, st)
}

func (h *handler) redrive(w http.ResponseWriter, r *http.Request) {
	if h.p.Redrive == nil {
		http.Error(w, "this side has no redrive", http.StatusNotFound)
		return
	}
	n, err := h.p.Redrive(context.WithoutCancel(r.Context()), r.PathValue("id"))
	if err != nil {
		http.Error(w, h.r.mask.text(err.Error()), http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]int{"redriven": n})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
