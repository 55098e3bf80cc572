package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// EchoID is the real connector id of the echo channel.
const EchoID = "echo"

// Echo is a minimal channel for tests and demos. Its "messenger" is the webhook itself: a JSON body (one item
// object, a list of items, or {"items": [...]}) in the shape of docs/protocol.md §7.1 becomes receivingMessage
// items, in order; keys of an item are kept in their JSON order. Two optional keys of an item are taken out:
// "command" (the server → portal command, default receivingMessage) and "dedup" (the DedupKey; default
// "<command>|<type_message>|<chat.id>|<message.id>", so a retried webhook is queued once). A command that is
// not one of openlines.Commands (in its exact case), or a receivingMessage item without user.id, message.id
// or chat.id, is refused (400, BAD_PACKET) and nothing of the body is queued.
//
// Send records every item (see Sent) and reports a receivingStatusDelivery per item with the message id
// "echo-<n>"; with the setting fail_send=Y it reports a receivingError per item instead. Settings:
// entity (the Registration.EntityKey, for uniqueness), fail_test=Y (TestConnect fails), fail_register=Y,
// token (a secret, masked by readSettings).
type Echo struct {
	clk  clock.Clock
	mu   sync.Mutex
	sent []Sent
	seq  int64
}

// Sent is one item an Echo channel was asked to send.
type Sent struct {
	Site, Line, Connector, Method string
	Item                          any
}

// NewEcho is the Factory of the echo channel.
func NewEcho(env Env) (Channel, error) { return &Echo{clk: clock.Or(env.Clock)}, nil }

// ID returns "echo".
func (e *Echo) ID() string { return EchoID }

// SecretKeys returns ["token"].
func (e *Echo) SecretKeys() []string { return []string{"token"} }

// SaveSettings keeps every key; an empty entity is refused when entity_required=Y.
func (e *Echo) SaveSettings(_ context.Context, l *Line, in map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if k == "" {
			return nil, wire.Errorf(wire.CodeFailedSaveSettings, "a setting has an empty name")
		}
		out[k] = v
	}
	if out["entity_required"] == "Y" && out["entity"] == "" {
		return nil, wire.Errorf(wire.CodeFailedSaveSettings, "setting entity is required")
	}
	return out, nil
}

// TestConnect fails when fail_test=Y.
func (e *Echo) TestConnect(_ context.Context, l *Line) error {
	if l.Settings["fail_test"] == "Y" {
		return wire.Errorf(wire.CodeFailedTestConnector, "echo: fail_test is set")
	}
	return nil
}

// Register reports the entity setting as the entity key; fails when fail_register=Y.
func (e *Echo) Register(_ context.Context, l *Line) (Registration, error) {
	if l.Settings["fail_register"] == "Y" {
		return Registration{}, wire.Errorf(wire.CodeFailedRegister, "echo: fail_register is set")
	}
	return Registration{EntityKey: l.Settings["entity"], Info: map[string]any{"webhook": l.WebhookURL}}, nil
}

// Unregister does nothing.
func (e *Echo) Unregister(context.Context, *Line) error { return nil }

// Info returns the webhook URL and entity.
func (e *Echo) Info(l *Line) map[string]any {
	return map[string]any{"name": "echo", "webhook": l.WebhookURL, "entity": l.Settings["entity"]}
}

// Receive decodes the JSON body into items.
func (e *Echo) Receive(_ context.Context, l *Line, _ *http.Request, body []byte) ([]Incoming, error) {
	v, err := decodeOrderedJSON(body)
	if err != nil {
		return nil, wire.Errorf(wire.CodeBadPacket, "echo webhook: %v", err)
	}
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case *wire.Map:
		if items, ok := x.Get("items"); ok {
			l, ok := items.([]any)
			if !ok {
				return nil, wire.Errorf(wire.CodeBadPacket, "echo webhook: items is not a list")
			}
			list = l
		} else {
			list = []any{x}
		}
	default:
		return nil, wire.Errorf(wire.CodeBadPacket, "echo webhook: body is not a JSON object or list")
	}
	if len(list) == 0 {
		return nil, wire.Errorf(wire.CodeBadPacket, "echo webhook: no items")
	}
	out := make([]Incoming, 0, len(list))
	for i, it := range list {
		m, ok := it.(*wire.Map)
		if !ok {
			return nil, wire.Errorf(wire.CodeBadPacket, "echo webhook: items[%d] is not an object", i)
		}
		in := Incoming{Command: openlines.CommandReceivingMessage, Connector: l.Connector}
		rest := &wire.Map{Entries: make([]wire.Entry, 0, len(m.Entries))}
		dedup, hasDedup := "", false
		for _, en := range m.Entries {
			switch en.Key {
			case "command":
				in.Command = fmt.Sprint(en.Value)
			case "dedup":
				dedup, hasDedup = fmt.Sprint(en.Value), true
			default:
				rest.Entries = append(rest.Entries, en)
			}
		}
		if !slices.Contains(openlines.Commands(), in.Command) {
			// An item a portal can never take would block its line until it became a dead letter.
			return nil, wire.Errorf(wire.CodeBadPacket, "echo webhook: items[%d].command %.64q is not a command a portal knows (%s)",
				i, in.Command, strings.Join(openlines.Commands(), ", "))
		}
		if in.Command == openlines.CommandReceivingMessage {
			for _, p := range [][2]string{{"user", "id"}, {"message", "id"}, {"chat", "id"}} {
				if scalarString(path(rest, p[0], p[1])) == "" {
					return nil, wire.Errorf(wire.CodeBadPacket, "echo webhook: items[%d].%s.%s is missing", i, p[0], p[1])
				}
			}
		}
		if !hasDedup {
			dedup = in.Command + "|" + scalarString(path(rest, "type_message")) + "|" +
				scalarString(path(rest, "chat", "id")) + "|" + scalarString(path(rest, "message", "id"))
		}
		in.DedupKey = dedup
		in.Item = rest
		out = append(out, in)
	}
	return out, nil
}

// Send records the items and reports their delivery (or errors with fail_send=Y).
func (e *Echo) Send(_ context.Context, l *Line, method string, items []any) ([]Incoming, error) {
	out := make([]Incoming, 0, len(items))
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, it := range items {
		if _, ok := it.(*wire.Map); !ok {
			return nil, fmt.Errorf("echo: item %d is not an array", i)
		}
		var m openlines.OutgoingMessage
		if err := wire.Bind(path(it, "im"), &m.IM); err != nil {
			return nil, fmt.Errorf("echo: item %d: im: %w", i, err)
		}
		if err := wire.Bind(path(it, "chat"), &m.Chat); err != nil {
			return nil, fmt.Errorf("echo: item %d: chat: %w", i, err)
		}
		e.sent = append(e.sent, Sent{Site: l.SiteDomain, Line: l.LineID, Connector: l.Connector, Method: method, Item: it})
		if l.Settings["fail_send"] == "Y" {
			out = append(out, Incoming{Command: openlines.CommandReceivingError, Connector: l.Connector, Item: openlines.ErrorItem{
				Code: openlines.ErrorNotSendMessageChat, ChatID: m.IM.ChatID, MessageID: m.IM.MessageID,
				MessageConnector: "fail_send is set", Params: openlines.ErrorParams{ErrorCode: "ECHO_FAIL"},
			}})
			continue
		}
		if method != openlines.MethodSendMessage {
			continue
		}
		e.seq++
		out = append(out, Incoming{Command: openlines.CommandReceivingStatusDelivery, Connector: l.Connector, Item: openlines.StatusDeliveryItem{
			IM:      m.IM,
			Message: openlines.Message{ID: []string{"echo-" + strconv.FormatInt(e.seq, 10)}, Date: e.clk.Now().Unix()},
			Chat:    openlines.Chat{ID: m.Chat.ID},
		}})
	}
	return out, nil
}

// Sent returns a copy of the items sent so far, in order.
func (e *Echo) Sent() []Sent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Sent(nil), e.sent...)
}

// path walks nested maps by key.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(*wire.Map)
		if !ok {
			return nil
		}
		v, _ = m.Get(k)
	}
	return v
}

func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "1"
		}
		return ""
	}
	return ""
}

// decodeOrderedJSON decodes JSON keeping object key order: objects become *wire.Map, arrays []any, numbers
// int64 when they fit, else json.Number.
//
// A valid body (json.Valid, encoding/json's own scanner) is read by orderedJSON, a few times cheaper than
// json.Decoder.Token, which allocates per token; an invalid one goes through the decoder for its errors.
func decodeOrderedJSON(body []byte) (any, error) {
	if json.Valid(body) {
		p := orderedJSON{b: body}
		return p.value(0)
	}
	return decodeJSONTokens(body)
}

// decodeJSONTokens is decodeOrderedJSON by json.Decoder tokens.
func decodeJSONTokens(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := jsonValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// orderedJSON reads a JSON text already known to be valid.
type orderedJSON struct {
	b []byte
	i int
}

func (p *orderedJSON) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *orderedJSON) value(depth int) (any, error) {
	if depth > wire.MaxDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	p.ws()
	switch c := p.b[p.i]; c {
	case '{':
		p.i++
		m := &wire.Map{}
		for {
			p.ws()
			if p.b[p.i] == '}' {
				p.i++
				return m, nil
			}
			if p.b[p.i] == ',' {
				p.i++
				p.ws()
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			p.i++ // ':'
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m.Set(k, v)
		}
	case '[':
		p.i++
		l := []any{}
		for {
			p.ws()
			if p.b[p.i] == ']' {
				p.i++
				return l, nil
			}
			if p.b[p.i] == ',' {
				p.i++
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
	case '"':
		return p.str()
	case 't':
		p.i += 4
		return true, nil
	case 'f':
		p.i += 5
		return false, nil
	case 'n':
		p.i += 4
		return nil, nil
	default:
		start := p.i
		for p.i < len(p.b) && strings.IndexByte("+-.0123456789eE", p.b[p.i]) >= 0 {
			p.i++
		}
		num := json.Number(p.b[start:p.i])
		if n, err := num.Int64(); err == nil {
			return n, nil
		}
		return num, nil
	}
}

// str reads a string at p.i (the opening quote). Plain ASCII is taken as it is; escapes and other bytes are
// left to encoding/json, so that both readers agree on them (invalid UTF-8 becomes U+FFFD).
func (p *orderedJSON) str() (string, error) {
	start := p.i
	plain := true
	for p.i++; p.b[p.i] != '"'; p.i++ {
		if c := p.b[p.i]; c == '\\' {
			plain = false
			p.i++
		} else if c >= utf8.RuneSelf {
			plain = false
		}
	}
	p.i++
	if plain {
		return string(p.b[start+1 : p.i-1]), nil
	}
	var s string
	err := json.Unmarshal(p.b[start:p.i], &s)
	return s, err
}

func jsonValue(dec *json.Decoder, depth int) (any, error) {
	if depth > wire.MaxDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty or truncated JSON")
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := &wire.Map{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				m.Set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return m, nil
		case '[':
			var l []any
			for dec.More() {
				v, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			if l == nil {
				l = []any{}
			}
			return l, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n, nil
		}
		return t, nil
	}
	return tok, nil
}
