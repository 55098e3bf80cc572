package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/clock"
)

// BFSayOptions are the inputs of `olctl bf say`.
type BFSayOptions struct {
	Context    context.Context
	IO         IO
	HTTPClient func() (*http.Client, error)
	Clock      clock.Clock

	// Via is the control URL of a running 'olctl bf serve'; "" starts a fake service of the command's own,
	// configured by Service.
	Via     string
	Service BFServiceOptions

	Webhook      string        // the bot's messaging endpoint
	Conversation string        // conversation id
	User         string        // the customer's channel account id
	Wait         time.Duration // how long to wait for the replies
	Replies      int           // replies to wait for; 0 does not wait
	Text         []string      // the words of the message
	// Bot is the app id of the bot the message is for, with --via: one of that bf serve's bots ("" its first;
	// --app-id sets it).
	Bot string
	// Trace, when set, is where the service of the command's own (without --via) traces what passes
	// through it (--trace, OLCTL_TRACE).
	Trace io.Writer
}

// NewCmdBFSay builds `olctl bf say --webhook URL TEXT`.
func NewCmdBFSay(f *Factory, runF func(*BFSayOptions) error) *cobra.Command {
	opts := &BFSayOptions{IO: f.IO, HTTPClient: f.HTTPClient, Clock: f.Clock}
	cmd := &cobra.Command{
		Use:   "say --webhook URL TEXT",
		Short: "Send a customer message to a bot's webhook and print the replies that come back",
		Long: `Play a customer: post a message activity with TEXT to the bot's webhook (the line's webhook URL, with a
token signed by the fake service unless it runs with --no-auth), then print every activity the bot sends back
to that conversation, one JSON line each, until --replies arrived (exit 0) or --wait passed (exit 1).

The message goes through the 'olctl bf serve' listening at --via, so that the connector server (started with
--bf-fake) trusts its token and the bot's replies come back to it; --app-id names which of its bots the
message is for (default its first). With --via "" the command starts a fake service of its own for the run
(the --listen, --no-auth, --app-id, ... flags configure it). With --replies 0 it does not wait.`,
		Example: `  olctl bf say --webhook 'http://127.0.0.1:8080/imwebhook/botframework?h=abc' "Hello, I need help"
  olctl bf say --webhook "$WEBHOOK" --conversation c1 --wait 60s "Where is my order?"
  olctl bf say --via "" --no-auth --webhook http://127.0.0.1:3978/api/messages hi`,
		Args: needArgs(1, -1, "TEXT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context, opts.Text = cmd.Context(), args
			switch {
			case opts.Webhook == "":
				return usageErrorf("missing --webhook: the bot's messaging endpoint (the line's webhook URL)")
			case !strings.HasPrefix(opts.Webhook, "http://") && !strings.HasPrefix(opts.Webhook, "https://"):
				return usageErrorf("--webhook %q is not an http(s) URL", opts.Webhook)
			case opts.Wait <= 0:
				return usageErrorf("--wait %v: want a positive duration", opts.Wait)
			case opts.Replies < 0:
				return usageErrorf("--replies %d: want 0 (do not wait) or more", opts.Replies)
			case opts.Via != "" && !strings.HasPrefix(opts.Via, "http://") && !strings.HasPrefix(opts.Via, "https://"):
				return usageErrorf("--via %q is not an http(s) URL: give the control URL of a bf serve (\"\": a fake of this command's own)", opts.Via)
			case opts.Via != "" && opts.Wait > maxSayWait:
				return usageErrorf("--wait %v: a bf serve (--via) waits at most %v", opts.Wait, maxSayWait)
			}
			var err error
			if opts.Trace, err = traceWriter(cmd.Flags(), f.LookupEnv, f.IO.ErrOut); err != nil {
				return err
			}
			if opts.Via != "" && cmd.Flags().Changed("app-id") {
				if len(opts.Service.AppIDs) != 1 {
					return usageErrorf("--app-id: with --via, name the one bot the message is for")
				}
				opts.Bot = opts.Service.AppIDs[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return bfSayRun(opts)
		},
	}
	opts.Service.addFlags(cmd, "127.0.0.1:0")
	fl := cmd.Flags()
	fl.StringVar(&opts.Via, "via", "http://127.0.0.1:3979", "control URL of a running 'olctl bf serve' (\"\": start a fake of its own)")
	fl.StringVar(&opts.Webhook, "webhook", "", "the bot's messaging endpoint (required)")
	fl.StringVar(&opts.Conversation, "conversation", "olctl-conversation", "conversation id")
	fl.StringVar(&opts.User, "user", "olctl-customer", "the customer's channel account id")
	fl.DurationVar(&opts.Wait, "wait", 10*time.Second, "how long to wait for replies")
	fl.IntVar(&opts.Replies, "replies", 1, "replies to wait for (0: do not wait)")
	return cmd
}

func bfSayRun(opts *BFSayOptions) error {
	req := sayRequest{Webhook: opts.Webhook, Conversation: opts.Conversation, User: opts.User,
		Text: strings.Join(opts.Text, " "), Replies: opts.Replies, WaitMS: opts.Wait.Milliseconds(), Bot: opts.Bot}
	if opts.Via != "" {
		hc, err := opts.HTTPClient()
		if err != nil {
			return err
		}
		return sayVia(opts.Context, opts.IO, hc, opts.Via, req, opts.Wait)
	}
	s, err := opts.Service.start(opts.Clock, opts.Trace)
	if err != nil {
		return err
	}
	defer s.Close()
	return sayHere(opts.Context, opts.IO, s, req, opts.Wait)
}

// sayHere sends through a fake service of this process.
func sayHere(ctx context.Context, ios IO, s *bftest.Server, req sayRequest, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	id, err := s.SendUserMessage(ctx, req.Webhook, req.Conversation, req.User, req.Text)
	if err != nil {
		return fmt.Errorf("posting the message to the webhook: %w", err)
	}
	fmt.Fprintln(ios.ErrOut, sentLine(id, req, wait))
	if req.Replies == 0 {
		return nil
	}
	outer := ctx
	err = streamActivities(ctx, ios.Out, s, func(r bftest.Record) bool { return r.ConversationID == req.Conversation }, req.Replies)
	if err != nil {
		return err
	}
	if outer.Err() != nil {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("no reply within %v", wait)}
	}
	return nil
}

// sentLine says that activity id went to the webhook and what the command waits for.
func sentLine(id string, req sayRequest, wait time.Duration) string {
	line := fmt.Sprintf("sent activity %s to %s", id, req.Webhook)
	switch req.Replies {
	case 0:
		return line + " (--replies 0: not waiting for replies)"
	case 1:
		return line + fmt.Sprintf("; waiting up to %v for a reply", wait)
	}
	return line + fmt.Sprintf("; waiting up to %v for %d replies", wait, req.Replies)
}

// sayVia sends through a running `bf serve` and prints the replies it streams back.
func sayVia(ctx context.Context, ios IO, hc *http.Client, via string, req sayRequest, wait time.Duration) error {
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(via, "/")+"/say", bytes.NewReader(body))
	if err != nil {
		return usageErrorf("--via %q: %v", via, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(hreq)
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
			fmt.Fprintln(ios.ErrOut, sentLine(line.Sent, req, wait))
		case line.Activity != nil:
			b, err := json.Marshal(line.Activity)
			if err != nil {
				return err
			}
			fmt.Fprintf(ios.Out, "%s\n", b)
			got++
		}
	}
	if got < req.Replies {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("no reply within %v", wait)}
	}
	return nil
}
