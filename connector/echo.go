package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

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
	v, err := wire.ParseJSON(body)
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
