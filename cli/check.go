package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	Signing  string     `json:"signing"`
	Checks   []checkRow `json:"checks"`
}

func newCheckCmd(f *Factory) *cobra.Command {
	var watch time.Duration
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check connectivity to the connector server, for people and scripts",
		Long: `Check, in order: the configuration is complete; DNS, TCP and TLS to the server (with latency); a signed
testConnect is accepted (telling a network failure, LICENCE_ERROR/REPLAY and other codes apart); the clock
skew against the server's Date header (fatal beyond 300 s with hmac-sha256 signing); listConnector.

Exit status: 0 all checks passed (warnings pass), 1 a check failed, 2 usage or configuration error.
With --watch the checks repeat until interrupted; the exit status is that of the last run.`,
		Example: `  olctl check
  olctl check --json | jq '.checks[] | select(.status == "fail")'
  olctl check --watch 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if watch < 0 {
				return usageErrorf("--watch %v: must be positive", watch)
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			for n := 0; ; n++ {
				rep := f.runChecks(ctx, cfg)
				if n > 0 && !cfg.JSON() {
					fmt.Fprintln(f.IO.Out)
				}
				if err := f.printCheck(cfg, rep, watch > 0); err != nil {
					return err
				}
				if watch == 0 || rep.ExitCode == ExitUsage {
					return checkExit(rep.ExitCode)
				}
				select {
				case <-ctx.Done():
					return checkExit(rep.ExitCode)
				case <-f.Clock.After(watch):
				}
			}
		},
	}
	cmd.Flags().DurationVar(&watch, "watch", 0, "repeat the checks every DURATION (e.g. 30s) until interrupted")
	return cmd
}

func checkExit(code int) error {
	if code == ExitOK {
		return nil
	}
	return &ExitError{Code: code, Silent: true}
}

func (f *Factory) printCheck(cfg *Config, rep *checkReport, watching bool) error {
	if cfg.JSON() {
		return writeJSON(f.IO.Out, rep)
	}
	if watching {
		fmt.Fprintf(f.IO.Out, "check at %s\n", rep.Time.Format(time.RFC3339))
	}
	tbl := &Table{Header: []string{"CHECK", "STATUS", "LATENCY", "DETAIL"}}
	for _, r := range rep.Checks {
		lat := ""
		if r.LatencyMS != nil {
			lat = formatMS(*r.LatencyMS)
		}
		tbl.Append(r.Name, f.statusMark(r.Status), lat, r.Detail)
	}
	return writeTable(f.IO.Out, tbl, f.IO.OutTTY)
}

// statusMark shows a status, with a symbol on a terminal.
func (f *Factory) statusMark(s string) string {
	if !f.IO.OutTTY {
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
	f   *Factory
	cfg *Config
	rep *checkReport
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
	ms := float64(c.f.Clock.Now().Sub(start).Microseconds()) / 1000
	return &ms
}

func (f *Factory) runChecks(ctx context.Context, cfg *Config) *checkReport {
	rep := &checkReport{Time: f.Clock.Now().UTC(), Server: cfg.Server, Signing: string(cfg.Signing), Checks: []checkRow{}}
	c := &checker{f: f, cfg: cfg, rep: rep}
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

var afterConfig = []string{"dns", "tcp", "tls", "testConnect", "clock", "listConnector"}

func (c *checker) run(ctx context.Context) {
	opts, err := c.f.clientOptions(c.cfg, client.WithRetry(client.Retry{}), client.WithCacheTTL(0))
	if err != nil {
		c.add(checkRow{Name: "config", Status: checkFail, Detail: err.Error(), Category: "config"})
		c.skip("configuration incomplete", afterConfig...)
		return
	}
	cl, err := client.New(c.cfg.Server, opts...)
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
	start := c.f.Clock.Now()
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

	start = c.f.Clock.Now()
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
	start = c.f.Clock.Now()
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
		left := cert.NotAfter.Sub(c.f.Clock.Now())
		row.Detail += fmt.Sprintf(", certificate valid until %s (%d days)", cert.NotAfter.UTC().Format("2006-01-02"),
			int(left.Hours()/24))
		if left < 14*24*time.Hour {
			row.Status = checkWarn
		}
	}
	c.add(row)
	return true
}

// tlsConfig verifies the server's certificate against the roots of the factory's HTTP client, if it has its
// own, else the system's.
func (c *checker) tlsConfig(host string) *tls.Config {
	var roots *x509.CertPool
	if t, ok := c.f.httpClient().Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		roots = t.TLSClientConfig.RootCAs
	}
	return &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// signed runs testConnect, the clock skew from its answer, and listConnector.
func (c *checker) signed(ctx context.Context, cl *client.Client) {
	start := c.f.Clock.Now()
	res, err := cl.Call(ctx, "testConnect", nil)
	lat := c.since(start)
	received := c.f.Clock.Now()
	var header http.Header
	if err != nil {
		row := failedCall("testConnect", err)
		row.LatencyMS = lat
		c.add(row)
		var ce *client.Error
		if errors.As(err, &ce) {
			header = ce.Header
		}
	} else {
		header = res.Header
		detail := "accepted"
		var d struct {
			Result string `json:"RESULT"`
		}
		if res.Decode(&d) == nil && d.Result != "" {
			detail = "accepted, RESULT " + d.Result
		}
		c.add(checkRow{Name: "testConnect", Status: checkOK, LatencyMS: lat, Detail: detail})
	}
	c.clockSkew(header, received)
	if err != nil && ExitCode(err) != ExitFailed {
		c.skip("testConnect failed", "listConnector")
		return
	}

	start = c.f.Clock.Now()
	res, err = cl.Call(ctx, "listConnector", nil, client.Fresh())
	lat = c.since(start)
	if err != nil {
		row := failedCall("listConnector", err)
		row.LatencyMS = lat
		c.add(row)
		return
	}
	c.add(checkRow{Name: "listConnector", Status: checkOK, LatencyMS: lat, Detail: describeList(res.Raw)})
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
