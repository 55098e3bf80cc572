package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the fake Bot Framework service and print every activity the bot sends",
		Long: `Run the fake Bot Framework service until interrupted: the Connector REST API (/v3/conversations/...), the
OAuth token endpoint, and the OpenID metadata and keys that sign its webhook tokens. Its URLs go to stderr;
every call the bot makes to the Connector API is printed on stdout as one JSON line.`,
		Example: "  olctl bf serve --listen 127.0.0.1:3978\n  olctl bf serve --no-auth",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.start(f)
			if err != nil {
				return err
			}
			defer s.Close()
			f.printBFService(s)
			return f.streamActivities(cmd.Context(), s, nil, 0)
		},
	}
	o.addFlags(cmd, "127.0.0.1:3978")
	return cmd
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
		webhook      string
		conversation string
		user         string
		wait         time.Duration
		replies      int
	)
	cmd := &cobra.Command{
		Use:   "say --webhook URL TEXT",
		Short: "Send a customer message to a bot's webhook and print the replies that come back",
		Long: `Play a customer: start the fake Bot Framework service, post a message activity with TEXT to the bot's
webhook (the line's webhook URL, with a signed bearer token unless --no-auth), then print every activity the
bot sends back to that conversation, one JSON line each, until --replies arrived or --wait passed.

Replies reach this command only if the bot answers through the service URL of the activity, which is this
command's own address (--listen).`,
		Example: `  olctl bf say --webhook 'http://127.0.0.1:8080/imwebhook/botframework?h=abc' "Hello, I need help"
  olctl bf say --webhook "$WEBHOOK" --conversation c1 --wait 30s --replies 1 "Where is my order?"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if webhook == "" {
				return usageErrorf("missing --webhook: the bot's messaging endpoint (the line's webhook URL)")
			}
			if !strings.HasPrefix(webhook, "http://") && !strings.HasPrefix(webhook, "https://") {
				return usageErrorf("--webhook %q is not an http(s) URL", webhook)
			}
			if wait <= 0 {
				return usageErrorf("--wait must be positive")
			}
			s, err := o.start(f)
			if err != nil {
				return err
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			id, err := s.SendUserMessage(ctx, webhook, conversation, user, strings.Join(args, " "))
			if err != nil {
				return fmt.Errorf("posting the message to the webhook: %w", err)
			}
			fmt.Fprintf(f.IO.ErrOut, "sent activity %s to %s; waiting up to %v for replies\n", id, webhook, wait)
			if replies == 0 {
				return nil
			}
			err = f.streamActivities(ctx, s, func(r bftest.Record) bool { return r.ConversationID == conversation }, replies)
			if err != nil {
				return err
			}
			if ctx.Err() != nil && cmd.Context().Err() == nil {
				return &ExitError{Code: ExitFailed, Err: fmt.Errorf("no reply within %v", wait)}
			}
			return nil
		},
	}
	o.addFlags(cmd, "127.0.0.1:0")
	fl := cmd.Flags()
	fl.StringVar(&webhook, "webhook", "", "the bot's messaging endpoint (required)")
	fl.StringVar(&conversation, "conversation", "olctl-conversation", "conversation id")
	fl.StringVar(&user, "user", "olctl-customer", "the customer's channel account id")
	fl.DurationVar(&wait, "wait", 10*time.Second, "how long to wait for replies")
	fl.IntVar(&replies, "replies", 1, "replies to wait for (0: do not wait)")
	return cmd
}
