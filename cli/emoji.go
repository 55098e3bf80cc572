package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/emoji"
)

// emojiJSON is the JSON document of `olctl emoji`.
type emojiJSON struct {
	Input  string `json:"input"`
	Output string `json:"output"`
}

// EmojiOptions are the inputs of `olctl emoji`.
type EmojiOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)

	Reverse    bool     // turn icon tags back into Unicode emoji
	Icons      bool     // make icon tags (off: keep Unicode emoji, as a current portal does)
	Smileys    bool     // convert ASCII smileys too
	HexEscapes bool     // decode hex escapes first
	BasePath   string   // icon base path; "" is emoji.DefaultBasePath
	Text       []string // the words of the text; none reads stdin
}

// NewCmdEmoji builds `olctl emoji [TEXT ...]`.
func NewCmdEmoji(f *Factory, runF func(*EmojiOptions) error) *cobra.Command {
	opts := &EmojiOptions{IO: f.IO, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "emoji [TEXT ...]",
		Short: "Convert emoji to the portal's icon tags (or back with --reverse)",
		Long: `Convert TEXT as the receive pipeline does (docs/protocol.md §9): decode hex escapes such as :F09F918D:,
then turn :shortname:, Unicode emoji and ASCII smileys of the emojione 2.2.5 set into the portal's icon tags,
as a legacy Bitrix portal shows them. With --icons=false Unicode emoji are kept, as a current portal does.
With --reverse, turn icon tags back into Unicode emoji. Without TEXT it reads stdin. The switches are those
of 'olctl serve'.`,
		Example: `  olctl emoji 'thanks :+1: 🇷🇺 :)'
  olctl emoji --icons=false 'ok :F09F918D:'
  olctl emoji --smileys=false --hex-escapes=false 'keep :) and :F09F918D:'
  olctl emoji --reverse '[ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]'
  cat message.txt | olctl emoji`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context, opts.Text = cmd.Context(), args
			if opts.Reverse {
				for _, name := range []string{"icons", "smileys", "hex-escapes"} {
					if cmd.Flags().Changed(name) {
						return usageErrorf("--reverse turns tags back into emoji: --%s does not apply", name)
					}
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return emojiRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Reverse, "reverse", "r", false, "turn icon tags back into Unicode emoji")
	fl.BoolVar(&opts.Icons, "icons", true, "icon tags, as a legacy portal; --icons=false keeps Unicode, as a current one")
	fl.BoolVar(&opts.Smileys, "smileys", true, "also convert ASCII smileys such as :) and <3 between whitespace")
	fl.BoolVar(&opts.HexEscapes, "hex-escapes", true, "decode hex escapes such as :F09F918D: first")
	fl.StringVar(&opts.BasePath, "base-path", "", `icon base path (default "`+emoji.DefaultBasePath+`")`)
	return cmd
}

func emojiRun(opts *EmojiOptions) error {
	text := strings.Join(opts.Text, " ")
	if len(opts.Text) == 0 {
		b, err := io.ReadAll(io.LimitReader(opts.IO.In, 16<<20))
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		text = string(b)
	}
	eopts := []emoji.Option{emoji.WithIcons(opts.Icons), emoji.WithSmileys(opts.Smileys), emoji.WithHexEscapes(opts.HexEscapes)}
	if opts.BasePath != "" {
		eopts = append(eopts, emoji.WithBasePath(opts.BasePath))
	}
	conv := emoji.New(eopts...)
	out := conv.ToIcons(text)
	if opts.Reverse {
		out = conv.FromIcons(text)
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if cfg.JSON() {
		return writeJSON(opts.IO.Out, emojiJSON{Input: text, Output: out})
	}
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	_, err = io.WriteString(opts.IO.Out, out)
	return err
}
