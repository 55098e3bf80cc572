package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// prompter asks the person at the terminal for values. It is only made when stdin is a terminal: on a
// non-terminal stdin commands never prompt.
type prompter struct {
	in  *bufio.Reader
	raw io.Reader // the stdin itself, for hidden input when it is a terminal file
	out io.Writer // prompts go to stderr, keeping stdout for results
}

func newPrompter(ios IO) *prompter {
	return &prompter{in: bufio.NewReader(ios.In), raw: ios.In, out: ios.ErrOut}
}

// errNoInput is the end of stdin while a value was asked for.
var errNoInput = errors.New("no input: stdin closed while a value was asked for")

// ask asks for a value, showing def as the default taken on an empty answer. required repeats the question
// until a value is given.
func (p *prompter) ask(label, def string, required bool) (string, error) {
	for {
		if def != "" {
			fmt.Fprintf(p.out, "? %s [%s]: ", label, def)
		} else {
			fmt.Fprintf(p.out, "? %s: ", label)
		}
		line, err := p.readLine()
		if err != nil {
			return "", err
		}
		if line == "" {
			line = def
		}
		if line != "" || !required {
			return line, nil
		}
		fmt.Fprintf(p.out, "  %s is required\n", label)
	}
}

// askSecret asks for a value without echoing it when stdin is a terminal.
func (p *prompter) askSecret(label string) (string, error) {
	for {
		fmt.Fprintf(p.out, "? %s (input hidden): ", label)
		var line string
		if f, ok := p.raw.(*os.File); ok && term.IsTerminal(int(f.Fd())) && p.in.Buffered() == 0 {
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(p.out)
			if err != nil {
				return "", fmt.Errorf("reading %s: %w", label, err)
			}
			line = strings.TrimSpace(string(b))
		} else {
			var err error
			if line, err = p.readLine(); err != nil {
				return "", err
			}
		}
		if line != "" {
			return line, nil
		}
		fmt.Fprintf(p.out, "  %s is required\n", label)
	}
}

// confirm asks a yes/no question; def is the answer on an empty line.
func (p *prompter) confirm(label string, def bool) (bool, error) {
	hint := "y/N"
	if def {
		hint = "Y/n"
	}
	for {
		fmt.Fprintf(p.out, "? %s [%s]: ", label, hint)
		line, err := p.readLine()
		if err != nil {
			return false, err
		}
		switch strings.ToLower(line) {
		case "":
			return def, nil
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		}
	}
}

func (p *prompter) readLine() (string, error) {
	line, err := p.in.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return "", errNoInput
		}
		return "", err
	}
	return strings.TrimSpace(line), nil
}
