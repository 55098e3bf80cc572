package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

// portal asks the connector server to call this portal back: a testConnect with an empty LINE tests no
// connector, only that the server reaches the portal's endpoint at BX_DOMAIN and is answered there. That
// is the failure of every outage (a firewall, a wrong --domain, a portal down), and only the server, from
// where it runs, can tell it. connectorID names the connector of the call (any the server knows).
func (c *checker) portal(ctx context.Context, cl *client.Client, connectorID string) {
	if connectorID == "" {
		c.skip("no connector to name in the call (--connector)", checkPortal)
		return
	}
	_, lat, _, err := c.call(ctx, cl, openlines.MethodTestConnect, client.Connector(connectorID), client.Line(""))
	if err == nil {
		c.add(checkRow{Name: checkPortal, Status: checkOK, LatencyMS: lat,
			Detail: fmt.Sprintf("the connector server reached this portal at %s (testConnect answered)", c.cfg.Domain)})
		return
	}
	row := failedCall(checkPortal, err)
	row.LatencyMS = lat
	var ce *client.Error
	if errors.As(err, &ce) && ce.Errors[0].Code == wire.CodeFailedTestConnector {
		msg := ce.Errors[0].Message
		row.Detail = fmt.Sprintf("the connector server cannot reach this portal at %s: %s", c.cfg.Domain, msg)
		row.Category = causeCategory(msg)
	}
	c.add(row)
}

// causeCode finds the protocol code a connector server names in its message as the cause of a failure
// ("…does not answer testConnect: NETWORK_ERROR: dial tcp …").
var causeCode = regexp.MustCompile(`\b(NETWORK_ERROR|ANSWER_MALFORMED|EMPTY_SERVER_RESPONSE|LICENCE_ERROR|REPLAY|HASH_EMPTY)\b`)

// causeCategory sorts the failure of the server's call to the portal by the cause its message names:
// network (the portal cannot be reached, or does not answer in the protocol), auth (it refused the
// server's signature: their licence keys or secrets differ), server otherwise.
func causeCategory(msg string) string {
	switch wire.Code(causeCode.FindString(msg)) {
	case wire.CodeNetwork, wire.CodeAnswerMalformed, wire.CodeEmptyServerResponse:
		return category(ExitNetwork)
	case wire.CodeLicence, wire.CodeReplay, wire.CodeHashEmpty:
		return category(ExitAuth)
	}
	return category(ExitFailed)
}

// line checks the line of --connector and --line on both sides: on the connector server (infoConnect's
// STATUS) and in the portal database, whose status the line gate of `olctl serve` reads.
func (c *checker) line(ctx context.Context, cl *client.Client) {
	if c.cfg.Connector == "" || c.cfg.Line == "" {
		c.skip("no line to look at (--connector and --line)", checkLine, checkPortalDB)
		return
	}
	c.serverLine(ctx, cl)
	c.portalLine(ctx)
}

// lineName names the line of the configuration for a person: "botframework on line 3".
func (c *checker) lineName() string { return c.cfg.Connector + " on line " + c.cfg.Line }

func (c *checker) serverLine(ctx context.Context, cl *client.Client) {
	res, lat, _, err := c.call(ctx, cl, openlines.MethodInfoConnect, client.Fresh())
	if err != nil {
		row := failedCall(checkLine, err)
		row.LatencyMS = lat
		var ce *client.Error
		if errors.Is(err, wire.CodeNotActiveLine) && errors.As(err, &ce) {
			row.Detail = fmt.Sprintf("%s is not set up on the connector server (%s): connect it (olctl connect)", c.lineName(),
				describeCallError(ce))
		}
		c.add(row)
		return
	}
	st, ok := infoStatus(res.Raw)
	if !ok {
		c.add(checkRow{Name: checkLine, Status: checkWarn, LatencyMS: lat, Detail: "infoConnect answered no STATUS to read"})
		return
	}
	row := checkRow{Name: checkLine, Status: checkOK, LatencyMS: lat,
		Detail: fmt.Sprintf("%s is connected on the connector server (%s)", c.lineName(), describeStatus(st))}
	switch {
	case st.Error:
		row.Status, row.Category = checkFail, category(ExitFailed)
		row.Detail = fmt.Sprintf("%s is deactivated on the connector server (%s): connect it again (olctl connect)",
			c.lineName(), describeStatus(st))
	case !st.Open():
		row.Status, row.Category = checkFail, category(ExitFailed)
		row.Detail = fmt.Sprintf("%s is not connected on the connector server (%s): connect it (olctl connect)", c.lineName(),
			describeStatus(st))
	}
	c.add(row)
}

// infoStatus reads the STATUS of infoConnect's DATA: ACTIVE, CONNECTION, REGISTER and ERROR, each true,
// 1, "1", "Y" or "true" when set.
func infoStatus(raw json.RawMessage) (openlines.LineStatus, bool) {
	var d struct {
		Status map[string]any `json:"STATUS"`
	}
	if json.Unmarshal(raw, &d) != nil || d.Status == nil {
		return openlines.LineStatus{}, false
	}
	set := func(k string) bool {
		switch v := d.Status[k].(type) {
		case bool:
			return v
		case float64:
			return v != 0
		case string:
			return v == "1" || strings.EqualFold(v, "Y") || strings.EqualFold(v, "true")
		}
		return false
	}
	return openlines.LineStatus{Active: set("ACTIVE"), Connection: set("CONNECTION"), Register: set("REGISTER"),
		Error: set("ERROR")}, true
}

func (c *checker) portalLine(ctx context.Context) {
	dsn := strings.TrimSpace(c.opts.DB)
	if dsn == "" {
		c.skip(`no portal database (--db "")`, checkPortalDB)
		return
	}
	mode := portalIfThere
	if c.opts.DBGiven {
		mode = portalExisting
	}
	db, err := openPortalDB(ctx, dsn, mode)
	if err != nil {
		c.add(checkRow{Name: checkPortalDB, Status: checkFail, Detail: err.Error(), Category: "config"})
		return
	}
	if db == nil {
		c.skip("no portal database at "+dsn+" (--db)", checkPortalDB)
		return
	}
	defer db.Close()
	row := checkRow{Name: checkPortalDB, Status: checkOK}
	store, err := portal.NewSQLStatusStore(ctx, db, c.clock)
	var st openlines.LineStatus
	var found bool
	if err == nil {
		st, found, err = store.LookupLineStatus(ctx, openlines.RealConnector(c.cfg.Connector), c.cfg.Line)
	}
	switch {
	case err != nil:
		row.Status, row.Category, row.Detail = checkFail, category(ExitFailed), fmt.Sprintf("--db %s: %v", dsn, err)
	case !found:
		row.Status = checkWarn
		row.Detail = fmt.Sprintf("%s has no status in %s: olctl serve refuses its messages (NOT_ACTIVE_LINE) unless "+
			"--admit-unknown-lines; connect it (olctl connect)", c.lineName(), dsn)
	case st.Error:
		row.Status, row.Category = checkFail, category(ExitFailed)
		row.Detail = fmt.Sprintf("%s is deactivated in %s (%s): the connector server sent deactivateConnector (the bot was "+
			"connected to another line?); olctl serve refuses its messages until it is connected again (olctl connect)",
			c.lineName(), dsn, describeStatus(st))
	case !st.Open():
		row.Status, row.Category = checkFail, category(ExitFailed)
		row.Detail = fmt.Sprintf("%s is not connected in %s (%s): olctl serve refuses its messages (NOT_ACTIVE_LINE); "+
			"connect it (olctl connect)", c.lineName(), dsn, describeStatus(st))
	default:
		row.Detail = fmt.Sprintf("%s is connected in %s (%s): olctl serve lets its messages in", c.lineName(), dsn,
			describeStatus(st))
	}
	c.add(row)
}
