package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/olctl/olctl/wire"
)

// Settings are a connector's settings as saveSettings takes them and readSettings returns them (for Bot
// Framework: bot_handle, app_id, app_secret). Keys are sent in sorted order; readSettings masks secrets.
type Settings map[string]any

// String returns the value under key (matched exactly, else ignoring case) as a string: strings as they
// are, numbers and booleans formatted, anything else "".
func (s Settings) String(key string) string { return Data(s).String(key) }

// Data is a JSON object answered by the server, for answers whose keys depend on the channel.
type Data map[string]any

// Get returns the value under key, matched exactly, else ignoring case.
func (d Data) Get(key string) (any, bool) {
	if v, ok := d[key]; ok {
		return v, true
	}
	for k, v := range d {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// String returns the value under key as a string: strings as they are, numbers and booleans formatted,
// anything else (absent, null, arrays, objects) "".
func (d Data) String(key string) string {
	v, _ := d.Get(key)
	return scalarString(v)
}

// scalarString formats a decoded JSON scalar; anything else is "".
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool, float64, int, int64:
		return fmt.Sprint(x)
	}
	return ""
}

// ConnectorEntry is one connector of listConnector: its id and display name.
type ConnectorEntry struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ConnectorInfo is the answer of infoConnect: what the messenger side of a connected line looks like (the bot's
// id, name, public link, …). ID, Name, URL and URLIM are read from the keys id, name, url and url_im (any
// case); Data holds the whole answer.
type ConnectorInfo struct {
	ID    string
	Name  string
	URL   string
	URLIM string
	Data  Data
}

// ConnectorStatus is the state of one connector of a line, as infoConnectorsLine reports it: the flags of
// PROTOCOL.md §7 (read from ACTIVE, CONNECTION, REGISTER, ERROR in any case; true, 1, "Y" and "1" count as
// set) and the whole entry in Data.
type ConnectorStatus struct {
	Active     bool
	Connection bool
	Register   bool
	Error      bool
	Data       Data
}

// SaveSettings calls saveSettings(settings): it stores the connector's settings on the server. The cache is
// dropped.
func (c *Client) SaveSettings(ctx context.Context, settings Settings, opts ...CallOption) error {
	_, err := c.CallWith(ctx, "saveSettings", []any{settings}, opts...)
	return err
}

// TestConnect calls testConnect(): the server checks the saved settings against the messenger. It is retried
// as a read. An answer whose DATA is false, or whose DATA.RESULT is present and not "OK", is
// FAILED_TO_TEST_CONNECTOR.
func (c *Client) TestConnect(ctx context.Context, opts ...CallOption) error {
	const method = "testConnect"
	res, err := c.CallWith(ctx, method, nil, opts...)
	if err != nil {
		return err
	}
	cc := c.callConfig(method, opts)
	switch x := res.Data().(type) {
	case bool:
		if !x {
			return c.resultError(method, cc, res, wire.Errorf(wire.CodeFailedTestConnector, "the server answered false"))
		}
	case map[string]any:
		if r, ok := Data(x).Get("RESULT"); ok {
			if s, _ := r.(string); !strings.EqualFold(s, "OK") && r != true {
				return c.resultError(method, cc, res, wire.Errorf(wire.CodeFailedTestConnector, "the server answered RESULT %v", r))
			}
		}
	}
	return nil
}

// Register calls register(): the server activates the connector for the line. It returns the server's DATA
// (channel-specific, e.g. the webhook address to configure at the messenger). The cache is dropped.
func (c *Client) Register(ctx context.Context, opts ...CallOption) (Data, error) {
	return c.callData(ctx, "register", nil, opts)
}

// Unregister calls unregister(): the connector stops serving the line but keeps its settings. The cache is
// dropped.
func (c *Client) Unregister(ctx context.Context, opts ...CallOption) error {
	_, err := c.CallWith(ctx, "unregister", nil, opts...)
	return err
}

// DeleteConnector calls deleteConnector(): the server forgets the line's connector and its settings. The
// cache is dropped.
func (c *Client) DeleteConnector(ctx context.Context, opts ...CallOption) error {
	_, err := c.CallWith(ctx, "deleteConnector", nil, opts...)
	return err
}

// ReadSettings calls readSettings(): the connector's saved settings, secrets masked. Retried as a read.
func (c *Client) ReadSettings(ctx context.Context, opts ...CallOption) (Settings, error) {
	d, err := c.callData(ctx, "readSettings", nil, opts)
	return Settings(d), err
}

// InfoConnect calls infoConnect(), through the cache (see WithCacheTTL and Fresh).
func (c *Client) InfoConnect(ctx context.Context, opts ...CallOption) (*ConnectorInfo, error) {
	v, err := c.cached(ctx, "infoConnect", opts, func(res *Result) (any, error) {
		var d Data
		if err := res.Decode(&d); err != nil {
			return nil, err
		}
		return &ConnectorInfo{ID: d.String("id"), Name: d.String("name"), URL: d.String("url"),
			URLIM: d.String("url_im"), Data: d}, nil
	})
	if err != nil {
		return nil, err
	}
	info := *v.(*ConnectorInfo)
	info.Data = maps.Clone(info.Data)
	return &info, nil
}

// InfoConnectLink calls infoConnectLink(), through the cache: the public links of the connected channel(s).
func (c *Client) InfoConnectLink(ctx context.Context, opts ...CallOption) (Data, error) {
	v, err := c.cached(ctx, "infoConnectLink", opts, func(res *Result) (any, error) {
		var d Data
		err := res.Decode(&d)
		return d, err
	})
	if err != nil {
		return nil, err
	}
	return maps.Clone(v.(Data)), nil
}

// ListConnector calls listConnector(), through the cache: the connectors the server offers, in the server's
// order. DATA may be an object {id: name} (or {id: {name: …}}) or a list of {id, name}.
func (c *Client) ListConnector(ctx context.Context, opts ...CallOption) ([]ConnectorEntry, error) {
	v, err := c.cached(ctx, "listConnector", opts, func(res *Result) (any, error) {
		return parseConnectorList(res.Raw)
	})
	if err != nil {
		return nil, err
	}
	return slices.Clone(v.([]ConnectorEntry)), nil
}

// InfoConnectorsLine calls infoConnectorsLine(lineID): the state of every connector of a line, by connector id.
// Retried as a read.
func (c *Client) InfoConnectorsLine(ctx context.Context, lineID string, opts ...CallOption) (map[string]ConnectorStatus, error) {
	const method = "infoConnectorsLine"
	res, err := c.CallWith(ctx, method, []any{lineID}, opts...)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := res.Decode(&raw); err != nil {
		return nil, c.resultError(method, c.callConfig(method, opts), res, err)
	}
	out := make(map[string]ConnectorStatus, len(raw))
	for id, r := range raw {
		var v any
		if err := decodeData(r, &v); err != nil {
			return nil, c.resultError(method, c.callConfig(method, opts), res, err)
		}
		st := ConnectorStatus{}
		switch x := v.(type) {
		case map[string]any:
			d := Data(x)
			st.Data = d
			st.Active = truthy(d, "ACTIVE")
			st.Connection = truthy(d, "CONNECTION")
			st.Register = truthy(d, "REGISTER")
			st.Error = truthy(d, "ERROR")
		default:
			st.Active = isTrue(x)
		}
		out[id] = st
	}
	return out, nil
}

// DeleteLine calls deleteLine(lineID): the server forgets every connector of the line. The cache is dropped.
func (c *Client) DeleteLine(ctx context.Context, lineID string, opts ...CallOption) error {
	_, err := c.CallWith(ctx, "deleteLine", []any{lineID}, opts...)
	return err
}

// SendMessage calls sendMessage(messages), fire-and-forget: operator messages to the messenger. For a real
// botframework connector the chat context (from, service_url) is merged from the WithChatContext store.
func (c *Client) SendMessage(ctx context.Context, msgs []OutgoingMessage, opts ...CallOption) error {
	return c.sendMessages(ctx, "sendMessage", msgs, opts)
}

// UpdateMessage calls updateMessage(messages), fire-and-forget, with the chat context merged as SendMessage.
func (c *Client) UpdateMessage(ctx context.Context, msgs []OutgoingMessage, opts ...CallOption) error {
	return c.sendMessages(ctx, "updateMessage", msgs, opts)
}

// DeleteMessage calls deleteMessage(messages), fire-and-forget, with the chat context merged as SendMessage.
func (c *Client) DeleteMessage(ctx context.Context, msgs []OutgoingMessage, opts ...CallOption) error {
	return c.sendMessages(ctx, "deleteMessage", msgs, opts)
}

// SetStatusDelivered calls setStatusDelivered(items), fire-and-forget: the portal confirms the messages it
// processed (PROTOCOL.md §5.1 step 6), so that the server stops redelivering them.
func (c *Client) SetStatusDelivered(ctx context.Context, items []StatusItem, opts ...CallOption) error {
	_, err := c.CallWith(ctx, "setStatusDelivered", []any{items}, opts...)
	return err
}

// SetStatusReading calls setStatusReading(items), fire-and-forget: the operator has read these messages.
func (c *Client) SetStatusReading(ctx context.Context, items []StatusItem, opts ...CallOption) error {
	_, err := c.CallWith(ctx, "setStatusReading", []any{items}, opts...)
	return err
}

// InitializeReceiveMessages calls initializeReceiveMessages(status), fire-and-forget: the line starts (true)
// or stops (false) taking messages.
func (c *Client) InitializeReceiveMessages(ctx context.Context, status bool, opts ...CallOption) error {
	_, err := c.CallWith(ctx, "initializeReceiveMessages", []any{status}, opts...)
	return err
}

// Connect connects a line's connector: saveSettings(settings) → testConnect() → register(), stopping at the
// first failure with a *ConnectError naming the step under its protocol code (FAILED_TO_SAVE_SETTINGS_CONNECTOR,
// FAILED_TO_TEST_CONNECTOR, FAILED_REGISTER_CONNECTOR). It returns register's DATA.
func (c *Client) Connect(ctx context.Context, settings Settings, opts ...CallOption) (Data, error) {
	if err := c.SaveSettings(ctx, settings, opts...); err != nil {
		return nil, &ConnectError{Step: "saveSettings", Code: wire.CodeFailedSaveSettings, Err: err}
	}
	if err := c.TestConnect(ctx, opts...); err != nil {
		return nil, &ConnectError{Step: "testConnect", Code: wire.CodeFailedTestConnector, Err: err}
	}
	d, err := c.Register(ctx, opts...)
	if err != nil {
		return nil, &ConnectError{Step: "register", Code: wire.CodeFailedRegister, Err: err}
	}
	return d, nil
}

func (c *Client) sendMessages(ctx context.Context, method string, msgs []OutgoingMessage, opts []CallOption) error {
	cc := c.callConfig(method, opts)
	if len(msgs) == 0 {
		return &Error{Method: method, Connector: cc.connector, Line: cc.line, Err: errors.New("no messages to send")}
	}
	merged, err := c.withChatContext(ctx, cc.connector, msgs)
	if err != nil {
		return &Error{Method: method, Connector: cc.connector, Line: cc.line, Err: err}
	}
	_, err = c.CallWith(ctx, method, []any{merged}, opts...)
	return err
}

// callData makes a call whose DATA is an object (or absent, [] or true, all read as an empty object).
func (c *Client) callData(ctx context.Context, method string, args []any, opts []CallOption) (Data, error) {
	res, err := c.CallWith(ctx, method, args, opts...)
	if err != nil {
		return nil, err
	}
	if b, ok := res.Data().(bool); ok && b {
		return Data{}, nil // a bare true: success without details
	}
	var d Data
	if err := res.Decode(&d); err != nil {
		return nil, c.resultError(method, c.callConfig(method, opts), res, err)
	}
	if d == nil {
		d = Data{}
	}
	return d, nil
}

// cached runs a read through the cache; parse turns the answer into the value kept.
func (c *Client) cached(ctx context.Context, method string, opts []CallOption, parse func(*Result) (any, error)) (any, error) {
	cc := c.callConfig(method, opts)
	key := method + "\x00" + cc.connector + "\x00" + cc.line
	v, err := c.cache.get(ctx, key, cc.fresh, func(ctx context.Context) (any, error) {
		res, err := c.call(ctx, method, nil, cc)
		if err != nil {
			return nil, err
		}
		v, err := parse(res)
		if err != nil {
			return nil, c.resultError(method, cc, res, err)
		}
		return v, nil
	})
	if err != nil {
		var e *Error
		if !errors.As(err, &e) { // the caller's context ended while waiting
			err = &Error{Method: method, Connector: cc.connector, Line: cc.line, Err: err}
		}
		return nil, err
	}
	return v, nil
}

// resultError is an answer that arrived but does not have the shape its method promises.
func (c *Client) resultError(method string, cc callConfig, res *Result, err error) *Error {
	e := &Error{Method: method, Connector: cc.connector, Line: cc.line, StatusCode: res.StatusCode,
		Header: res.Header, Attempts: res.Attempts}
	var we *wire.Error
	if errors.As(err, &we) {
		e.Errors = []*wire.Error{we}
	} else {
		e.Err = err
	}
	return e
}

func truthy(d Data, key string) bool {
	v, _ := d.Get(key)
	return isTrue(v)
}

func isTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case json.Number:
		return x.String() != "0" && x.String() != "0.0"
	case string:
		switch strings.ToLower(x) {
		case "y", "yes", "1", "true", "on":
			return true
		}
	}
	return false
}

// parseConnectorList reads listConnector's DATA keeping the server's order.
func parseConnectorList(raw json.RawMessage) ([]ConnectorEntry, error) {
	var v any
	if err := decodeData(raw, &v); err != nil {
		return nil, err
	}
	out := []ConnectorEntry{}
	switch v.(type) {
	case nil:
		return out, nil
	case []any:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		for i, it := range items {
			var s string
			if json.Unmarshal(it, &s) == nil {
				out = append(out, ConnectorEntry{ID: s, Name: s})
				continue
			}
			var d Data
			if err := json.Unmarshal(it, &d); err != nil {
				return nil, fmt.Errorf("listConnector item #%d is neither a string nor an object: %w", i+1, err)
			}
			e := ConnectorEntry{ID: d.String("id"), Name: d.String("name")}
			if e.ID == "" {
				return nil, fmt.Errorf("listConnector item #%d has no id", i+1)
			}
			out = append(out, e)
		}
		return out, nil
	case map[string]any:
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		if _, err := dec.Token(); err != nil { // {
			return nil, err
		}
		for dec.More() {
			tk, err := dec.Token()
			if err != nil {
				return nil, err
			}
			id, _ := tk.(string)
			var val any
			if err := dec.Decode(&val); err != nil {
				return nil, err
			}
			e := ConnectorEntry{ID: id, Name: scalarString(val)}
			switch x := val.(type) {
			case map[string]any:
				d := Data(x)
				e.Name = d.String("name")
				if s := d.String("id"); s != "" {
					e.ID = s
				}
			}
			out = append(out, e)
		}
		return out, nil
	}
	return nil, fmt.Errorf("listConnector DATA is a %T, not a list or an object", v)
}
