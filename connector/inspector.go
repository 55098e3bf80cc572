package connector

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/olctl/olctl/inspect"
	"github.com/olctl/olctl/wire"
)

// startInspect makes the recorder of Config.Inspect: the configured sites' keys and secrets masked,
// packets checked and replays signed with the credentials of the site that BX_LICENCE names (a line's
// webhook URL is shown whole, as register answers it to the portal); c.HTTPClient is replaced by a copy whose transport records the pushes to portals.
func (s *Server) startInspect(c *Config) {
	if c.Inspect == nil {
		return
	}
	o := *c.Inspect
	o.Secrets = append([]string{}, o.Secrets...)
	for _, site := range c.Sites {
		o.Secrets = append(o.Secrets, site.Secrets...)
		if site.LicenceKey != "" {
			sum := md5.Sum([]byte(site.LicenceKey))
			o.Secrets = append(o.Secrets, site.LicenceKey, hex.EncodeToString(sum[:]))
		}
	}
	if o.Clock == nil {
		o.Clock = c.Clock
	}
	if o.Verify == nil {
		o.Verify = func(f wire.Fields) error {
			site, err := s.siteOf(f)
			if err != nil {
				return err
			}
			return wire.Verify(f, site.site.credentials(), nil)
		}
	}
	if o.Sign == nil {
		o.Sign = func(f wire.Fields) (wire.Fields, error) {
			site, err := s.siteOf(f)
			if err != nil {
				return nil, err
			}
			return site.signer.Sign(f)
		}
	}
	s.rec = inspect.NewRecorder(o)
	hc := *c.HTTPClient
	hc.Transport = s.rec.Outgoing(hc.Transport)
	c.HTTPClient = &hc
}

// siteOf returns the site a packet of a portal names by BX_LICENCE.
func (s *Server) siteOf(f wire.Fields) (*siteRec, error) {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	return s.store.siteByLicence(ctx, f.Get("BX_LICENCE"))
}

// Inspector returns the live inspector of the server (see package inspect): every packet portals sent it
// and every webhook, every packet it pushed, each line with its status flags, queue depth, block and next
// attempt, and the dead letters with a redrive button. It needs Config.Inspect (else it answers 404). It
// answers whoever reaches it: guard it (inspect.Guard) and mount it under a path that ends in a slash.
func (s *Server) Inspector() http.Handler {
	if s.rec == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the connector server's inspector is off: set connector.Config.Inspect", http.StatusNotFound)
		})
	}
	return s.rec.Handler(inspect.Page{Title: "Connector server", State: s.inspectState,
		Redrive: func(ctx context.Context, id string) (int, error) {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("connector: dead letter %q: not an item id", id)
			}
			return s.Redrive(ctx, n)
		}})
}

// inspectState is the server's side of the inspector.
func (s *Server) inspectState(ctx context.Context) (inspect.State, error) {
	qs, err := s.store.QueueStats(ctx)
	if err != nil {
		return inspect.State{}, err
	}
	lines, err := s.store.lineFlags(ctx)
	if err != nil {
		return inspect.State{}, err
	}
	dead, err := s.store.DeadLetters(ctx, QueueFilter{Limit: 100})
	if err != nil {
		return inspect.State{}, err
	}
	out := inspect.State{Stats: []inspect.Stat{
		{Label: "Queued items", Value: strconv.Itoa(qs.Pending)},
		{Label: "Blocked lines", Value: strconv.Itoa(qs.Blocked)},
		{Label: "Dead letters", Value: strconv.Itoa(qs.Dead)},
	}}
	lanes := map[[2]string]LaneStats{}
	for _, l := range qs.Lines {
		lanes[[2]string{l.Site, l.Line}] = l
	}
	t := inspect.Table{Title: "Lines", Empty: "No line is connected.", Columns: []string{"Site", "Line", "Connector",
		"Status", "Queued", "State", "Attempts", "Blocked until", "Next attempt", "Dead"}}
	seen := map[[2]string]bool{}
	for _, l := range lines {
		key := [2]string{l.site, l.line}
		seen[key] = true
		t.Rows = append(t.Rows, s.laneRow(l.site, l.line, l.connector, l.flags(), lanes[key]))
	}
	for _, l := range qs.Lines { // queues of lines whose connector is gone
		if !seen[[2]string{l.Site, l.Line}] {
			t.Rows = append(t.Rows, s.laneRow(l.Site, l.Line, "", "(no line connector)", l))
		}
	}
	letters := inspect.Table{Title: "Dead letters", Row: "dead letter", Empty: "No dead letter.", Columns: []string{"Item", "Site", "Line",
		"Command", "Connector", "Chat", "Message", "Attempts", "Died"}}
	for _, d := range dead {
		id := strconv.FormatInt(d.ID, 10)
		letters.Rows = append(letters.Rows, inspect.Row{ID: id, Redrive: true, Cells: []string{id, d.Site, d.Line,
			d.Command, d.Connector, d.ChatID, d.MessageID, strconv.Itoa(d.Attempts), stamp(d.DeadAt)}})
	}
	out.Tables = []inspect.Table{t, letters}
	return out, nil
}

// laneRow is a line's row: its block ends with the next attempt, or, after the schedule's last, with its
// items moving to the dead letters.
func (s *Server) laneRow(site, line, connector, flags string, l LaneStats) inspect.Row {
	state, blocked, next := l.State, "", ""
	switch l.State {
	case "":
		state = "idle"
	case "blocked":
		blocked, next = stamp(l.NextAt), stamp(l.NextAt)
		if l.Attempts >= len(s.cfg.Queue.Schedule) {
			next = "dead letters at " + stamp(l.NextAt)
		}
	case "awaiting":
		next = "confirmation due by " + stamp(l.NextAt)
	case "ready":
		next = "now"
	}
	return inspect.Row{ID: site + " " + line + " " + connector, Cells: []string{site, line, connector, flags,
		strconv.Itoa(l.Pending), state, strconv.Itoa(l.Attempts), blocked, next, strconv.Itoa(l.Dead)}}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// lineFlag is a line connector's status as the inspector lists it.
type lineFlag struct {
	site, line, connector                 string
	active, connection, registered, error bool
}

func (l lineFlag) flags() string {
	var out []string
	for _, f := range []struct {
		on   bool
		name string
	}{{l.active, "ACTIVE"}, {l.connection, "CONNECTION"}, {l.registered, "REGISTER"}, {l.error, "ERROR"}} {
		if f.on {
			out = append(out, f.name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, " ")
}

// lineFlags lists every line connector with its status, by site and line.
func (s *Store) lineFlags(ctx context.Context) ([]lineFlag, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.domain, l.line, l.connector, l.active, l.connection, l.registered, l.error
		FROM conn_line l JOIN conn_site s ON s.id = l.site_id ORDER BY s.domain, l.line, l.connector`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []lineFlag
	for rows.Next() {
		var l lineFlag
		var a, c, r, e int
		if err := rows.Scan(&l.site, &l.line, &l.connector, &a, &c, &r, &e); err != nil {
			return nil, err
		}
		l.active, l.connection, l.registered, l.error = a != 0, c != 0, r != 0, e != 0
		out = append(out, l)
	}
	return out, rows.Err()
}
