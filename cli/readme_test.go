package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// readmeCommands returns the command lines named in the first cell of each row of the README's command table
// (the table under "| command | what it does |"): every backticked span, "olctl " added where a row names
// more than one and drops it ("`olctl testConnect`, `saveSettings`").
func readmeCommands(t *testing.T, readme string) []string {
	t.Helper()
	_, table, ok := strings.Cut(readme, "| command | what it does |")
	if !ok {
		t.Fatal("the README has no `| command | what it does |` table")
	}
	var out []string
	span := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(table, "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cell := strings.Split(line, "|")[1]
		for _, m := range span.FindAllStringSubmatch(cell, -1) {
			out = append(out, strings.TrimPrefix(m[1], "olctl "))
		}
	}
	if len(out) == 0 {
		t.Fatal("the README's command table names no command")
	}
	return out
}

// TestReadmeCommandsExist checks that every command the README's command table names is a command of olctl,
// and every flag named with it one of that command's flags: the README is kept in line with --help.
func TestReadmeCommandsExist(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range readmeProblems(NewCmdRoot(testFactory(nil)), readmeCommands(t, string(b))) {
		t.Error(p)
	}
}

// readmeProblems returns what of the command lines is not in root's tree: a command, or a flag of one.
func readmeProblems(root *cobra.Command, lines []string) []string {
	var problems []string
	for _, line := range lines {
		var words, flags []string
		for _, w := range strings.Fields(line) {
			switch {
			case strings.HasPrefix(w, "--"):
				flags = append(flags, strings.TrimPrefix(strings.SplitN(w, "=", 2)[0], "--"))
			case strings.HasPrefix(w, "[--"):
				flags = append(flags, strings.TrimPrefix(strings.Trim(w, "[]"), "--"))
			case len(flags) == 0 && isCommandWord(w):
				words = append(words, w)
			}
		}
		cmd, rest, err := root.Find(words)
		if err != nil || len(rest) > 0 || cmd == root {
			problems = append(problems, "the README names `"+line+"`, which is not an olctl command")
			continue
		}
		for _, f := range flags {
			if cmd.Flags().Lookup(f) == nil && cmd.InheritedFlags().Lookup(f) == nil {
				problems = append(problems, "the README names `"+line+"`, but "+cmd.CommandPath()+" has no flag --"+f)
			}
		}
	}
	return problems
}

// isCommandWord reports whether w names a command rather than an argument (ID, TEXT, N, FILE) or an
// ellipsis.
func isCommandWord(w string) bool {
	return w != "…" && w != "..." && strings.ToUpper(w) != w && !strings.ContainsAny(w, "[]<>")
}

// TestReadmeCommandTableParsing checks the parsing of the table, and that a command or flag not in the tree
// is found, on a table of the README's shape.
func TestReadmeCommandTableParsing(t *testing.T) {
	readme := "# x\n\n| command | what it does |\n|---|---|\n| `olctl testConnect`, `saveSettings`, … | a |\n" +
		"| `olctl check [--watch 30s]` | b `olctl nope` |\n| `olctl connector queue …` | c |\n" +
		"| `olctl nosuch`, `olctl send --nope ID` | d |\n\nafter\n| `olctl not-in-table` |\n"
	lines := readmeCommands(t, readme)
	if got, want := strings.Join(lines, "|"), "testConnect|saveSettings|check [--watch 30s]|connector queue …|nosuch|send --nope ID"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	got := readmeProblems(NewCmdRoot(testFactory(nil)), lines)
	want := []string{"the README names `nosuch`, which is not an olctl command", "the README names `send --nope ID`, but olctl send has no flag --nope"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
