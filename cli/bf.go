package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
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

// BFServiceOptions configure a fake Bot Framework service.
type BFServiceOptions struct {
	Listen    string // listen address
	NoAuth    bool   // authentication off, as the Bot Framework Emulator allows
	AppID     string // the bot's Microsoft app id
	AppSecret string // the bot's app password
	ChannelID string // channelId of the activities sent
}

func (o *BFServiceOptions) addFlags(cmd *cobra.Command, listenDefault string) {
	fl := cmd.Flags()
	fl.StringVar(&o.Listen, "listen", listenDefault, "listen address of the fake service")
	fl.BoolVar(&o.NoAuth, "no-auth", false, "turn authentication off, as the Bot Framework Emulator allows")
	fl.StringVar(&o.AppID, "app-id", bftest.DefaultAppID, "the bot's Microsoft app id")
	fl.StringVar(&o.AppSecret, "app-secret", bftest.DefaultAppSecret, "the bot's app password")
	fl.StringVar(&o.ChannelID, "channel", bftest.DefaultChannelID, "channelId of the activities sent")
}

func (o *BFServiceOptions) start(clk clock.Clock) (*bftest.Server, error) {
	s, err := bftest.Start(bftest.Config{Addr: o.Listen, NoAuth: o.NoAuth, AppID: o.AppID, AppSecret: o.AppSecret,
		ChannelID: o.ChannelID, Clock: clk})
	if err != nil {
		return nil, fmt.Errorf("starting the fake Bot Framework service: %w", err)
	}
	return s, nil
}

func printBFService(w io.Writer, s *bftest.Server) {
	fmt.Fprintf(w, `fake Bot Framework service on %s
  service URL:      %s
  token URL:        %s
  OpenID metadata:  %s
  app id / secret:  %s / %s
  auth:             %s
`, s.URL(), s.ServiceURL(), s.TokenURL(), s.OpenIDMetadataURL(), s.AppID(), s.AppSecret(), map[bool]string{true: "off", false: "on"}[s.NoAuth()])
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
