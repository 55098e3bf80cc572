package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// Defaults of Options.
const (
	DefaultPackets = 500
	DefaultMaxBody = 256 << 10
	DefaultBytes   = 32 << 20
)

// Options configure a Recorder. The zero value records the last DefaultPackets packets on the system clock
// and masks the keys that name secrets.
type Options struct {
	// Packets is how many packets the ring keeps, the newest (default DefaultPackets).
	Packets int
	// MaxBody is how many bytes of a body or an answer are kept (default DefaultMaxBody); a longer body is
	// listed with its fields unread and cannot be replayed.
	MaxBody int
	// Bytes caps the bodies and answers the ring holds together (default DefaultBytes): the oldest packets
	// go first when it is reached, so that memory stays bounded whatever the packets weigh.
	Bytes int
	// Clock stamps the packets and times them (default: the system clock).
	Clock clock.Clock
	// Secrets are values never shown: wherever one appears in a packet, an answer or a note it is masked.
	// Licence keys, the md5 shared secret md5hex(licence key) and hmac secrets belong here.
	Secrets []string
	// SecretKeys are more keys whose values are masked, in any case, beside those that name a secret,
	// password, token or key (see the package documentation).
	SecretKeys []string
	// Verify checks the signature of an incoming packet's fields, as received (nil: not checked).
	Verify func(wire.Fields) error
	// Sign signs the fields of a replay afresh, without their old signature (nil: no replay).
	Sign func(wire.Fields) (wire.Fields, error)
	// Trace, when set, is written each packet as it is recorded, as text a person reads in a terminal: a
	// head line (direction, id, time, command, connector and line, the signature's verdict, the answer's
	// code, the duration), then the URL, every field in order, DATA decoded as JSON, the answer and the
	// notes taken while the packet was handled, one to a line, secrets masked as on the page. Packets are
	// written in the order of their ids, one whole block in one Write; a failed write is ignored. A writer
	// that several recorders share must take concurrent writes.
	Trace io.Writer
	// Requests, when set, makes Outgoing record every POST it carries, not only packets, and Incoming every
	// request it serves but a GET or HEAD (PUT and DELETE too, with their method), and names a request that
	// is not a packet by its path: the side is a messenger (the fake Bot Framework service), whose webhooks
	// and API calls are what passes. Default false.
	Requests bool
}

func (o Options) withDefaults() Options {
	if o.Packets <= 0 {
		o.Packets = DefaultPackets
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Bytes <= 0 {
		o.Bytes = DefaultBytes
	}
	o.Clock = clock.Or(o.Clock)
	return o
}

// Direction is which way a packet went, as the side that recorded it sees it.
type Direction string

// The directions.
const (
	In  Direction = "in"  // received: pushed to the portal, or called on the connector server
	Out Direction = "out" // sent: the portal's calls, or the connector server's pushes
)

// Note is what the side that handled a packet did with one of its items: the events it fired, a duplicate
// it skipped, a retry it scheduled.
type Note struct {
	Time    time.Time `json:"time"`
	Item    int       `json:"item"`              // index in DATA; -1 when not known
	ItemID  int64     `json:"item_id,omitempty"` // the item's id in the side's store; 0 for none
	Attempt int       `json:"attempt,omitempty"`
	Event   string    `json:"event,omitempty"` // the event fired, e.g. OnReceivedMessage
	Result  string    `json:"result"`          // taken, fired, duplicate, rejected, retry, dead, failed
	Detail  string    `json:"detail,omitempty"`
}

// summary is the line of a packet in the list, as the page receives it.
type summary struct {
	ID         int64     `json:"id"`
	Time       time.Time `json:"time"`
	Direction  Direction `json:"direction"`
	Command    string    `json:"command"`
	Connector  string    `json:"connector"`
	Line       string    `json:"line"`
	Items      int       `json:"items"`     // DATA's items (a call: its first argument's); -1: not read
	Signature  string    `json:"signature"` // valid, invalid, missing, signed, unchecked
	Status     int       `json:"status"`    // the HTTP status of the answer; 0: none
	Code       string    `json:"code"`      // OK, the protocol codes of a refusal, HTTP n, or NETWORK
	DurationMS float64   `json:"duration_ms"`
	ReplayOf   int64     `json:"replay_of,omitempty"`
	Notes      int       `json:"notes"`
	Outcome    string    `json:"outcome,omitempty"` // the notes in short: "1 duplicate", "1 fired"
	Replayable bool      `json:"replayable"`
}

// record is one packet as kept in the ring: what it looked like on the wire, unmasked (masking happens when
// it is shown).
type record struct {
	sum       summary
	url       string      // where it went: the request's URL as received, or the target
	method    string      // the request's method; "" is POST
	fields    wire.Fields // the form as sent; nil when the body was not a form or too long
	body      []byte      // the body when it was not a form (a webhook's JSON); nil otherwise
	truncated bool        // the body was longer than MaxBody
	answer    []byte
	detail    string // why there is no answer (a transport error)
	notes     []Note
	itemIDs   []int64
	size      int
}

// Recorder keeps the last packets a side took and sent, in a ring of bounded size, and streams them to the
// pages that watch. Feed it with Incoming (the handler of received packets) and Outgoing (the transport of
// sent ones), and Note (what was done with their items); show it with Handler. Safe for concurrent use.
type Recorder struct {
	opt  Options
	mask *masker

	mu     sync.Mutex
	ring   []*record // ring[(start+i)%len(ring)], i < n: oldest first
	start  int
	n      int
	bytes  int
	nextID int64
	byItem map[int64]int64 // item id → packet id, for the notes of later attempts
	subs   map[*subscriber]struct{}
	target replayTarget
}

// NewRecorder returns an empty Recorder.
func NewRecorder(o Options) *Recorder {
	o = o.withDefaults()
	return &Recorder{opt: o, mask: newMasker(o.Secrets, o.SecretKeys), ring: make([]*record, o.Packets), nextID: 1,
		byItem: map[int64]int64{}, subs: map[*subscriber]struct{}{}}
}

// ctxKey carries, in a request's context, the record of the packet being handled.
type ctxKey struct{}

type pending struct {
	r   *Recorder // the recorder whose record it is (a process may run several)
	mu  sync.Mutex
	rec *record
}

// Note records n for the packet being handled in ctx (a context that came through Incoming), or else for
// the packet whose item n.ItemID is, while that packet is in the ring; otherwise it is dropped.
func (r *Recorder) Note(ctx context.Context, n Note) {
	if n.Time.IsZero() {
		n.Time = r.opt.Clock.Now()
	}
	n.Detail = truncate(n.Detail, 2048)
	if p, _ := ctx.Value(ctxKey{}).(*pending); p != nil && p.r == r {
		p.mu.Lock()
		addNote(p.rec, n)
		p.mu.Unlock()
		return
	}
	if n.ItemID == 0 {
		return
	}
	r.mu.Lock()
	rec := r.lookup(r.byItem[n.ItemID])
	if rec == nil {
		r.mu.Unlock()
		return
	}
	addNote(rec, n)
	r.publish(r.event("packet", r.viewSummary(rec)))
	r.mu.Unlock()
}

// maxNotes bounds the notes of one packet (a packet of 50 items with a few attempts each).
const maxNotes = 500

func addNote(rec *record, n Note) {
	if n.Event == "" && n.ItemID != 0 { // a later attempt fires what the item's first note named
		for i := len(rec.notes) - 1; i >= 0; i-- {
			if rec.notes[i].ItemID == n.ItemID && rec.notes[i].Event != "" {
				n.Event = rec.notes[i].Event
				break
			}
		}
	}
	if len(rec.notes) < maxNotes {
		rec.notes = append(rec.notes, n)
	}
	if n.ItemID != 0 && (len(rec.itemIDs) == 0 || rec.itemIDs[len(rec.itemIDs)-1] != n.ItemID) {
		rec.itemIDs = append(rec.itemIDs, n.ItemID)
	}
	rec.sum.Notes = len(rec.notes)
	rec.sum.Outcome = outcome(rec.notes)
}

// outcome sums up the notes of a packet: the last result of each item, counted.
func outcome(notes []Note) string {
	last := map[string]string{}
	order := []string{}
	counts := map[string]int{}
	for i, n := range notes {
		key := fmt.Sprint("id", n.ItemID)
		switch {
		case n.ItemID != 0:
		case n.Item >= 0:
			key = fmt.Sprint("item", n.Item)
		default:
			key = fmt.Sprint("note", i) // neither id nor index: each note counts
		}
		if prev, ok := last[key]; ok {
			counts[prev]--
		}
		last[key] = n.Result
		if _, ok := counts[n.Result]; !ok {
			order = append(order, n.Result)
		}
		counts[n.Result]++
	}
	out := ""
	for _, res := range order {
		if counts[res] <= 0 {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%d %s", counts[res], res)
	}
	return out
}

// begin starts the record of a packet; finish puts it in the ring.
func (r *Recorder) begin(ctx context.Context, dir Direction) (context.Context, *pending) {
	p := &pending{r: r, rec: &record{sum: summary{Time: r.opt.Clock.Now(), Direction: dir, Items: -1}}}
	// The replayed packet is the first one received in the replay's context (not a call made meanwhile).
	if h, _ := ctx.Value(replayKey{}).(*replayed); h != nil && dir == In && h.p == nil && h.r == r {
		p.rec.sum.ReplayOf = h.of
		h.p = p
	}
	return context.WithValue(ctx, ctxKey{}, p), p
}

func (r *Recorder) finish(p *pending) {
	p.mu.Lock()
	rec := p.rec
	rec.sum.DurationMS = float64(r.opt.Clock.Now().Sub(rec.sum.Time).Microseconds()) / 1000
	rec.size = len(rec.body) + len(rec.answer) + 256
	for _, f := range rec.fields {
		rec.size += len(f.Name) + len(f.Value) + 32
	}
	p.mu.Unlock()

	r.mu.Lock()
	rec.sum.ID = r.nextID
	r.nextID++
	if r.n == len(r.ring) {
		r.evict()
	}
	r.ring[(r.start+r.n)%len(r.ring)] = rec
	r.n++
	r.bytes += rec.size
	for r.bytes > r.opt.Bytes && r.n > 1 {
		r.evict()
	}
	for _, id := range rec.itemIDs {
		r.byItem[id] = rec.sum.ID
	}
	r.publish(r.event("packet", r.viewSummary(rec)))
	if r.opt.Trace != nil {
		r.trace(rec)
	}
	r.mu.Unlock()
}

// evict drops the oldest record; r.mu is held.
func (r *Recorder) evict() {
	old := r.ring[r.start]
	r.ring[r.start] = nil
	r.start = (r.start + 1) % len(r.ring)
	r.n--
	r.bytes -= old.size
	for _, id := range old.itemIDs {
		if r.byItem[id] == old.sum.ID {
			delete(r.byItem, id)
		}
	}
}

// lookup returns the record of packet id while it is in the ring; r.mu is held.
func (r *Recorder) lookup(id int64) *record {
	oldest := r.nextID - int64(r.n)
	if id < oldest || id >= r.nextID {
		return nil
	}
	return r.ring[(r.start+int(id-oldest))%len(r.ring)]
}

// get returns a copy of the record of packet id, and whether it is in the ring.
func (r *Recorder) get(id int64) (record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.lookup(id)
	if rec == nil {
		return record{}, false
	}
	c := *rec
	c.notes = append([]Note(nil), rec.notes...)
	return c, true
}

// summaries returns the lines of the newest packets, at most limit, oldest first; r.mu is held.
func (r *Recorder) summaries(limit int) []summary {
	from := max(0, r.n-limit)
	out := make([]summary, 0, r.n-from)
	for i := from; i < r.n; i++ {
		out = append(out, r.viewSummary(r.ring[(r.start+i)%len(r.ring)]))
	}
	return out
}

// viewSummary is the summary of rec as shown: masked, with whether it can be replayed.
func (r *Recorder) viewSummary(rec *record) summary {
	s := rec.sum
	s.Command, s.Connector, s.Line = r.mask.text(s.Command), r.mask.text(s.Connector), r.mask.text(s.Line)
	s.Replayable = rec.sum.Direction == In && rec.fields != nil && r.opt.Sign != nil && r.target.h != nil
	return s
}

// subscriber is one page's stream: frames to write, dropped (and the page reconnects) when it falls behind.
type subscriber struct {
	ch   chan []byte
	gone chan struct{}
	once sync.Once
}

func (s *subscriber) drop() { s.once.Do(func() { close(s.gone) }) }

// subscribe registers a stream and returns it with the frame of the ring as it is now, so that the stream
// misses nothing and repeats nothing.
func (r *Recorder) subscribe(limit int) (*subscriber, []byte) {
	s := &subscriber{ch: make(chan []byte, 1024), gone: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs[s] = struct{}{}
	return s, r.event("reset", map[string]any{"packets": r.summaries(limit), "kept": r.n, "total": r.nextID - 1,
		"ring": len(r.ring)})
}

func (r *Recorder) unsubscribe(s *subscriber) {
	r.mu.Lock()
	delete(r.subs, s)
	r.mu.Unlock()
	s.drop()
}

// event formats one server-sent event; r.mu is held (or the value is the caller's own).
func (r *Recorder) event(name string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{}`)
	}
	out := make([]byte, 0, len(b)+32)
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, "\ndata: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}

// publish hands a frame to every stream, in the order of the ring (r.mu is held); a stream whose buffer is
// full is dropped rather than waited for.
func (r *Recorder) publish(frame []byte) {
	for s := range r.subs {
		select {
		case s.ch <- frame:
		default:
			delete(r.subs, s)
			s.drop()
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
