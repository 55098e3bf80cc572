package portal

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/olctl/olctl/inspect"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// startInspect makes the recorder of Config.Inspect, with the portal's credentials as secrets, its signature
// check and a signer for replays, and records the calls of cfg.HTTPClient (a copy: the caller's client is
// left alone).
func (p *Portal) startInspect(cfg *Config) error {
	if cfg.Inspect == nil {
		return nil
	}
	o := *cfg.Inspect
	creds := cfg.Credentials
	o.Secrets = append(append([]string{}, o.Secrets...), creds.Secrets...)
	if creds.LicenceKey != "" {
		sum := md5.Sum([]byte(creds.LicenceKey))
		o.Secrets = append(o.Secrets, creds.LicenceKey, hex.EncodeToString(sum[:]))
	}
	if o.Clock == nil {
		o.Clock = p.clock
	}
	signer, err := wire.NewSigner(creds, p.clock)
	if err != nil {
		return fmt.Errorf("%w: credentials: %w", ErrConfig, err)
	}
	if o.Verify == nil {
		o.Verify = func(f wire.Fields) error { return wire.Verify(f, creds, nil) }
	}
	if o.Sign == nil {
		o.Sign = signer.Sign
	}
	p.rec = inspect.NewRecorder(o)
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		*hc = *cfg.HTTPClient
	}
	hc.Transport = p.rec.Outgoing(hc.Transport)
	cfg.HTTPClient = hc
	return nil
}

// Inspector returns the live inspector of the portal (see package inspect): every packet it took and sent,
// the events fired for each item, the items waiting for a retry and the dead letters with a redrive
// button. It needs Config.Inspect (else it answers 404). It answers whoever reaches it: mount it behind
// the backend's own authentication (or inspect.Guard), under a path that ends in a slash.
func (p *Portal) Inspector() http.Handler {
	if p.rec == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the portal's inspector is off: set portal.Config.Inspect", http.StatusNotFound)
		})
	}
	return p.rec.Handler(inspect.Page{Title: "Portal receiver", State: p.inspectState, Redrive: p.inspectRedrive})
}

// note tells the inspector what happened to an item; without one it costs a nil check.
func (p *Portal) note(ctx context.Context, item int, id int64, attempt int, event, result string, err error) {
	if p.rec == nil {
		return
	}
	n := inspect.Note{Item: item, ItemID: id, Attempt: attempt, Event: event, Result: result}
	if err != nil {
		n.Detail = err.Error()
	}
	p.rec.Note(ctx, n)
}

// noteSettled tells the inspector how an attempt ended (see settle).
func (p *Portal) noteSettled(ctx context.Context, id int64, attempt int, command string, state itemState, due time.Time, err error) {
	if p.rec == nil {
		return
	}
	n := inspect.Note{Item: -1, ItemID: id, Attempt: attempt, Result: "fired"}
	if command != openlines.CommandReceivingMessage {
		n.Event = commandEvents[command]
	}
	switch state {
	case itemRejected:
		n.Result = "rejected"
	case itemPending:
		n.Result = "retry"
		n.Detail = "next attempt at " + due.UTC().Format(time.RFC3339)
	case itemDead:
		n.Result = "dead"
	}
	if err != nil {
		if n.Detail != "" {
			n.Detail += ": "
		}
		n.Detail += err.Error()
	}
	p.rec.Note(ctx, n)
}

// messageEvents name the subscription each receivingMessage type fires.
var messageEvents = map[openlines.MessageType]string{
	openlines.MessageNew: "OnReceivedMessage", openlines.MessageUpdate: "OnReceivedMessageUpdate",
	openlines.MessageDelete: "OnReceivedMessageDel", openlines.MessagePost: "OnReceivedPost",
	openlines.MessagePostUpdate: "OnReceivedPostUpdate", openlines.MessageCommandStart: "OnReceivedCommandStart",
	openlines.MessageTypingStart: "OnReceivedStatusWrites",
}

// commandEvents name the subscription the items of the other commands fire.
var commandEvents = map[string]string{
	openlines.CommandReceivingStatusDelivery: "OnReceivedStatusDelivery",
	openlines.CommandReceivingStatusReading:  "OnReceivedStatusReading",
	openlines.CommandReceivingError:          "OnReceivedError",
	openlines.CommandReceivingStatusBlock:    "OnReceivedStatusBlock",
	openlines.CommandSetChatName:             "OnNewChatName",
	openlines.CommandDeactivateConnector:     "OnUpdateStatusConnector",
}

// inspectState is the portal's side of the inspector: the figures of the item store, the items waiting for
// a retry and the dead letters.
func (p *Portal) inspectState(ctx context.Context) (inspect.State, error) {
	st, err := p.ItemStats(ctx)
	if err != nil {
		return inspect.State{}, err
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	out := inspect.State{Stats: []inspect.Stat{
		{Label: "Waiting for a retry", Value: strconv.FormatInt(st.Pending, 10)},
		{Label: "Dead letters", Value: strconv.FormatInt(st.Dead, 10)},
		{Label: "Fired", Value: u(st.Fired)}, {Label: "Duplicates skipped", Value: u(st.Duplicates)},
		{Label: "Rejected", Value: u(st.Rejected)}, {Label: "Failed attempts", Value: u(st.Failures)},
		{Label: "Retries run", Value: u(st.Retries)},
	}}
	pending, err := p.pendingItems(ctx, 100)
	if err != nil {
		return inspect.State{}, err
	}
	retry := inspect.Table{Title: "Waiting for a retry", Empty: "No item waits for a retry.",
		Columns: []string{"Item", "Command", "Connector", "Line", "Attempts", "Next attempt", "Last error"}}
	for _, it := range pending {
		retry.Rows = append(retry.Rows, inspect.Row{ID: strconv.FormatInt(it.id, 10), Cells: []string{
			strconv.FormatInt(it.id, 10), it.command, it.connector, it.line, strconv.Itoa(it.attempts),
			time.UnixMilli(it.due).UTC().Format(time.RFC3339), it.lastErr}})
	}
	dead, err := p.DeadLetters(ctx, 0, 100)
	if err != nil {
		return inspect.State{}, err
	}
	letters := inspect.Table{Title: "Dead letters", Row: "dead letter", Empty: "No dead letter.",
		Columns: []string{"Item", "Command", "Connector", "Line", "Attempts", "Died", "Last error"}}
	for _, d := range dead {
		id := strconv.FormatInt(d.ID, 10)
		letters.Rows = append(letters.Rows, inspect.Row{ID: id, Redrive: true, Cells: []string{id, d.Command, d.Connector,
			d.Line, strconv.Itoa(d.Attempts), d.Died.Format(time.RFC3339), d.LastError}})
	}
	out.Tables = []inspect.Table{retry, letters}
	return out, nil
}

// pendingItems returns up to limit items waiting for an attempt, the earliest due first.
func (p *Portal) pendingItems(ctx context.Context, limit int) ([]storedItem, error) {
	rows, err := p.items.db.QueryContext(ctx, `SELECT id, command, connector, line_id, body, attempts, due_at, last_error, created_at
		FROM olctl_portal_items WHERE state = 0 ORDER BY due_at LIMIT `+strconv.Itoa(limit))
	if err != nil {
		return nil, fmt.Errorf("portal: reading pending items: %w", err)
	}
	return scanItems(rows)
}

func (p *Portal) inspectRedrive(ctx context.Context, id string) (int, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("portal: dead letter %q: not an item id", id)
	}
	return p.Redrive(ctx, n)
}
