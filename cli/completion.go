package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// CompletionOptions are the inputs of `olctl completion`.
type CompletionOptions struct {
	Context context.Context
	IO      IO
	Shell   string         // bash, zsh, fish or powershell
	Root    *cobra.Command // the tree to complete
}

// NewCmdCompletion builds `olctl completion SHELL`.
func NewCmdCompletion(f *Factory, runF func(*CompletionOptions) error) *cobra.Command {
	opts := &CompletionOptions{IO: f.IO}
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a shell completion script. It completes commands, flags and the values of the flags that take a
fixed set (--profile legacy|current, --signing, --output).

  bash:  source <(olctl completion bash)
  zsh:   olctl completion zsh > "${fpath[1]}/_olctl"
  fish:  olctl completion fish > ~/.config/fish/completions/olctl.fish`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      cobra.MatchAll(needArgs(1, 1, "SHELL (bash, zsh, fish or powershell)"), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context, opts.Shell, opts.Root = cmd.Context(), args[0], cmd.Root()
			if runF != nil {
				return runF(opts)
			}
			return completionRun(opts)
		},
	}
}

func completionRun(opts *CompletionOptions) error {
	switch opts.Shell {
	case "bash":
		return opts.Root.GenBashCompletionV2(opts.IO.Out, true)
	case "zsh":
		return opts.Root.GenZshCompletion(opts.IO.Out)
	case "fish":
		return opts.Root.GenFishCompletion(opts.IO.Out, true)
	case "powershell":
		return opts.Root.GenPowerShellCompletionWithDesc(opts.IO.Out)
	}
	return usageErrorf("unknown shell %q: want bash, zsh, fish or powershell", opts.Shell)
}
