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
	"github.com/olctl/olctl/sqldb"
)

type sendOptions struct {
	chat      string
	imChat    string
	messageID string
	userID    string
	files     []string
	db        string
	raw       bool
}

// sendResultJSON is the JSON document of `olctl send`.
type sendResultJSON struct {
	OK        bool                      `json:"ok"`
	Connector string                    `json:"connector"`
	Line      string                    `json:"line"`
	Message   openlines.OutgoingMessage `json:"message"`
}

func newSendCmd(f *Factory) *cobra.Command {
	o := &sendOptions{}
	cmd := &cobra.Command{
		Use:   "send --chat ID [--file URL ...] TEXT",
		Short: "Send an operator message to a chat (sendMessage)",
		Long: `Send an operator message to an external chat through sendMessage. TEXT is the message ("-" reads it from
stdin). Files travel as links: each --file is an http(s) URL the messenger downloads.

For a real botframework connector the chat's Bot Framework context (the bot account and service URL) is
read from the portal's database (--db, the one 'olctl serve --db' writes).

Emoji in TEXT (:smile:, 😄) become the portal's icon tags, as in messages written in the portal; the
channel turns them back into emoji for the messenger. --raw sends TEXT as it is.`,
		Example: `  olctl send --connector botframework.skype --line 3 --chat 29:1A2b3C --db portal.db "Hello :smile:"
  echo "Your order shipped" | olctl send --chat 42 --file https://example.com/invoice.pdf -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return f.sendRun(cmd.Context(), o, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.chat, "chat", "", "external chat id (chat.id); required")
	fl.StringVar(&o.imChat, "im-chat", "", "the portal's own chat id (im.chat_id; default: --chat)")
	fl.StringVar(&o.messageID, "message-id", "", "the portal's message id (im.message_id; default: random)")
	fl.StringVar(&o.userID, "user-id", "1", "the operator's user id")
	fl.StringArrayVar(&o.files, "file", nil, "attach a file by its http(s) URL (repeatable)")
	fl.StringVar(&o.db, "db", "", "portal database with Bot Framework chat contexts (SQLite path or MySQL DSN)")
	fl.BoolVar(&o.raw, "raw", false, "send TEXT as it is (by default emoji become icon tags, as in the portal's own messages)")
	return cmd
}

func (f *Factory) sendRun(ctx context.Context, o *sendOptions, args []string) error {
	if o.chat == "" {
		return usageErrorf("missing --chat: the external chat id to send to")
	}
	text := strings.Join(args, " ")
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(f.IO.In, 1<<20))
		if err != nil {
			return fmt.Errorf("reading the message from stdin: %w", err)
		}
		text = strings.TrimRight(string(b), "\r\n")
	}
	if strings.TrimSpace(text) == "" && len(o.files) == 0 {
		return usageErrorf("empty message: give TEXT or --file")
	}
	if !o.raw {
		text = emoji.New().ToIcons(text)
	}
	files := make([]openlines.OutgoingFile, 0, len(o.files))
	for _, raw := range o.files {
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
	msgID := o.messageID
	if msgID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		msgID = hex.EncodeToString(b[:])
	}
	imChat := o.imChat
	if imChat == "" {
		imChat = o.chat
	}
	msg := openlines.OutgoingMessage{
		IM:      openlines.IMRef{ChatID: imChat, MessageID: msgID},
		Message: openlines.OutgoingContent{UserID: o.userID, Text: text, Files: files},
		Chat:    openlines.ChatRef{ID: o.chat},
	}

	var extra []client.Option
	if o.db != "" {
		db, err := sqldb.Open(ctx, o.db)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("--db: %w", err)}
		}
		defer db.Close()
		store, err := bfcontext.NewSQLStore(ctx, db)
		if err != nil {
			return fmt.Errorf("--db: %w", err)
		}
		extra = append(extra, client.WithChatContext(store))
	}
	cl, cfg, err := f.newClient(extra...)
	if err != nil {
		return err
	}
	if err := cfg.Require(KeyConnector, KeyLine); err != nil {
		return err
	}
	// Wait for the answer: a person (or a script) needs to know whether the server took the message.
	if err := cl.SendMessage(ctx, []openlines.OutgoingMessage{msg}, client.FireAndForget(false)); err != nil {
		return err
	}
	if cfg.JSON() {
		return writeJSON(f.IO.Out, sendResultJSON{OK: true, Connector: cfg.Connector, Line: cfg.Line, Message: msg})
	}
	_, err = fmt.Fprintf(f.IO.Out, "sent message %s to chat %s (%s, line %s)\n", msgID, o.chat, cfg.Connector, cfg.Line)
	return err
}
