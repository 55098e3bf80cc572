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
		reverse  bool
		smileys  bool
		basePath string
	)
	cmd := &cobra.Command{
		Use:   "emoji [TEXT ...]",
		Short: "Convert emoji to the portal's icon tags (or back with --reverse)",
		Long: `Convert :shortname: and Unicode emoji in TEXT into the portal's icon tags, as the receive pipeline does
(PROTOCOL.md §5.1 step 1), or icon tags back into Unicode emoji with --reverse. Without TEXT it reads stdin.`,
		Example: `  olctl emoji 'thanks :+1: 🇷🇺'
  olctl emoji --reverse '[ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]'
  cat message.txt | olctl emoji`,
		RunE: func(cmd *cobra.Command, args []string) error {
			text := strings.Join(args, " ")
			if len(args) == 0 {
				b, err := io.ReadAll(io.LimitReader(f.IO.In, 16<<20))
				if err != nil {
					return fmt.Errorf("reading stdin: %w", err)
				}
				text = string(b)
			}
			opts := []emoji.Option{emoji.WithSmileys(smileys)}
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
	cmd.Flags().BoolVarP(&reverse, "reverse", "r", false, "turn icon tags back into Unicode emoji")
	cmd.Flags().BoolVar(&smileys, "smileys", false, "also convert ASCII smileys such as :) and ;-)")
	cmd.Flags().StringVar(&basePath, "base-path", "", `icon base path (default "`+emoji.DefaultBasePath+`")`)
	return cmd
}
