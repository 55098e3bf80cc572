package cli

import (
	"github.com/spf13/cobra"

	"github.com/olctl/olctl/connector"
)

// queueSelect is how a queue command selects what it works on: --site and --line always, and for a
// command that takes items in id order (ls, dead, redrive) --after, --limit and --all.
type queueSelect struct {
	Items    string // what is selected, plural ("items", "dead letters"); "" adds --site and --line only
	Limit    int    // --limit's default
	LimitUse string // --limit's usage
	AllUse   string // --all's usage
	// LimitZero lets --limit be 0 (every one); otherwise it must be positive.
	LimitZero bool
	NoLine    bool // the line is the command's argument: no --line
}

// add adds the flags of q to cmd, kept in f and all.
func (q queueSelect) add(cmd *cobra.Command, f *connector.QueueFilter, all *bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.Site, "site", "", "only this portal (domain or licence)")
	if !q.NoLine {
		fl.StringVar(&f.Line, "line", "", "only this line")
	}
	if q.Items == "" {
		return
	}
	after := "only " + q.Items + " with a greater id"
	if !q.LimitZero {
		after += " (paging)"
	}
	fl.Int64Var(&f.AfterID, "after", 0, after)
	fl.IntVar(&f.Limit, "limit", q.Limit, q.LimitUse)
	fl.BoolVar(all, "all", false, q.AllUse)
}

// check refuses the values of q's flags that select nothing sensible.
func (q queueSelect) check(f connector.QueueFilter) error {
	if q.Items == "" {
		return nil
	}
	switch {
	case f.AfterID < 0:
		return usageErrorf("--after %d: want an id (0 or more)", f.AfterID)
	case f.Limit < 0, f.Limit == 0 && !q.LimitZero:
		return usageErrorf("--limit must be positive")
	}
	return nil
}
