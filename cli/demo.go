package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/emoji"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/inspect"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/wire"
)

// demoHop is one hop of the demo's walkthrough.
type demoHop struct {
	N          int     `json:"n"`
	Hop        string  `json:"hop"`
	From       string  `json:"from"`
	To         string  `json:"to"`
	AtMS       float64 `json:"at_ms"`
	DurationMS float64 `json:"duration_ms"`
	Detail     string  `json:"detail"`
}

// demoLoad is the result of --messages N.
type demoLoad struct {
	Messages    int     `json:"messages"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Rate        float64 `json:"rate_per_second"`
	P50MS       float64 `json:"p50_ms"`
	P90MS       float64 `json:"p90_ms"`
	P99MS       float64 `json:"p99_ms"`
	MaxMS       float64 `json:"max_ms"`
}

// demoReport is the JSON document of `olctl demo`.
type demoReport struct {
	OK        bool      `json:"ok"`
	SetupMS   float64   `json:"setup_ms"`
	Signing   string    `json:"signing"`
	Profile   string    `json:"profile"`
	Connector string    `json:"connector_url"`
	Portal    string    `json:"portal_url"`
	BotFW     string    `json:"bot_framework_url"`
	Webhook   string    `json:"webhook_url"`
	Hops      []demoHop `json:"hops"`
	Load      *demoLoad `json:"load,omitempty"`
}

// DemoOptions are the inputs of `olctl demo`.
type DemoOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)
	Clock   clock.Clock

	Messages    int           // then push this many customer messages and report rate and latency
	Concurrency int           // customer messages in flight at once with Messages
	Timeout     time.Duration // give up when the demo takes longer
	LogLevel    string        // show the components' logs on stderr at this level; "" shows none
	Keep        bool          // keep the temporary directory
}

// NewCmdDemo builds `olctl demo`.
func NewCmdDemo(f *Factory, runF func(*DemoOptions) error) *cobra.Command {
	opts := &DemoOptions{IO: f.IO, Config: f.Config, Clock: f.Clock}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run everything in one process: a customer message to the portal and an operator reply back",
		Long: `Start, in this process on loopback ports with temporary SQLite files, the fake Bot Framework service, the
connector server with the Bot Framework channel, and a portal receiver; connect a line (saveSettings →
testConnect → register, hardened hmac-sha256 signing); then send a customer message through the fake Bot
Framework to the portal and an operator reply back, and print each hop with its time. Exits 0 when every hop
arrived.

With --messages N it then pushes N customer messages (--concurrency at a time), with a progress bar on a
terminal, and reports the rate and the latency percentiles from the Bot Framework to the portal's event.`,
		Example: "  olctl demo\n  olctl demo --messages 1000\n  olctl demo --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			switch {
			case opts.Messages < 0:
				return usageErrorf("--messages %d: want 0 or more", opts.Messages)
			case opts.Concurrency <= 0:
				return usageErrorf("--concurrency %d: want 1 or more", opts.Concurrency)
			case opts.Timeout <= 0:
				return usageErrorf("--timeout %v: want a positive duration", opts.Timeout)
			}
			if runF != nil {
				return runF(opts)
			}
			return demoRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Messages, "messages", 0, "then push N customer messages and report rate and latency")
	fl.IntVar(&opts.Concurrency, "concurrency", 1, "customer messages in flight at once with --messages (SQLite has one writer: 1 is fastest)")
	fl.DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "give up when the demo takes longer")
	fl.StringVar(&opts.LogLevel, "log-level", "", "show the components' logs on stderr at this level (default: none)")
	fl.BoolVar(&opts.Keep, "keep", false, "keep the temporary directory (its path is printed)")
	return cmd
}

// demoEnv is the running demo: every component and the events seen.
type demoEnv struct {
	ios     IO
	clock   clock.Clock
	profile wire.Profile
	start   time.Time
	bf      *bftest.Server
	conn    *connector.Server
	portal  *portal.Portal
	pclient *client.Client
	portalU string
	webhook string

	mu       sync.Mutex
	waiters  []*eventWaiter
	answered map[string][]time.Time // portal answers by command
}

// eventWaiter waits for the first event match accepts.
type eventWaiter struct {
	match func(eventJSON) bool
	ch    chan eventJSON
}

func (d *demoEnv) onEvent(ev eventJSON) {
	d.mu.Lock()
	defer d.mu.Unlock()
	kept := d.waiters[:0]
	for _, w := range d.waiters {
		if w.match(ev) {
			w.ch <- ev
			continue
		}
		kept = append(kept, w)
	}
	d.waiters = kept
}

// expect registers a waiter before the action that triggers the event.
func (d *demoEnv) expect(match func(eventJSON) bool) *eventWaiter {
	w := &eventWaiter{match: match, ch: make(chan eventJSON, 1)}
	d.mu.Lock()
	d.waiters = append(d.waiters, w)
	d.mu.Unlock()
	return w
}

func (d *demoEnv) wait(ctx context.Context, w *eventWaiter, what string) (eventJSON, error) {
	select {
	case ev := <-w.ch:
		return ev, nil
	case <-ctx.Done():
		return eventJSON{}, fmt.Errorf("demo: %s never arrived: %w", what, ctx.Err())
	}
}

// recordAnswers wraps the portal's handler to note when it answered each command.
func (d *demoEnv) recordAnswers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cmd := ""
		if r.Body != nil {
			body, err := io.ReadAll(io.LimitReader(r.Body, wire.DefaultMaxBody+1))
			if err == nil {
				if fields, err := wire.ParseForm(string(body)); err == nil {
					cmd = fields.Get("BX_COMMAND")
				}
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		h.ServeHTTP(w, r)
		d.mu.Lock()
		d.answered[cmd] = append(d.answered[cmd], d.clock.Now())
		d.mu.Unlock()
	})
}

func (d *demoEnv) answeredAfter(cmd string, t time.Time) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, at := range d.answered[cmd] {
		if !at.Before(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

func (d *demoEnv) ms(t time.Time) float64 { return durMS(t.Sub(d.start)) }

func durMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func demoRun(opts *DemoOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	if opts.LogLevel != "" {
		if logger, err = newLogger(opts.IO.ErrOut, opts.LogLevel); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(opts.Context, opts.Timeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "olctl-demo-")
	if err != nil {
		return err
	}
	if opts.Keep {
		fmt.Fprintf(opts.IO.ErrOut, "demo files in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	d, err := startDemo(ctx, opts.IO, opts.Clock, cfg.Profile, dir, logger, serverInspect(inspectFlags{}, cfg))
	if d != nil {
		defer d.close()
	}
	if err != nil {
		return &ExitError{Code: ExitFailed, Err: err}
	}
	rep := &demoReport{SetupMS: durMS(opts.Clock.Now().Sub(d.start)), Signing: string(wire.HMACSHA256), Profile: cfg.Profile.String(),
		Connector: d.conn.URL(),
		Portal:    d.portalU, BotFW: d.bf.URL(), Webhook: d.webhook, Hops: []demoHop{}}
	hopErr := d.walkthrough(ctx, rep)
	if !cfg.JSON() {
		printDemoHops(opts.IO, rep) // before the load, which takes a while
	}
	if hopErr == nil && opts.Messages > 0 {
		if !cfg.JSON() {
			fmt.Fprintf(opts.IO.Out, "\nsending %d customer messages (%d at a time)…\n", opts.Messages, opts.Concurrency)
		}
		rep.Load, hopErr = d.load(ctx, opts)
	}
	rep.OK = hopErr == nil
	if cfg.JSON() {
		if err := writeJSON(opts.IO.Out, rep); err != nil {
			return err
		}
	} else {
		printDemoLoad(opts.IO, rep)
	}
	if hopErr != nil {
		return &ExitError{Code: ExitFailed, Err: hopErr}
	}
	return nil
}

func (d *demoEnv) close() {
	if d.portal != nil {
		_ = d.portal.Close()
	}
	if d.conn != nil {
		_ = d.conn.Close()
	}
	if d.bf != nil {
		d.bf.Close()
	}
}

// startDemo starts the fake Bot Framework, the connector server and the portal, and connects line 1; rec,
// when set, records the packets of both servers (--trace).
func startDemo(ctx context.Context, ios IO, clk clock.Clock, profile wire.Profile, dir string, logger *slog.Logger,
	rec *inspect.Options) (*demoEnv, error) {
	d := &demoEnv{ios: ios, clock: clk, profile: profile, start: clk.Now(), answered: map[string][]time.Time{}}
	var err error
	if d.bf, err = bftest.Start(bftest.Config{Logger: logger, Clock: clk}); err != nil {
		return d, fmt.Errorf("demo: fake Bot Framework: %w", err)
	}
	creds := wire.Credentials{Mode: wire.HMACSHA256, LicenceKey: "demo-" + randomHex(12), Secrets: []string{randomHex(32)}}
	chOpts := BFChannelOptions{Fake: d.bf.URL()}
	channels, err := chOpts.channels(logger, clk)
	if err != nil {
		return d, err
	}
	d.conn, err = connector.NewServer(connector.Config{
		DSN: "sqlite:" + filepath.Join(dir, "connector.db"), Channels: channels, Logger: logger, Clock: clk,
		Sites: []connector.Site{{LicenceKey: creds.LicenceKey, Mode: creds.Mode, Secrets: creds.Secrets,
			Profile: connector.SiteProfile(profile.String())}}, Inspect: rec,
		AllowPrivateNetworks: true, // the demo's portal and Bot Framework listen on 127.0.0.1
	})
	if err != nil {
		return d, fmt.Errorf("demo: connector server: %w", err)
	}
	d.conn.Start()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return d, err
	}
	d.portalU = "http://" + ln.Addr().String()
	d.portal, err = portal.New(ctx, portal.Config{
		Credentials: creds, ServerURL: d.conn.URL(), Domain: d.portalU, Profile: profile, DataDir: dir, Logger: logger, Clock: clk,
		FileOptions: []files.Option{files.WithAllowPrivateNetworks(true)}, Inspect: rec,
	})
	if err != nil {
		ln.Close()
		return d, fmt.Errorf("demo: portal: %w", err)
	}
	ew := &eventWriter{clock: clk, hook: d.onEvent}
	ew.subscribe(d.portal)
	srv := router.ServerLimits{}.Server(portalMux("/pub/imconnector/", d.recordAnswers(d.portal.Handler())),
		slog.NewLogLogger(logger.Handler(), slog.LevelWarn))
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()

	d.pclient = d.portal.Client()
	if d.pclient == nil {
		return d, errors.New("demo: the portal has no client")
	}
	data, err := d.pclient.Connect(ctx, client.Settings{"bot_handle": "olctl-demo-bot", "app_id": d.bf.AppID(),
		"app_secret": d.bf.AppSecret()}, client.Connector("botframework"), client.Line("1"))
	if err != nil {
		return d, fmt.Errorf("demo: connecting line 1: %w", err)
	}
	raw, _ := json.Marshal(data)
	if d.webhook = findWebhookURL(raw); d.webhook == "" {
		res, err := d.pclient.Call(ctx, "infoConnectLink", nil, client.Connector("botframework"), client.Line("1"), client.Fresh())
		if err == nil {
			d.webhook = findWebhookURL(res.Raw)
		}
	}
	if d.webhook == "" {
		return d, fmt.Errorf("demo: the connector server reported no webhook URL (register answered %s)", raw)
	}
	return d, nil
}

// walkthrough sends one customer message and one operator reply, recording each hop.
func (d *demoEnv) walkthrough(ctx context.Context, rep *demoReport) error {
	conv := "demo-conversation-" + randomHex(4)
	text := "Hello! Where is my order? :package:"
	add := func(hop, from, to string, begin, end time.Time, detail string) {
		rep.Hops = append(rep.Hops, demoHop{N: len(rep.Hops) + 1, Hop: hop, From: from, To: to, AtMS: d.ms(end),
			DurationMS: durMS(end.Sub(begin)), Detail: detail})
	}
	now := d.clock.Now
	d.start = now()

	got := d.expect(func(ev eventJSON) bool { return ev.Event == EvReceivedMessage && ev.ChatID == conv })
	t0 := now()
	id, err := d.bf.SendUserMessage(ctx, d.webhook, conv, "demo-customer", text)
	if err != nil {
		return fmt.Errorf("demo: the customer's message: %w", err)
	}
	t1 := now()
	add("customer message", "Bot Framework", "connector webhook", t0, t1, "activity "+id+" (signed JWT), queued")
	ev, err := d.wait(ctx, got, "the customer's message at the portal")
	if err != nil {
		return err
	}
	t2 := now()
	add("receivingMessage", "connector", "portal event", t1, t2, "OnReceivedMessage: "+*ev.Text)
	if t3, ok := d.waitAnswer(ctx, "receivingMessage", t0); ok {
		// The answer is timed where it was written; the event above where this goroutine saw it, which on a
		// busy machine can be later: the hop cannot end before the one it follows.
		if t3.Before(t2) {
			t3 = t2
		}
		detail := "packet acknowledged (current profile)"
		if d.profile == wire.Legacy {
			detail = "packet answered; the items confirmed with setStatusDelivered (legacy profile)"
		}
		add("OK answer", "portal", "connector", t2, t3, detail)
	}

	reply := emoji.New().ToIcons("Hi! It ships today :truck:")
	delivered := d.expect(func(ev eventJSON) bool { return ev.Event == EvReceivedStatusDelivery && ev.ChatID == conv })
	t4 := now()
	err = d.pclient.SendMessage(ctx, []openlines.OutgoingMessage{{
		IM:      openlines.IMRef{ChatID: "42", MessageID: "operator-1"},
		Message: openlines.OutgoingContent{UserID: "1", Text: reply},
		Chat:    openlines.ChatRef{ID: conv},
	}}, client.Connector(ev.Connector), client.Line(ev.Line))
	if err != nil {
		return fmt.Errorf("demo: the operator's reply: %w", err)
	}
	rec, err := d.bf.WaitFor(ctx, bftest.All(bftest.ByConversation(conv), bftest.ByOp(bftest.OpSend)))
	if err != nil {
		return fmt.Errorf("demo: the reply never reached the Bot Framework: %w", err)
	}
	t5 := rec.At
	add("sendMessage → activity", "portal", "Bot Framework", t4, t5, "operator: "+reply+" → the customer sees: "+rec.Activity.Text)
	dev, err := d.wait(ctx, delivered, "the delivery status at the portal")
	if err != nil {
		return err
	}
	t6 := now()
	add("receivingStatusDelivery", "connector", "portal event", t5, t6, "OnReceivedStatusDelivery: external id "+dev.MessageID)
	return nil
}

// waitAnswer waits (up to 10 s) for the portal's answer to a command received after t.
func (d *demoEnv) waitAnswer(ctx context.Context, cmd string, t time.Time) (time.Time, bool) {
	for i := 0; i < 5000; i++ {
		if at, ok := d.answeredAfter(cmd, t); ok {
			return at, true
		}
		select {
		case <-ctx.Done():
			return time.Time{}, false
		case <-time.After(2 * time.Millisecond):
		}
	}
	return time.Time{}, false
}

// load pushes opts.Messages customer messages and measures the latency to the portal's event.
func (d *demoEnv) load(ctx context.Context, opts *DemoOptions) (*demoLoad, error) {
	n := opts.Messages
	prefix := "load-" + randomHex(3) + " #"
	sent := make([]time.Time, n)
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	done := make(chan struct{})
	var seen int
	prog := newProgress(d.ios.ErrOut, d.ios.ErrTTY, "messages", n)
	all := d.expect(func(ev eventJSON) bool {
		if ev.Event != EvReceivedMessage || ev.RawText == nil || !strings.HasPrefix(*ev.RawText, prefix) {
			return false
		}
		i, err := strconv.Atoi(strings.TrimPrefix(*ev.RawText, prefix))
		if err != nil || i < 0 || i >= n {
			return false
		}
		now := d.clock.Now()
		mu.Lock()
		lat = append(lat, now.Sub(sent[i]))
		seen++
		c := seen
		mu.Unlock()
		prog.set(c)
		if c == n {
			close(done)
			return true
		}
		return false
	})
	_ = all

	start := d.clock.Now()
	jobs := make(chan int)
	errc := make(chan error, opts.Concurrency)
	var wg sync.WaitGroup
	for w := 0; w < opts.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			conv := fmt.Sprintf("load-conversation-%d", w)
			for i := range jobs {
				mu.Lock()
				sent[i] = d.clock.Now()
				mu.Unlock()
				if _, err := d.bf.SendUserMessage(ctx, d.webhook, conv, "load-customer", prefix+strconv.Itoa(i)); err != nil {
					errc <- err
					return
				}
			}
		}(w)
	}
	var sendErr error
feed:
	for i := 0; i < n; i++ {
		select {
		case jobs <- i:
		case sendErr = <-errc:
			break feed
		case <-ctx.Done():
			sendErr = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if sendErr == nil {
		select {
		case sendErr = <-errc:
		default:
		}
	}
	if sendErr != nil {
		prog.done()
		return nil, fmt.Errorf("demo: sending load: %w", sendErr)
	}
	select {
	case <-done:
	case <-ctx.Done():
		prog.done()
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("demo: %d of %d messages reached the portal before the timeout", seen, n)
	}
	prog.done()
	elapsed := d.clock.Now().Sub(start)
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		idx := int(float64(len(lat))*p+0.5) - 1
		if idx < 0 {
			idx = 0
		}
		if idx >= len(lat) {
			idx = len(lat) - 1
		}
		return durMS(lat[idx])
	}
	return &demoLoad{Messages: n, Concurrency: opts.Concurrency, Seconds: elapsed.Seconds(),
		Rate: float64(n) / elapsed.Seconds(), P50MS: pct(0.50), P90MS: pct(0.90), P99MS: pct(0.99), MaxMS: durMS(lat[len(lat)-1])}, nil
}

// printDemoHops prints the components and the walkthrough's hops. On a terminal a hop's FROM and TO go under
// its name, so that the table fits a narrow terminal; piped, they keep columns of their own.
func printDemoHops(ios IO, rep *demoReport) {
	w := ios.Out
	fmt.Fprintf(w, "demo on loopback (signing %s), profile %s, started in %s:\n  fake Bot Framework  %s\n"+
		"  connector server    %s\n  portal receiver     %s\n\n", rep.Signing, rep.Profile, formatMS(rep.SetupMS), rep.BotFW,
		rep.Connector, rep.Portal)
	if ios.OutTTY {
		t := &Table{Header: []string{"#", "HOP", "AT", "TOOK", "DETAIL"}}
		for _, h := range rep.Hops {
			t.Append(strconv.Itoa(h.N), h.Hop+"\n"+h.From+" → "+h.To, formatMS(h.AtMS), formatMS(h.DurationMS), h.Detail)
		}
		_ = writeTable(ios, t)
		return
	}
	t := &Table{Header: []string{"#", "HOP", "FROM", "TO", "AT", "TOOK", "DETAIL"}}
	for _, h := range rep.Hops {
		t.Append(strconv.Itoa(h.N), h.Hop, h.From, h.To, formatMS(h.AtMS), formatMS(h.DurationMS), h.Detail)
	}
	_ = writeTable(ios, t)
}

// printDemoLoad prints the figures of --messages, if any.
func printDemoLoad(ios IO, rep *demoReport) {
	w := ios.Out
	if l := rep.Load; l != nil {
		fmt.Fprintln(w)
		lt := &Table{Header: []string{"LOAD", "VALUE"}}
		lt.Append("messages", strconv.Itoa(l.Messages))
		lt.Append("concurrency", strconv.Itoa(l.Concurrency))
		lt.Append("duration", strconv.FormatFloat(l.Seconds, 'f', 2, 64)+"s")
		lt.Append("rate", strconv.FormatFloat(l.Rate, 'f', 0, 64)+" msg/s")
		lt.Append("p50", formatMS(l.P50MS))
		lt.Append("p90", formatMS(l.P90MS))
		lt.Append("p99", formatMS(l.P99MS))
		lt.Append("max", formatMS(l.MaxMS))
		_ = writeTable(ios, lt)
	}
}
