package cli

import (
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

func newEmojiCmd(f *Factory) *cobra.Command {
	var (
		reverse              bool
		icons, smileys, hexs bool
		basePath             string
	)
	cmd := &cobra.Command{
		Use:   "emoji [TEXT ...]",
		Short: "Convert emoji to the portal's icon tags (or back with --reverse)",
		Long: `Convert TEXT as the receive pipeline does (docs/protocol.md §9): decode hex escapes such as :F09F918D:,
then turn :shortname:, Unicode emoji and ASCII smileys of the emojione 2.2.5 set into the portal's icon tags,
as a legacy Bitrix portal shows them. With --icons=false Unicode emoji are kept, as a current portal does.
With --reverse, turn icon tags back into Unicode emoji. Without TEXT it reads stdin.`,
		Example: `  olctl emoji 'thanks :+1: 🇷🇺 :)'
  olctl emoji --icons=false 'ok :F09F918D:'
  olctl emoji --smileys=false --hex=false 'keep :) and :F09F918D:'
  olctl emoji --reverse '[ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]'
  cat message.txt | olctl emoji`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if reverse {
				for _, name := range []string{"icons", "smileys", "hex"} {
					if cmd.Flags().Changed(name) {
						return usageErrorf("--reverse turns tags back into emoji: --%s does not apply", name)
					}
				}
			}
			text := strings.Join(args, " ")
			if len(args) == 0 {
				b, err := io.ReadAll(io.LimitReader(f.IO.In, 16<<20))
				if err != nil {
					return fmt.Errorf("reading stdin: %w", err)
				}
				text = string(b)
			}
			opts := []emoji.Option{emoji.WithIcons(icons), emoji.WithSmileys(smileys), emoji.WithHexEscapes(hexs)}
			if basePath != "" {
				opts = append(opts, emoji.WithBasePath(basePath))
			}
			conv := emoji.New(opts...)
			out := conv.ToIcons(text)
			if reverse {
				out = conv.FromIcons(text)
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if cfg.JSON() {
				return writeJSON(f.IO.Out, emojiJSON{Input: text, Output: out})
			}
			if !strings.HasSuffix(out, "\n") {
				out += "\n"
			}
			_, err = io.WriteString(f.IO.Out, out)
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&reverse, "reverse", "r", false, "turn icon tags back into Unicode emoji")
	fl.BoolVar(&icons, "icons", true, "icon tags, as a legacy portal; --icons=false keeps Unicode, as a current one")
	fl.BoolVar(&smileys, "smileys", true, "also convert ASCII smileys such as :) and <3 between whitespace")
	fl.BoolVar(&hexs, "hex", true, "decode hex escapes such as :F09F918D: first")
	fl.StringVar(&basePath, "base-path", "", `icon base path (default "`+emoji.DefaultBasePath+`")`)
	return cmd
}
