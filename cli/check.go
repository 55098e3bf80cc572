package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// Statuses of a check row.
const (
	checkOK   = "ok"
	checkWarn = "warn"
	checkFail = "fail"
	checkSkip = "skip"
)

// Clock skew limits: the replay window of hardened signatures, and the skew worth a warning.
const (
	skewLimit = wire.DefaultReplayWindow
	skewWarn  = 60 * time.Second
)

// checkRow is one check of `olctl check`.
type checkRow struct {
	Name      string   `json:"name"`
	Status    string   `json:"status"`
	LatencyMS *float64 `json:"latency_ms"`
	Detail    string   `json:"detail"`
	// Category of a failure: config, network, auth or server.
	Category string `json:"category,omitempty"`
	// Codes are the protocol codes of a refused call.
	Codes []string `json:"codes,omitempty"`
}

// checkReport is the JSON document of one `olctl check` run.
type checkReport struct {
	OK       bool       `json:"ok"`
	ExitCode int        `json:"exit_code"`
	Time     time.Time  `json:"time"`
	Server   string     `json:"server"`
	Domain   string     `json:"domain"`
	Signing  string     `json:"signing"`
	Checks   []checkRow `json:"checks"`
}

// CheckOptions are the inputs of `olctl check`.
type CheckOptions struct {
	Context    context.Context
	IO         IO
	Config     func() (*Config, error)
	HTTPClient func() (*http.Client, error)
	Clock      clock.Clock

	// Watch repeats the checks at this interval until the context ends; 0 runs them once.
	Watch time.Duration
	// DB is the portal database whose status of the line is read (--db; default OLCTL_PORTAL_DB, else
	// portal.db); "" reads none. DBGiven says --db named it, so that it must exist.
	DB      string
	DBGiven bool
}

// NewCmdCheck builds `olctl check`.
func NewCmdCheck(f *Factory, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{IO: f.IO, Config: f.Config, HTTPClient: f.HTTPClient, Clock: f.Clock}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check connectivity to the connector server, for people and scripts",
		Long: `Check, in order: the configuration is complete; DNS, TCP and TLS to the server (with latency and the
certificate's expiry; the global --ca-file trusts a test server's certificate, --insecure verifies none); a
signed testConnect is accepted (telling a network failure, LICENCE_ERROR/REPLAY and other codes apart; skipped
without --connector, since testConnect tests a connector); the clock skew against the server's Date header
(fatal beyond 300 s with hmac-sha256 signing); listConnector; that the connector server reaches this portal
back at --domain ("portal": a testConnect with an empty LINE, which the server answers by calling the
portal's endpoint, so that a portal the server cannot reach fails here, from where the server runs); and,
with --connector and --line, the line: its status on the connector server ("line", from infoConnect) and in
the portal database that 'olctl serve' lets messages in by ("portal db", --db). A line that is not connected
or was deactivated, on either side, fails.

Exit status: 0 all checks passed (warnings pass), 1 a check failed, 2 usage or configuration error.
With --watch the checks repeat until interrupted, a report each (with --json, one JSON document per line);
the exit status is that of the last run.`,
		Example: `  olctl check
  olctl check --json | jq '.checks[] | select(.status == "fail")'
  olctl check --watch 30s --json >> checks.jsonl
  olctl check --server https://connector.test:8443 --ca-file test-ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			envDefault(cmd, "db", envPortalDB, &opts.DB, f.LookupEnv)
			opts.DBGiven = cmd.Flags().Changed("db")
			if opts.Watch < 0 {
				return usageErrorf("--watch %v: must be positive", opts.Watch)
			}
			if runF != nil {
				return runF(opts)
			}
			return checkRun(opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Watch, "watch", 0, "repeat the checks every DURATION (e.g. 30s) until interrupted")
	cmd.Flags().StringVar(&opts.DB, "db", defaultPortalDB, `portal database whose line status is read (SQLite path, mysql://… or `+
		`postgres://…; env `+envPortalDB+`; "" reads none)`)
	return cmd
}

func checkRun(opts *CheckOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	hc, err := opts.HTTPClient()
	if err != nil {
		return err
	}
	ctx := opts.Context
	for n := 0; ; n++ {
		rep := runChecks(ctx, opts, cfg, hc)
		if n > 0 && !cfg.JSON() {
			fmt.Fprintln(opts.IO.Out)
		}
		if err := printCheck(opts.IO, cfg, rep, opts.Watch > 0); err != nil {
			return err
		}
		if opts.Watch == 0 || rep.ExitCode == ExitUsage {
			return checkExit(rep.ExitCode)
		}
		select {
		case <-ctx.Done():
			return checkExit(rep.ExitCode)
		case <-opts.Clock.After(opts.Watch):
		}
	}
}

func checkExit(code int) error {
	if code == ExitOK {
		return nil
	}
	return &ExitError{Code: code, Silent: true}
}

func printCheck(ios IO, cfg *Config, rep *checkReport, watching bool) error {
	if cfg.JSON() && watching { // a document per line, for a log of checks
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = ios.Out.Write(append(b, '\n'))
		return err
	}
	if cfg.JSON() {
		return writeJSON(ios.Out, rep)
	}
	if watching {
		fmt.Fprintf(ios.Out, "check at %s\n", rep.Time.Format(time.RFC3339))
	}
	tbl := &Table{Header: []string{"CHECK", "STATUS", "LATENCY", "DETAIL"}}
	for _, r := range rep.Checks {
		lat := ""
		if r.LatencyMS != nil {
			lat = formatMS(*r.LatencyMS)
		}
		tbl.Append(r.Name, statusMark(ios, r.Status), lat, r.Detail)
	}
	return writeTable(ios, tbl)
}

// statusMark shows a status, with a symbol on a terminal.
func statusMark(ios IO, s string) string {
	if !ios.OutTTY {
		return s
	}
	switch s {
	case checkOK:
		return "✓ ok"
	case checkFail:
		return "✗ fail"
	case checkWarn:
		return "! warn"
	}
	return "- " + s
}

func formatMS(ms float64) string {
	if ms >= 100 {
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
}

// checker runs the checks of one report.
type checker struct {
	clock clock.Clock
	hc    *http.Client
	cfg   *Config
	rep   *checkReport
	opts  *CheckOptions
}

func (c *checker) add(r checkRow) *checkRow {
	c.rep.Checks = append(c.rep.Checks, r)
	return &c.rep.Checks[len(c.rep.Checks)-1]
}

func (c *checker) skip(reason string, names ...string) {
	for _, n := range names {
		c.add(checkRow{Name: n, Status: checkSkip, Detail: reason})
	}
}

// since returns the milliseconds since start on the factory's clock.
func (c *checker) since(start time.Time) *float64 {
	ms := float64(c.clock.Now().Sub(start).Microseconds()) / 1000
	return &ms
}

func runChecks(ctx context.Context, opts *CheckOptions, cfg *Config, hc *http.Client) *checkReport {
	rep := &checkReport{Time: opts.Clock.Now().UTC(), Server: cfg.Server, Domain: cfg.Domain, Signing: string(cfg.Signing),
		Checks: []checkRow{}}
	c := &checker{clock: opts.Clock, hc: hc, cfg: cfg, rep: rep, opts: opts}
	c.run(ctx)
	rep.ExitCode = ExitOK
	for _, r := range rep.Checks {
		if r.Status == checkFail {
			rep.ExitCode = ExitFailed
			if r.Category == "config" {
				rep.ExitCode = ExitUsage
			}
			break
		}
	}
	rep.OK = rep.ExitCode == ExitOK
	return rep
}

// Names of the checks after the network's, in order.
const (
	checkPortal   = "portal"    // the connector server calls this portal back
	checkLine     = "line"      // the line's status on the connector server
	checkPortalDB = "portal db" // the line's status in the portal database
)

var afterConfig = []string{"dns", "tcp", "tls", openlines.MethodTestConnect, "clock", openlines.MethodListConnector,
	checkPortal, checkLine, checkPortalDB}

// afterCalls are the checks that need the signed calls to pass.
var afterCalls = []string{openlines.MethodListConnector, checkPortal, checkLine, checkPortalDB}

func (c *checker) run(ctx context.Context) {
	cl, err := newClient(c.cfg, c.hc, c.clock, client.WithRetry(client.Retry{}), client.WithCacheTTL(0))
	if err != nil {
		c.add(checkRow{Name: "config", Status: checkFail, Detail: err.Error(), Category: "config"})
		c.skip("configuration incomplete", afterConfig...)
		return
	}
	detail := fmt.Sprintf("server %s, domain %s, signing %s", c.cfg.Server, c.cfg.Domain, c.cfg.Signing)
	if c.cfg.File != "" {
		detail += ", file " + c.cfg.File
	}
	c.add(checkRow{Name: "config", Status: checkOK, Detail: detail})

	u, _ := url.Parse(c.cfg.Server) // parsed by client.New already
	if c.network(ctx, u) {
		c.signed(ctx, cl)
	}
}

// network runs the DNS, TCP and TLS checks, and reports whether the server is reachable.
func (c *checker) network(ctx context.Context, u *url.URL) bool {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	dctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var addrs []string
	start := c.clock.Now()
	if ip := net.ParseIP(host); ip != nil {
		addrs = []string{host}
		c.add(checkRow{Name: "dns", Status: checkOK, Detail: host + " is an IP address, no lookup"})
	} else {
		var err error
		addrs, err = net.DefaultResolver.LookupHost(dctx, host)
		if err != nil {
			c.add(checkRow{Name: "dns", Status: checkFail, LatencyMS: c.since(start), Detail: err.Error(), Category: "network"})
			c.skip("no address", afterConfig[1:]...)
			return false
		}
		c.add(checkRow{Name: "dns", Status: checkOK, LatencyMS: c.since(start),
			Detail: host + " → " + strings.Join(addrs, ", ")})
	}

	start = c.clock.Now()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", net.JoinHostPort(addrs[0], port))
	if err != nil {
		c.add(checkRow{Name: "tcp", Status: checkFail, LatencyMS: c.since(start), Detail: err.Error(), Category: "network"})
		c.skip("not connected", afterConfig[2:]...)
		return false
	}
	defer conn.Close()
	c.add(checkRow{Name: "tcp", Status: checkOK, LatencyMS: c.since(start), Detail: "connected to " + conn.RemoteAddr().String()})

	if u.Scheme != "https" {
		c.add(checkRow{Name: "tls", Status: checkSkip, Detail: "plain http: no TLS"})
		return true
	}
	start = c.clock.Now()
	tc := tls.Client(conn, c.tlsConfig(host))
	if err := tc.HandshakeContext(dctx); err != nil {
		c.add(checkRow{Name: "tls", Status: checkFail, LatencyMS: c.since(start), Detail: err.Error(), Category: "network"})
		c.skip("TLS failed", afterConfig[3:]...)
		return false
	}
	st := tc.ConnectionState()
	row := checkRow{Name: "tls", Status: checkOK, LatencyMS: c.since(start), Detail: tls.VersionName(st.Version)}
	if len(st.PeerCertificates) > 0 {
		cert := st.PeerCertificates[0]
		left := cert.NotAfter.Sub(c.clock.Now())
		row.Detail += fmt.Sprintf(", certificate valid until %s (%d days)", cert.NotAfter.UTC().Format("2006-01-02"),
			int(left.Hours()/24))
		if left < 14*24*time.Hour {
			row.Status = checkWarn
		}
	}
	if c.tlsInsecure() {
		row.Status = checkWarn
		row.Detail += "; not verified (--insecure)"
	}
	c.add(row)
	return true
}

// tlsConfig verifies the server's certificate as the factory's HTTP client does: against its roots
// (--ca-file, a test's), else the system's, or not at all (--insecure).
func (c *checker) tlsConfig(host string) *tls.Config {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if t, ok := c.hc.Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		conf = t.TLSClientConfig.Clone()
	}
	conf.ServerName = host
	return conf
}

// tlsInsecure reports whether the factory's HTTP client verifies no certificate (--insecure).
func (c *checker) tlsInsecure() bool {
	t, ok := c.hc.Transport.(*http.Transport)
	return ok && t.TLSClientConfig != nil && t.TLSClientConfig.InsecureSkipVerify
}

// signed runs testConnect (skipped without a connector: it tests one), the clock skew from its answer,
// listConnector (whose answer gives the clock skew when testConnect was skipped), then the portal's and the
// line's checks.
func (c *checker) signed(ctx context.Context, cl *client.Client) {
	if c.cfg.Connector == "" {
		c.add(checkRow{Name: openlines.MethodTestConnect, Status: checkSkip, Detail: "no connector to test (--connector)"})
		res, lat, received, err := c.call(ctx, cl, openlines.MethodListConnector, client.Fresh())
		c.clockSkew(answerHeader(res, err), received)
		c.listed(res, err, lat)
		if err != nil && ExitCode(err) != ExitFailed {
			c.skip("listConnector failed", afterCalls[1:]...)
			return
		}
		c.portal(ctx, cl, firstConnector(res, err))
		c.line(ctx, cl)
		return
	}
	res, lat, received, err := c.call(ctx, cl, openlines.MethodTestConnect)
	if err != nil {
		row := failedCall(openlines.MethodTestConnect, err)
		row.LatencyMS = lat
		c.add(row)
	} else {
		detail := "accepted"
		var d struct {
			Result string `json:"RESULT"`
		}
		if res.Decode(&d) == nil && d.Result != "" {
			detail = "accepted, RESULT " + d.Result
		}
		c.add(checkRow{Name: openlines.MethodTestConnect, Status: checkOK, LatencyMS: lat, Detail: detail})
	}
	c.clockSkew(answerHeader(res, err), received)
	if err != nil && ExitCode(err) != ExitFailed {
		c.skip("testConnect failed", afterCalls...)
		return
	}
	res, lat, _, err = c.call(ctx, cl, openlines.MethodListConnector, client.Fresh())
	c.listed(res, err, lat)
	c.portal(ctx, cl, c.cfg.Connector)
	c.line(ctx, cl)
}

// firstConnector is the first connector id of listConnector's answer, "" when it failed or listed none.
func firstConnector(res *client.Result, err error) string {
	if err != nil {
		return ""
	}
	if ids := connectorIDs(res.Raw); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// call makes one call and returns its outcome, its latency and when the answer was in.
func (c *checker) call(ctx context.Context, cl *client.Client, method string, opts ...client.CallOption) (*client.Result, *float64, time.Time, error) {
	start := c.clock.Now()
	res, err := cl.Call(ctx, method, nil, opts...)
	return res, c.since(start), c.clock.Now(), err
}

// listed adds the row of listConnector's outcome.
func (c *checker) listed(res *client.Result, err error, lat *float64) {
	if err != nil {
		row := failedCall(openlines.MethodListConnector, err)
		row.LatencyMS = lat
		c.add(row)
		return
	}
	c.add(checkRow{Name: openlines.MethodListConnector, Status: checkOK, LatencyMS: lat, Detail: describeList(res.Raw)})
}

// answerHeader returns the headers of a call's answer, failed or not (nil when none arrived).
func answerHeader(res *client.Result, err error) http.Header {
	var ce *client.Error
	switch {
	case err == nil:
		return res.Header
	case errors.As(err, &ce):
		return ce.Header
	}
	return nil
}

// failedCall describes a failed remote call by its category.
func failedCall(name string, err error) checkRow {
	row := checkRow{Name: name, Status: checkFail, Detail: err.Error(), Category: category(ExitCode(err))}
	var ce *client.Error
	if errors.As(err, &ce) {
		for _, code := range ce.Codes() {
			row.Codes = append(row.Codes, string(code))
		}
		row.Detail = describeCallError(ce)
	}
	return row
}

// describeCallError says what went wrong without the client's prefix.
func describeCallError(ce *client.Error) string {
	var parts []string
	for _, e := range ce.Errors {
		parts = append(parts, e.Error())
	}
	s := strings.Join(parts, "; ")
	switch {
	case isAuth(ce):
		s = "refused: " + s
	case ExitCode(ce) == ExitNetwork:
		s = "network: " + s
	}
	return s
}

func (c *checker) clockSkew(h http.Header, received time.Time) {
	date := h.Get("Date")
	if date == "" {
		c.add(checkRow{Name: "clock", Status: checkSkip, Detail: "no Date header from the server"})
		return
	}
	t, err := http.ParseTime(date)
	if err != nil {
		c.add(checkRow{Name: "clock", Status: checkWarn, Detail: fmt.Sprintf("unreadable Date header %q", date)})
		return
	}
	skew := t.Sub(received.Truncate(time.Second))
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	row := checkRow{Name: "clock", Status: checkOK, Detail: fmt.Sprintf("server clock %+ds from ours (±1s)", int(skew.Round(time.Second)/time.Second))}
	switch {
	case abs > skewLimit && c.cfg.Signing == wire.HMACSHA256:
		row.Status, row.Category = checkFail, "auth"
		row.Detail += fmt.Sprintf(": beyond the %v replay window, hmac-sha256 packets are refused as REPLAY", skewLimit)
	case abs > skewWarn:
		row.Status = checkWarn
		row.Detail += "; fix the clock (NTP)"
	}
	c.add(row)
}

// describeList summarises listConnector's DATA: the number of connectors and their ids.
func describeList(raw json.RawMessage) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		ids := make([]string, 0, len(obj))
		for k := range obj {
			ids = append(ids, k)
		}
		sort.Strings(ids)
		return plural(len(ids), "connector") + listTail(ids)
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		ids := make([]string, 0, len(list))
		for _, item := range list {
			var s string
			if json.Unmarshal(item, &s) == nil {
				ids = append(ids, s)
				continue
			}
			var o struct {
				ID any `json:"id"`
			}
			if json.Unmarshal(item, &o) == nil && o.ID != nil {
				ids = append(ids, fmt.Sprint(o.ID))
			}
		}
		return plural(len(list), "connector") + listTail(ids)
	}
	return "answered"
}

func listTail(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	if len(ids) > 8 {
		ids = append(ids[:8:8], "…")
	}
	return ": " + strings.Join(ids, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
