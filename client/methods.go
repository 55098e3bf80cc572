package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// Settings are a connector's settings as saveSettings takes them and readSettings returns them (for Bot
// Framework: bot_handle, app_id, app_secret). Keys go out in sorted order; readSettings masks secrets. A
// caller that needs another order passes a *wire.Map to Call.
type Settings map[string]any

// Data is a JSON object a server answered, for answers whose keys depend on the channel.
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

// String returns the value under key (as Get finds it) as text: strings as they are, numbers and booleans
// formatted, anything else (absent, null, arrays, objects) "".
func (d Data) String(key string) string {
	switch x, _ := d.Get(key); x := x.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return fmt.Sprint(x)
	}
	return ""
}

// ConnectorEntry is one connector of listConnector: its id and display name.
type ConnectorEntry struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SaveSettings calls saveSettings(settings): the server stores the connector's settings for the line. The
// line's cached answers are dropped.
func (c *Client) SaveSettings(ctx context.Context, settings Settings, opts ...CallOption) error {
	_, err := c.Call(ctx, openlines.MethodSaveSettings, []any{settings}, opts...)
	return err
}

// TestConnect calls testConnect(): the server checks the saved settings against the messenger. It is judged
// by OK alone, as Bitrix's portal judges it, and retried as a read.
func (c *Client) TestConnect(ctx context.Context, opts ...CallOption) error {
	_, err := c.Call(ctx, openlines.MethodTestConnect, nil, opts...)
	return err
}

// Register calls register(): the server activates the connector for the line. It returns the server's DATA
// (channel-specific, e.g. the webhook address to configure at the messenger; empty when none). The line's
// cached answers are dropped.
func (c *Client) Register(ctx context.Context, opts ...CallOption) (Data, error) {
	return c.callData(ctx, openlines.MethodRegister, nil, opts)
}

// Unregister calls unregister(): the connector stops serving the line but keeps its settings. The line's
// cached answers are dropped.
func (c *Client) Unregister(ctx context.Context, opts ...CallOption) error {
	_, err := c.Call(ctx, openlines.MethodUnregister, nil, opts...)
	return err
}

// DeleteConnector calls deleteConnector(): the server forgets the line's connector and its settings. The
// line's cached answers are dropped.
func (c *Client) DeleteConnector(ctx context.Context, opts ...CallOption) error {
	_, err := c.Call(ctx, openlines.MethodDeleteConnector, nil, opts...)
	return err
}

// ReadSettings calls readSettings(): the connector's saved settings, secrets masked. Retried as a read.
func (c *Client) ReadSettings(ctx context.Context, opts ...CallOption) (Settings, error) {
	d, err := c.callData(ctx, openlines.MethodReadSettings, nil, opts)
	return Settings(d), err
}

// InfoConnect calls infoConnect(): what the server knows of the line's connector (its status, links,
// channel data). Cached (WithCacheTTL, Fresh).
func (c *Client) InfoConnect(ctx context.Context, opts ...CallOption) (Data, error) {
	return c.callData(ctx, openlines.MethodInfoConnect, nil, opts)
}

// InfoConnectLink calls infoConnectLink(): the public links of the line's channel(s). Cached.
func (c *Client) InfoConnectLink(ctx context.Context, opts ...CallOption) (Data, error) {
	return c.callData(ctx, openlines.MethodInfoConnectLink, nil, opts)
}

// InfoConnectorsLine calls infoConnectorsLine(lineID), connector-less: every connector of a line, by
// connector id, each entry as the server gives it. Cached.
func (c *Client) InfoConnectorsLine(ctx context.Context, lineID string, opts ...CallOption) (map[string]Data, error) {
	res, err := c.Call(ctx, openlines.MethodInfoConnectorsLine, []any{lineID}, opts...)
	if err != nil {
		return nil, err
	}
	out := map[string]Data{}
	if err := res.Decode(&out); err != nil {
		return nil, c.shapeError(openlines.MethodInfoConnectorsLine, res, err)
	}
	return out, nil
}

// DeleteLine calls deleteLine(lineID), connector-less: the server forgets every connector of the line. The
// line's cached answers are dropped.
func (c *Client) DeleteLine(ctx context.Context, lineID string, opts ...CallOption) error {
	_, err := c.Call(ctx, openlines.MethodDeleteLine, []any{lineID}, opts...)
	return err
}

// ListConnector calls listConnector(), connector-less: the connectors the server offers, in the server's
// order. DATA may be an object {id: name} (or {id: {name: …}}) or a list of ids or of {id, name}. Cached.
func (c *Client) ListConnector(ctx context.Context, opts ...CallOption) ([]ConnectorEntry, error) {
	res, err := c.Call(ctx, openlines.MethodListConnector, nil, opts...)
	if err != nil {
		return nil, err
	}
	out, err := parseConnectorList(res.Raw)
	if err != nil {
		return nil, c.shapeError(openlines.MethodListConnector, res, err)
	}
	return out, nil
}

// callData makes a call whose DATA is an object (or does not count, read as an empty one).
func (c *Client) callData(ctx context.Context, method string, args []any, opts []CallOption) (Data, error) {
	res, err := c.Call(ctx, method, args, opts...)
	if err != nil {
		return nil, err
	}
	d := Data{}
	if len(res.Raw) > 0 && res.Raw[0] == '[' {
		return d, nil // a list where an object was expected: PHP's array of no named keys
	}
	if err := res.Decode(&d); err != nil {
		return nil, c.shapeError(method, res, err)
	}
	return d, nil
}

// shapeError is an answer that arrived but does not have the shape its method promises: ANSWER_MALFORMED.
func (c *Client) shapeError(method string, res *Result, err error) *Error {
	return &Error{Method: method, StatusCode: res.StatusCode, Header: res.Header, Attempts: res.Attempts,
		Errors: []*wire.Error{{Code: wire.CodeAnswerMalformed, Message: "DATA of " + method, Err: err}}}
}

// parseConnectorList reads listConnector's DATA keeping the server's order.
func parseConnectorList(raw json.RawMessage) ([]ConnectorEntry, error) {
	out := []ConnectorEntry{}
	if len(raw) == 0 {
		return out, nil
	}
	if raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		for i, it := range items {
			var id string
			if json.Unmarshal(it, &id) == nil {
				out = append(out, ConnectorEntry{ID: id, Name: id})
				continue
			}
			var d Data
			if err := json.Unmarshal(it, &d); err != nil || d.String("id") == "" {
				return nil, fmt.Errorf("item #%d is neither an id nor an object with an id", i+1)
			}
			out = append(out, ConnectorEntry{ID: d.String("id"), Name: d.String("name")})
		}
		return out, nil
	}
	v, err := wire.ParseJSON(raw) // an object keeps its keys' order
	if err != nil {
		return nil, err
	}
	byID, ok := v.(*wire.Map)
	if !ok {
		return nil, fmt.Errorf("the connector list is a %T, not a list or an object", v)
	}
	for _, en := range byID.Entries {
		e := ConnectorEntry{ID: wire.KeyString(en.Key)}
		switch x := en.Value.(type) {
		case string:
			e.Name = x
		case *wire.Map:
			e.Name = x.String("name")
			if id := x.String("id"); id != "" {
				e.ID = id
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Connect connects a line's connector as Bitrix's portal does (docs/protocol.md §10): saveSettings(settings)
// → testConnect() → register(), setting ACTIVE, CONNECTION and REGISTER in turn in the line status store
// (WithLineStatus) under the real connector id and the line; full success also clears ERROR. The first
// failing step stops it: its flag and the later ones are cleared, ERROR is left as it was, and the *Error
// carries the step's code (FAILED_TO_SAVE_SETTINGS_CONNECTOR, FAILED_TO_TEST_CONNECTOR,
// FAILED_REGISTER_CONNECTOR) followed by the server's errors. Connect returns register's DATA.
func (c *Client) Connect(ctx context.Context, settings Settings, opts ...CallOption) (Data, error) {
	cc := c.callConfig(openlines.MethodSaveSettings, opts)
	if err := c.refuse(ctx, openlines.MethodSaveSettings, cc); err != nil {
		return nil, err
	}
	st := connectStatus{c: c, real: openlines.RealConnector(cc.connector), line: cc.line}
	if err := st.load(ctx); err != nil {
		return nil, err
	}
	steps := []struct {
		method string
		code   wire.Code
		run    func() (Data, error)
	}{
		{openlines.MethodSaveSettings, wire.CodeFailedSaveSettings, func() (Data, error) {
			return nil, c.SaveSettings(ctx, settings, opts...)
		}},
		{openlines.MethodTestConnect, wire.CodeFailedTestConnector, func() (Data, error) {
			return nil, c.TestConnect(ctx, opts...)
		}},
		{openlines.MethodRegister, wire.CodeFailedRegister, func() (Data, error) { return c.Register(ctx, opts...) }},
	}
	var data Data
	for i, step := range steps {
		d, err := step.run()
		if err != nil {
			if serr := st.set(ctx, i, false); serr != nil {
				return nil, serr
			}
			return nil, stepError(step.method, step.code, cc, err)
		}
		if err := st.set(ctx, i, true); err != nil {
			return nil, err
		}
		data = d
	}
	return data, nil
}

// stepError is a failed Connect step: the step's code first, then the errors of the call.
func stepError(method string, code wire.Code, cc callConfig, err error) *Error {
	e := &Error{Method: method, Connector: cc.connector, Line: cc.line}
	if ce, ok := err.(*Error); ok {
		*e = *ce
	}
	e.Errors = append([]*wire.Error{wire.Errorf(code, "step %s failed", method)}, e.Errors...)
	return e
}

// connectStatus is the line status Connect writes, step by step.
type connectStatus struct {
	c          *Client
	real, line string
	s          openlines.LineStatus
}

func (st *connectStatus) load(ctx context.Context) error {
	if st.c.cfg.lineStatus == nil {
		return nil
	}
	s, err := st.c.cfg.lineStatus.LineStatus(ctx, st.real, st.line)
	if err != nil {
		return st.storeError(openlines.MethodSaveSettings, err)
	}
	st.s = s
	return nil
}

// set records the outcome of step i (0 saveSettings, 1 testConnect, 2 register): success sets its flag
// (register's also clears Error), failure clears its flag and the later ones.
func (st *connectStatus) set(ctx context.Context, step int, ok bool) error {
	if st.c.cfg.lineStatus == nil {
		return nil
	}
	flags := []*bool{&st.s.Active, &st.s.Connection, &st.s.Register}
	*flags[step] = ok
	if ok && step == len(flags)-1 {
		st.s.Error = false
	}
	if !ok || step == 0 {
		for _, f := range flags[step+1:] {
			*f = false
		}
	}
	if err := st.c.cfg.lineStatus.SetLineStatus(ctx, st.real, st.line, st.s); err != nil {
		return st.storeError([]string{openlines.MethodSaveSettings, openlines.MethodTestConnect, openlines.MethodRegister}[step], err)
	}
	return nil
}

func (st *connectStatus) storeError(method string, err error) *Error {
	return &Error{Method: method, Connector: st.real, Line: st.line,
		Errors: []*wire.Error{{Code: wire.CodeInternal, Message: "the line status store", Err: err}}}
}
