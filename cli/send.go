package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/emoji"
	"github.com/olctl/olctl/openlines"
)

// sendResultJSON is the JSON document of `olctl send`.
type sendResultJSON struct {
	OK        bool                      `json:"ok"`
	Connector string                    `json:"connector"`
	Line      string                    `json:"line"`
	Message   openlines.OutgoingMessage `json:"message"`
}

// SendOptions are the inputs of `olctl send`.
type SendOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)
	Client  func(extra ...client.Option) (*client.Client, error)

	Chat      string   // the external chat id (chat.id)
	IMChat    string   // the portal's chat id (im.chat_id); "" is Chat
	MessageID string   // the portal's message id (im.message_id); "" is a random one
	UserID    string   // the operator's user id
	Files     []string // http(s) URLs of the attached files
	DB        string   // the portal database of the Bot Framework chat contexts; "" is none
	DBGiven   bool     // DB came from --db and must exist (from OLCTL_PORTAL_DB, a missing one is none)
	Raw       bool     // send Text as it is, without turning emoji into icon tags
	Text      []string // the words of the message; "-" alone reads it from stdin
}

// NewCmdSend builds `olctl send --chat ID TEXT`.
func NewCmdSend(f *Factory, runF func(*SendOptions) error) *cobra.Command {
	opts := &SendOptions{IO: f.IO, Config: f.Config, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "send --chat ID [--file URL ...] TEXT",
		Short: "Send an operator message to a chat (sendMessage)",
		Long: `Send an operator message to an external chat through sendMessage. TEXT is the message ("-" reads it from
stdin). Files travel as links: each --file is an http(s) URL the messenger downloads.

For a real botframework connector the chat's Bot Framework context (the bot account and service URL) is
read from the portal's database (--db, the one 'olctl serve --db' writes; env ` + envPortalDB + `); without
one the message goes as it is.

Emoji in TEXT (:smile:, 😄) become the portal's icon tags, as in messages written in the portal; the
channel turns them back into emoji for the messenger. --raw sends TEXT as it is.`,
		Example: `  olctl send --connector botframework.skype --line 3 --chat 29:1A2b3C --db portal.db "Hello :smile:"
  echo "Your order shipped" | olctl send --chat 42 --file https://example.com/invoice.pdf -`,
		Args: needArgs(1, -1, "TEXT (- reads it from stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context, opts.Text = cmd.Context(), args
			envDefault(cmd, "db", envPortalDB, &opts.DB, f.LookupEnv)
			opts.DBGiven = cmd.Flags().Changed("db")
			if opts.Chat == "" {
				return usageErrorf("missing --chat: the external chat id to send to")
			}
			if runF != nil {
				return runF(opts)
			}
			return sendRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Chat, "chat", "", "external chat id (chat.id); required")
	fl.StringVar(&opts.IMChat, "im-chat", "", "the portal's own chat id (im.chat_id; default: --chat)")
	fl.StringVar(&opts.MessageID, "message-id", "", "the portal's message id (im.message_id; default: random)")
	fl.StringVar(&opts.UserID, "user-id", "1", "the operator's user id")
	fl.StringArrayVar(&opts.Files, "file", nil, "attach a file by its http(s) URL (repeatable)")
	fl.StringVar(&opts.DB, "db", "", "portal database with Bot Framework chat contexts (SQLite path, mysql://… or postgres://…; env "+
		envPortalDB+")")
	fl.BoolVar(&opts.Raw, "raw", false, "send TEXT as it is (by default emoji become icon tags, as in the portal's own messages)")
	return cmd
}

func sendRun(opts *SendOptions) error {
	ctx := opts.Context
	text := strings.Join(opts.Text, " ")
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(opts.IO.In, 1<<20))
		if err != nil {
			return fmt.Errorf("reading the message from stdin: %w", err)
		}
		text = strings.TrimRight(string(b), "\r\n")
	}
	if strings.TrimSpace(text) == "" && len(opts.Files) == 0 {
		return usageErrorf("empty message: give TEXT or --file")
	}
	if !opts.Raw {
		text = emoji.New().ToIcons(text)
	}
	files := make([]openlines.OutgoingFile, 0, len(opts.Files))
	for _, raw := range opts.Files {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErrorf("--file %q: files travel as links, give an http(s) URL", raw)
		}
		name := path.Base(u.Path)
		if name == "." || name == "/" {
			name = "file"
		}
		files = append(files, openlines.OutgoingFile{Name: name, Link: raw})
	}
	msgID := opts.MessageID
	if msgID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		msgID = hex.EncodeToString(b[:])
	}
	imChat := opts.IMChat
	if imChat == "" {
		imChat = opts.Chat
	}
	msg := openlines.OutgoingMessage{
		IM:      openlines.IMRef{ChatID: imChat, MessageID: msgID},
		Message: openlines.OutgoingContent{UserID: opts.UserID, Text: text, Files: files},
		Chat:    openlines.ChatRef{ID: opts.Chat},
	}

	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if err := cfg.Require(append(cfg.signedCallKeys(), KeyConnector, KeyLine)...); err != nil {
		return err
	}
	var extra []client.Option
	if opts.DB != "" {
		mode := portalIfThere
		if opts.DBGiven {
			mode = portalExisting
		}
		db, err := openPortalDB(ctx, opts.DB, mode)
		if err != nil {
			return err
		}
		if db != nil {
			defer db.Close()
			store, err := bfcontext.NewSQLStore(ctx, db)
			if err != nil {
				return fmt.Errorf("--db: %w", err)
			}
			extra = append(extra, client.WithChatContext(store))
			connector, err := chatConnector(ctx, opts, store, cfg.Connector)
			if err != nil {
				return err
			}
			if connector != cfg.Connector {
				extra = append(extra, client.WithConnector(connector))
				c := *cfg
				c.Connector = connector
				cfg = &c
			}
		}
	}
	cl, err := opts.Client(extra...)
	if err != nil {
		return err
	}
	// Wait for the answer: a person (or a script) needs to know whether the server took the message.
	callCtx, cancel := cfg.callContext(ctx)
	defer cancel()
	if err := cl.SendMessage(callCtx, []openlines.OutgoingMessage{msg}, client.FireAndForget(false)); err != nil {
		return err
	}
	if cfg.JSON() {
		return writeJSON(opts.IO.Out, sendResultJSON{OK: true, Connector: cfg.Connector, Line: cfg.Line, Message: msg})
	}
	_, err = fmt.Fprintf(opts.IO.Out, "sent message %s to chat %s (%s, line %s)\n", msgID, opts.Chat, cfg.Connector, cfg.Line)
	return err
}

// chatConnector returns the connector to send the chat's message with: connector, unless it is the real
// botframework and the chat's Bot Framework context is stored under one of its virtual connectors
// (botframework.webchat), the connector its messages came with, which the chat is then answered with (said on
// stderr). A chat known under other connectors than the one given is a usage error naming them; a chat with
// no context at all is sent as it is, with a warning.
func chatConnector(ctx context.Context, opts *SendOptions, store *bfcontext.SQLStore, connector string) (string, error) {
	if openlines.RealConnector(connector) != openlines.Botframework {
		return connector, nil
	}
	known, err := store.Connectors(ctx, opts.Chat)
	if err != nil {
		return "", fmt.Errorf("--db %s: %w", opts.DB, err)
	}
	var same []string // of the same real connector
	for _, c := range known {
		if c == connector {
			return connector, nil
		}
		if openlines.RealConnector(c) == openlines.Botframework {
			same = append(same, c)
		}
	}
	switch {
	case len(same) == 0:
		fmt.Fprintf(opts.IO.ErrOut, "olctl: warning: no Bot Framework context of chat %s in %s: the message goes without the bot "+
			"account and service URL to answer through (is --db the database of the olctl serve that took the chat's messages?)\n",
			opts.Chat, opts.DB)
		return connector, nil
	case len(same) == 1 && connector == openlines.Botframework:
		fmt.Fprintf(opts.IO.ErrOut, "chat %s is known under %s: sending with --connector %s\n", opts.Chat, same[0], same[0])
		return same[0], nil
	}
	return "", usageErrorf("chat %s is known under --connector %s, not %s", opts.Chat, strings.Join(same, " or "), connector)
}
