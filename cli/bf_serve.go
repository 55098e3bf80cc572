package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/internal/httpserve"
)

// BFServeOptions are the inputs of `olctl bf serve`.
type BFServeOptions struct {
	Context context.Context
	IO      IO
	Clock   clock.Clock

	Service BFServiceOptions
	Control string // listen address of the control endpoint 'olctl bf say' posts to
	// Trace, when set, is where every call made to the service and every activity it posts is traced
	// (--trace, OLCTL_TRACE).
	Trace io.Writer
}

// NewCmdBFServe builds `olctl bf serve`.
func NewCmdBFServe(f *Factory, runF func(*BFServeOptions) error) *cobra.Command {
	opts := &BFServeOptions{IO: f.IO, Clock: f.Clock}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the fake Bot Framework service and print every activity the bot sends",
		Long: `Run the fake Bot Framework service until interrupted: the Connector REST API (/v3/conversations/...), the
OAuth token endpoint, and the OpenID metadata and keys that sign its webhook tokens. Its URLs go to stderr;
every call the bot makes to the Connector API is printed on stdout as one JSON line. With --trace (or
OLCTL_TRACE=1) stderr shows, as it passes, each call made to the service (activities, conversations,
tokens) and each activity it posts to a webhook: URL, body as JSON, answer and time, secrets masked.

It serves one bot per --app-id (repeatable, each with its --app-secret, or all with one), so that several
lines, each with a bot of its own, can be connected to it. 'olctl bf say' sends customer messages through
it: it listens for them on --control (local use only). Point the connector server at it with 'olctl
connector serve --bf-fake URL'.`,
		Example: "  olctl bf serve --listen 127.0.0.1:3978\n  olctl bf serve --app-id \"$APP1\" --app-id \"$APP2\" --app-secret \"$SECRET\"\n  olctl bf serve --no-auth",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			var err error
			if opts.Trace, err = traceWriter(cmd.Flags(), f.LookupEnv, f.IO.ErrOut); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return bfServeRun(opts)
		},
	}
	opts.Service.addFlags(cmd, "127.0.0.1:3978")
	cmd.Flags().StringVar(&opts.Control, "control", "127.0.0.1:3979", "listen address for 'olctl bf say --via'")
	return cmd
}

func bfServeRun(opts *BFServeOptions) error {
	bots, err := opts.Service.bots()
	if err != nil {
		return err
	}
	s, err := opts.Service.start(opts.Clock, opts.Trace)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", opts.Control)
	if err != nil {
		return fmt.Errorf("--control: %w", err)
	}
	defer ln.Close()
	printBFService(opts.IO.ErrOut, s, bots)
	fmt.Fprintf(opts.IO.ErrOut, "  control (bf say): http://%s\n", ln.Addr())
	srv := bfControlServer(s, bots)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	return streamActivities(opts.Context, opts.IO.Out, s, nil, 0)
}

// sayRequest is what `bf say --via` posts to a running `bf serve`.
type sayRequest struct {
	Webhook      string `json:"webhook"`
	Conversation string `json:"conversation"`
	User         string `json:"user"`
	Text         string `json:"text"`
	Replies      int    `json:"replies"`
	WaitMS       int64  `json:"wait_ms"`
	// Bot is the app id of the bot the message is for, one of bf serve's --app-id; "" is its first.
	Bot string `json:"bot,omitempty"`
}

// sayLine is one line of the control endpoint's streamed answer: first the sent activity (or an error),
// then each reply.
type sayLine struct {
	Sent     string          `json:"sent,omitempty"`
	Error    string          `json:"error,omitempty"`
	Status   int             `json:"status,omitempty"`
	Activity *bfActivityJSON `json:"activity,omitempty"`
}

// bfBotJSON is one bot of the control endpoint's GET /bots: what `olctl connect` offers as the defaults of a
// line's Bot Framework settings.
type bfBotJSON struct {
	AppID     string `json:"app_id"`
	AppSecret string `json:"app_secret"`
}

// maxSayWait bounds how long a say through the control endpoint waits for its replies (wait_ms).
const maxSayWait = 10 * time.Minute

// bfControlServer is the server of the control endpoint, under the limits of the module's other servers
// (internal/httpserve); a request may take as long as the longest say.
func bfControlServer(s *bftest.Server, bots [][2]string) *http.Server {
	return httpserve.Limits{RequestTimeout: maxSayWait + 5*time.Second}.Server(bfControl(s, bots), nil)
}

// bfControl is the control endpoint of `bf serve` (local use only): POST /say sends a customer message to one
// of bots (app id, secret) through the service and streams the replies back as JSON lines; GET /bots lists
// the bots.
func bfControl(s *bftest.Server, bots [][2]string) http.Handler {
	ids := make([]string, len(bots))
	list := make([]bfBotJSON, len(bots))
	for i, b := range bots {
		ids[i], list[i] = b[0], bfBotJSON{AppID: b[0], AppSecret: b[1]}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bots", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	})
	mux.HandleFunc("POST /say", func(w http.ResponseWriter, r *http.Request) {
		var req sayRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Webhook == "" ||
			req.Conversation == "" || req.WaitMS <= 0 || req.WaitMS > maxSayWait.Milliseconds() {
			http.Error(w, fmt.Sprintf("want {webhook, conversation, user, text, replies, wait_ms}, wait_ms at most %d",
				maxSayWait.Milliseconds()), http.StatusBadRequest)
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
		if req.Bot != "" && !slices.Contains(ids, req.Bot) {
			_ = enc.Encode(sayLine{Error: fmt.Sprintf("no bot with app id %q here: this bf serve has --app-id %s", req.Bot,
				strings.Join(ids, ", "))})
			return
		}
		id, err := sendAs(ctx, s, req)
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

// sendAs sends req's customer message to the bot req.Bot names ("" is the service's own).
func sendAs(ctx context.Context, s *bftest.Server, req sayRequest) (string, error) {
	a := schema.Activity{Type: schema.TypeMessage, From: schema.ChannelAccount{ID: req.User, Name: req.User},
		Conversation: schema.ConversationAccount{ID: req.Conversation}, Text: req.Text}
	if req.Bot != "" && req.Bot != s.AppID() {
		a.Recipient = schema.ChannelAccount{ID: "28:" + req.Bot, Name: req.Bot}
	}
	return s.SendActivity(ctx, req.Webhook, a)
}

// streamActivities prints the service's records on w as JSON lines (only those m matches when m is set) until
// ctx ends; with want > 0 it returns once want matching records were printed.
func streamActivities(ctx context.Context, w io.Writer, s *bftest.Server, m func(bftest.Record) bool, want int) error {
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
			fmt.Fprintf(w, "%s\n", b)
			printed++
			if want > 0 && printed >= want {
				return nil
			}
		}
		seen = len(recs)
	}
}
