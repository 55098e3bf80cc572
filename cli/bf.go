package cli

import (
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
	"github.com/olctl/olctl/connector/botframework/schema"
)

// NewCmdBF builds `olctl bf`, the group of the fake Bot Framework service's commands.
func NewCmdBF(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bf",
		Short: "The fake Bot Framework service: run it, or send a customer message through it",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdBFServe(f, nil), NewCmdBFSay(f, nil))
	return requireSubcommand(cmd)
}

// BFChannelOptions configure the connector server's Bot Framework channel.
type BFChannelOptions struct {
	Fake      string // base URL of a fake Bot Framework service (olctl bf serve) for tokens and keys
	OpenIDURL string // OpenID metadata of the webhook token keys; "" is Microsoft's (or the fake's)
	TokenURL  string // OAuth token endpoint; "" is Microsoft's (or the fake's)
	Anonymous bool   // allow lines without app id and secret (Emulator)
}

func (o *BFChannelOptions) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.Fake, "bf-fake", "", "use the fake Bot Framework service at this URL (olctl bf serve) for tokens and keys")
	fl.StringVar(&o.OpenIDURL, "bf-openid-url", "", "OpenID metadata of the Bot Framework's webhook token keys (default Microsoft's)")
	fl.StringVar(&o.TokenURL, "bf-token-url", "", "OAuth token endpoint of the Bot Framework (default Microsoft's)")
	fl.BoolVar(&o.Anonymous, "bf-anonymous", false, "allow Bot Framework lines without app id and secret (Emulator)")
}

// channels returns the channel registry of a connector server: echo and botframework.
func (o *BFChannelOptions) channels(logger *slog.Logger, clk clock.Clock) (*connector.Channels, error) {
	var opts []botframework.Option
	openID, tokenURL := o.OpenIDURL, o.TokenURL
	if o.Fake != "" {
		base := strings.TrimRight(o.Fake, "/")
		if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
			return nil, usageErrorf("--bf-fake %q is not an http(s) URL", o.Fake)
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
	if o.Anonymous {
		opts = append(opts, botframework.WithAnonymous())
	}
	opts = append(opts, botframework.WithLogger(logger), botframework.WithClock(clk))
	chs := connector.NewChannels()
	if err := chs.Register(botframework.ID, botframework.New(opts...)); err != nil {
		return nil, err
	}
	return chs, nil
}

// describe says which Bot Framework service the channel talks to: the fake, Microsoft's, or the URLs given.
func (o *BFChannelOptions) describe() string {
	var s string
	switch {
	case o.Fake != "":
		s = "the fake at " + strings.TrimRight(o.Fake, "/") + " (--bf-fake: olctl bf serve)"
	case o.OpenIDURL == "" && o.TokenURL == "":
		s = "Microsoft's (tokens from " + schema.TokenURL + ", webhook keys from " + schema.OpenIDMetadataURL + ")"
	default:
		s = "tokens from " + orDefault(o.TokenURL, schema.TokenURL) + ", webhook keys from " + orDefault(o.OpenIDURL, schema.OpenIDMetadataURL)
	}
	if o.Anonymous {
		s += "; lines without app id and secret allowed (--bf-anonymous)"
	}
	return s
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// BFServiceOptions configure a fake Bot Framework service.
type BFServiceOptions struct {
	Listen string // listen address
	NoAuth bool   // authentication off, as the Bot Framework Emulator allows
	// AppIDs are the Microsoft app ids of the bots it serves, one line each; the first is its own bot.
	AppIDs []string
	// AppSecrets are their app passwords, in the order of AppIDs; one is every bot's.
	AppSecrets []string
	ChannelID  string // channelId of the activities sent
}

func (o *BFServiceOptions) addFlags(cmd *cobra.Command, listenDefault string) {
	fl := cmd.Flags()
	fl.StringVar(&o.Listen, "listen", listenDefault, "listen address of the fake service")
	fl.BoolVar(&o.NoAuth, "no-auth", false, "turn authentication off, as the Bot Framework Emulator allows")
	fl.StringArrayVar(&o.AppIDs, "app-id", []string{bftest.DefaultAppID}, "the Microsoft app id of a bot (repeatable: one bot, so one line, each)")
	fl.StringArrayVar(&o.AppSecrets, "app-secret", []string{bftest.DefaultAppSecret}, "the app password of each --app-id in order (one: every bot's)")
	fl.StringVar(&o.ChannelID, "channel", bftest.DefaultChannelID, "channelId of the activities sent")
}

// bots returns the app id and secret of each bot, or a usage error naming the flag that does not fit.
func (o *BFServiceOptions) bots() ([][2]string, error) {
	if len(o.AppIDs) == 0 {
		return nil, usageErrorf("--app-id: give at least one app id")
	}
	if len(o.AppSecrets) != 1 && len(o.AppSecrets) != len(o.AppIDs) {
		return nil, usageErrorf("--app-secret: give one for every bot, or one for each of the %d --app-id in order", len(o.AppIDs))
	}
	seen := map[string]bool{}
	out := make([][2]string, len(o.AppIDs))
	for i, id := range o.AppIDs {
		if strings.TrimSpace(id) == "" || seen[id] {
			return nil, usageErrorf("--app-id %q: app ids must be non-empty and distinct", id)
		}
		seen[id] = true
		secret := o.AppSecrets[0]
		if len(o.AppSecrets) > 1 {
			secret = o.AppSecrets[i]
		}
		out[i] = [2]string{id, secret}
	}
	return out, nil
}

// start starts the service; with trace, every call made to it and every activity it posts is traced there
// (see bfTracer).
func (o *BFServiceOptions) start(clk clock.Clock, trace io.Writer) (*bftest.Server, error) {
	bots, err := o.bots()
	if err != nil {
		return nil, err
	}
	cfg := bftest.Config{Addr: o.Listen, NoAuth: o.NoAuth, AppID: bots[0][0], AppSecret: bots[0][1],
		ChannelID: o.ChannelID, Clock: clk}
	if trace != nil {
		rec := bfTracer(trace, clk, bots)
		cfg.Wrap = rec.Incoming
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: rec.Outgoing(nil)}
	}
	s, err := bftest.Start(cfg)
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "listen" {
		return nil, fmt.Errorf("--listen %s: %w", o.Listen, err)
	}
	if err != nil {
		return nil, fmt.Errorf("starting the fake Bot Framework service: %w", err)
	}
	for _, b := range bots[1:] {
		s.AddBot(b[0], b[1])
	}
	return s, nil
}

func printBFService(w io.Writer, s *bftest.Server, bots [][2]string) {
	fmt.Fprintf(w, `fake Bot Framework service on %s
  service URL:      %s
  token URL:        %s
  OpenID metadata:  %s
`, s.URL(), s.ServiceURL(), s.TokenURL(), s.OpenIDMetadataURL())
	for _, b := range bots {
		fmt.Fprintf(w, "  app id / secret:  %s / %s\n", b[0], b[1])
	}
	fmt.Fprintf(w, "  auth:             %s\n", map[bool]string{true: "off", false: "on"}[s.NoAuth()])
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
