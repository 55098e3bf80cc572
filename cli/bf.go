package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
)

// bfChannelOptions configure the connector server's Bot Framework channel.
type bfChannelOptions struct {
	fake      string
	openID    string
	tokenURL  string
	anonymous bool
}

func (o *bfChannelOptions) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.fake, "bf-fake", "", "use the fake Bot Framework service at this URL (olctl bf serve) for tokens and keys")
	fl.StringVar(&o.openID, "bf-openid-url", "", "OpenID metadata of the Bot Framework's webhook token keys (default Microsoft's)")
	fl.StringVar(&o.tokenURL, "bf-token-url", "", "OAuth token endpoint of the Bot Framework (default Microsoft's)")
	fl.BoolVar(&o.anonymous, "bf-anonymous", false, "allow Bot Framework lines without app id and secret (Emulator)")
}

// channels returns the channel registry of a connector server: echo and botframework.
func (o *bfChannelOptions) channels(logger *slog.Logger, clk clock.Clock) (*connector.Channels, error) {
	var opts []botframework.Option
	openID, tokenURL := o.openID, o.tokenURL
	if o.fake != "" {
		base := strings.TrimRight(o.fake, "/")
		if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
			return nil, usageErrorf("--bf-fake %q is not an http(s) URL", o.fake)
		}
		if openID == "" {
			openID = base + bftest.OpenIDPath
		}
		if tokenURL == "" {
			tokenURL = base + bftest.TokenPath
		}
	}
	if openID != "" {
		opts = append(opts, botframework.WithOpenIDMetadataURL(openID))
	}
	if tokenURL != "" {
		opts = append(opts, botframework.WithTokenURL(tokenURL))
	}
	if o.anonymous {
		opts = append(opts, botframework.WithAnonymous())
	}
	opts = append(opts, botframework.WithLogger(logger), botframework.WithClock(clk))
	chs := connector.NewChannels()
	if err := chs.Register(botframework.ID, botframework.New(opts...)); err != nil {
		return nil, err
	}
	return chs, nil
}

type bfServiceOptions struct {
	listen    string
	noAuth    bool
	appID     string
	appSecret string
	channelID string
}

func (o *bfServiceOptions) addFlags(cmd *cobra.Command, listenDefault string) {
	fl := cmd.Flags()
	fl.StringVar(&o.listen, "listen", listenDefault, "listen address of the fake service")
	fl.BoolVar(&o.noAuth, "no-auth", false, "turn authentication off, as the Bot Framework Emulator allows")
	fl.StringVar(&o.appID, "app-id", bftest.DefaultAppID, "the bot's Microsoft app id")
	fl.StringVar(&o.appSecret, "app-secret", bftest.DefaultAppSecret, "the bot's app password")
	fl.StringVar(&o.channelID, "channel", bftest.DefaultChannelID, "channelId of the activities sent")
}

func (o *bfServiceOptions) start(f *Factory) (*bftest.Server, error) {
	s, err := bftest.Start(bftest.Config{Addr: o.listen, NoAuth: o.noAuth, AppID: o.appID, AppSecret: o.appSecret,
		ChannelID: o.channelID, Clock: f.Clock})
	if err != nil {
		return nil, fmt.Errorf("starting the fake Bot Framework service: %w", err)
	}
	return s, nil
}

func (f *Factory) printBFService(s *bftest.Server) {
	fmt.Fprintf(f.IO.ErrOut, `fake Bot Framework service on %s
  service URL:      %s
  token URL:        %s
  OpenID metadata:  %s
  app id / secret:  %s / %s
  auth:             %s
`, s.URL(), s.ServiceURL(), s.TokenURL(), s.OpenIDMetadataURL(), s.AppID(), s.AppSecret(), map[bool]string{true: "off", false: "on"}[s.NoAuth()])
}

func newBFCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bf",
		Short: "The fake Bot Framework service: run it, or send a customer message through it",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBFServeCmd(f), newBFSayCmd(f))
	return requireSubcommand(cmd)
}

// bfActivityJSON is one line `olctl bf serve` and `olctl bf say` print for an activity the bot sent.
type bfActivityJSON struct {
	At             time.Time `json:"at"`
	Op             string    `json:"op"`
	Status         int       `json:"status"`
	ConversationID string    `json:"conversation_id"`
	ActivityID     string    `json:"activity_id"`
	Text           string    `json:"text"`
	From           string    `json:"from"`
	Attachments    []string  `json:"attachments"`
}

func activityJSON(r bftest.Record) bfActivityJSON {
	a := bfActivityJSON{At: r.At.UTC(), Op: string(r.Op), Status: r.Status, ConversationID: r.ConversationID,
		ActivityID: r.ID, Text: r.Activity.Text, From: r.Activity.From.ID, Attachments: []string{}}
	if a.ActivityID == "" {
		a.ActivityID = r.ActivityID
	}
	for _, at := range r.Activity.Attachments {
		a.Attachments = append(a.Attachments, at.ContentURL)
	}
	return a
}

func newBFServeCmd(f *Factory) *cobra.Command {
	o := &bfServiceOptions{}
	var control string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the fake Bot Framework service and print every activity the bot sends",
		Long: `Run the fake Bot Framework service until interrupted: the Connector REST API (/v3/conversations/...), the
OAuth token endpoint, and the OpenID metadata and keys that sign its webhook tokens. Its URLs go to stderr;
every call the bot makes to the Connector API is printed on stdout as one JSON line.

'olctl bf say' sends customer messages through it: it listens for them on --control (local use only).
Point the connector server at it with 'olctl connector serve --bf-fake URL'.`,
		Example: "  olctl bf serve --listen 127.0.0.1:3978\n  olctl bf serve --no-auth",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.start(f)
			if err != nil {
				return err
			}
			defer s.Close()
			ln, err := net.Listen("tcp", control)
			if err != nil {
				return err
			}
			defer ln.Close()
			f.printBFService(s)
			fmt.Fprintf(f.IO.ErrOut, "  control (bf say): http://%s\n", ln.Addr())
			srv := &http.Server{Handler: f.bfControl(s), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			return f.streamActivities(cmd.Context(), s, nil, 0)
		},
	}
	o.addFlags(cmd, "127.0.0.1:3978")
	cmd.Flags().StringVar(&control, "control", "127.0.0.1:3979", "listen address for 'olctl bf say --via'")
	return cmd
}

// sayRequest is what `bf say --via` posts to a running `bf serve`.
type sayRequest struct {
	Webhook      string `json:"webhook"`
	Conversation string `json:"conversation"`
	User         string `json:"user"`
	Text         string `json:"text"`
	Replies      int    `json:"replies"`
	WaitMS       int64  `json:"wait_ms"`
}

// sayLine is one line of the control endpoint's streamed answer: first the sent activity (or an error),
// then each reply.
type sayLine struct {
	Sent     string          `json:"sent,omitempty"`
	Error    string          `json:"error,omitempty"`
	Status   int             `json:"status,omitempty"`
	Activity *bfActivityJSON `json:"activity,omitempty"`
}

// bfControl is the control endpoint of `bf serve`: POST /say sends a customer message through the service and
// streams the replies back as JSON lines.
func (f *Factory) bfControl(s *bftest.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /say", func(w http.ResponseWriter, r *http.Request) {
		var req sayRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Webhook == "" ||
			req.Conversation == "" || req.WaitMS <= 0 {
			http.Error(w, "want {webhook, conversation, user, text, replies, wait_ms}", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		flush := func() {
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(req.WaitMS)*time.Millisecond)
		defer cancel()
		seen := len(s.Records())
		id, err := s.SendUserMessage(ctx, req.Webhook, req.Conversation, req.User, req.Text)
		if err != nil {
			line := sayLine{Error: err.Error()}
			var we *bftest.WebhookError
			if errors.As(err, &we) {
				line.Status = we.StatusCode
			}
			_ = enc.Encode(line)
			return
		}
		_ = enc.Encode(sayLine{Sent: id})
		flush()
		for n := 0; n < req.Replies; {
			recs, err := s.WaitRecords(ctx, seen+1)
			if err != nil {
				return
			}
			for _, rec := range recs[seen:] {
				if rec.ConversationID != req.Conversation || n >= req.Replies {
					continue
				}
				a := activityJSON(rec)
				_ = enc.Encode(sayLine{Activity: &a})
				flush()
				n++
			}
			seen = len(recs)
		}
	})
	return mux
}

// streamActivities prints the service's records as JSON lines (only those m matches when m is set) until ctx
// ends; with want > 0 it returns once want matching records were printed.
func (f *Factory) streamActivities(ctx context.Context, s *bftest.Server, m func(bftest.Record) bool, want int) error {
	printed, seen := 0, 0
	for {
		recs, err := s.WaitRecords(ctx, seen+1)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, r := range recs[seen:] {
			if m != nil && !m(r) {
				continue
			}
			b, err := json.Marshal(activityJSON(r))
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "%s\n", b)
			printed++
			if want > 0 && printed >= want {
				return nil
			}
		}
		seen = len(recs)
	}
}

func newBFSayCmd(f *Factory) *cobra.Command {
	o := &bfServiceOptions{}
	var (
		req  sayRequest
		wait time.Duration
		via  string
	)
	cmd := &cobra.Command{
		Use:   "say --webhook URL TEXT",
		Short: "Send a customer message to a bot's webhook and print the replies that come back",
		Long: `Play a customer: post a message activity with TEXT to the bot's webhook (the line's webhook URL, with a
token signed by the fake service unless it runs with --no-auth), then print every activity the bot sends back
to that conversation, one JSON line each, until --replies arrived (exit 0) or --wait passed (exit 1).

The message goes through the 'olctl bf serve' listening at --via, so that the connector server (started with
--bf-fake) trusts its token and the bot's replies come back to it. With --via "" the command starts a fake
service of its own for the run (the --listen, --no-auth, --app-id, ... flags configure it).`,
		Example: `  olctl bf say --webhook 'http://127.0.0.1:8080/imwebhook/botframework?h=abc' "Hello, I need help"
  olctl bf say --webhook "$WEBHOOK" --conversation c1 --wait 60s "Where is my order?"
  olctl bf say --via "" --no-auth --webhook http://127.0.0.1:3978/api/messages hi`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Webhook == "" {
				return usageErrorf("missing --webhook: the bot's messaging endpoint (the line's webhook URL)")
			}
			if !strings.HasPrefix(req.Webhook, "http://") && !strings.HasPrefix(req.Webhook, "https://") {
				return usageErrorf("--webhook %q is not an http(s) URL", req.Webhook)
			}
			if wait <= 0 || req.Replies < 0 {
				return usageErrorf("--wait must be positive and --replies not negative")
			}
			req.Text = strings.Join(args, " ")
			req.WaitMS = wait.Milliseconds()
			if via != "" {
				return f.sayVia(cmd.Context(), via, req, wait)
			}
			s, err := o.start(f)
			if err != nil {
				return err
			}
			defer s.Close()
			return f.sayHere(cmd.Context(), s, req, wait)
		},
	}
	o.addFlags(cmd, "127.0.0.1:0")
	fl := cmd.Flags()
	fl.StringVar(&via, "via", "http://127.0.0.1:3979", "control URL of a running 'olctl bf serve' (\"\": start a fake of its own)")
	fl.StringVar(&req.Webhook, "webhook", "", "the bot's messaging endpoint (required)")
	fl.StringVar(&req.Conversation, "conversation", "olctl-conversation", "conversation id")
	fl.StringVar(&req.User, "user", "olctl-customer", "the customer's channel account id")
	fl.DurationVar(&wait, "wait", 10*time.Second, "how long to wait for replies")
	fl.IntVar(&req.Replies, "replies", 1, "replies to wait for (0: do not wait)")
	return cmd
}

// sayHere sends through a fake service of this process.
func (f *Factory) sayHere(ctx context.Context, s *bftest.Server, req sayRequest, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	id, err := s.SendUserMessage(ctx, req.Webhook, req.Conversation, req.User, req.Text)
	if err != nil {
		return fmt.Errorf("posting the message to the webhook: %w", err)
	}
	fmt.Fprintf(f.IO.ErrOut, "sent activity %s to %s; waiting up to %v for replies\n", id, req.Webhook, wait)
	if req.Replies == 0 {
		return nil
	}
	outer := ctx
	err = f.streamActivities(ctx, s, func(r bftest.Record) bool { return r.ConversationID == req.Conversation }, req.Replies)
	if err != nil {
		return err
	}
	if outer.Err() != nil {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("no reply within %v", wait)}
	}
	return nil
}

// sayVia sends through a running `bf serve` and prints the replies it streams back.
func (f *Factory) sayVia(ctx context.Context, via string, req sayRequest, wait time.Duration) error {
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(via, "/")+"/say", bytes.NewReader(body))
	if err != nil {
		return usageErrorf("--via %q: %v", via, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := f.httpClient().Do(hreq)
	if err != nil {
		return fmt.Errorf("no 'olctl bf serve' at --via %s (start one, or give --via \"\" to use a fake of this command's own): %w", via, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("bf serve at %s answered %s: %s", via, resp.Status, strings.TrimSpace(string(b)))
	}
	dec := json.NewDecoder(resp.Body)
	got := 0
	for {
		var line sayLine
		if err := dec.Decode(&line); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading from bf serve: %w", err)
		}
		switch {
		case line.Error != "":
			return &ExitError{Code: ExitFailed, Err: fmt.Errorf("posting the message to the webhook: %s", line.Error)}
		case line.Sent != "":
			fmt.Fprintf(f.IO.ErrOut, "sent activity %s to %s; waiting up to %v for replies\n", line.Sent, req.Webhook, wait)
		case line.Activity != nil:
			b, err := json.Marshal(line.Activity)
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "%s\n", b)
			got++
		}
	}
	if got < req.Replies {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("no reply within %v", wait)}
	}
	return nil
}
