package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// prompter asks the person at the terminal for values. It is only made when stdin is a terminal: on a
// non-terminal stdin commands never prompt.
//
// Every question ends when ctx does (Ctrl-C): the answer being typed is dropped, the terminal's state as it
// was before the question is restored, and the question returns errCancelled.
type prompter struct {
	ctx context.Context
	in  *bufio.Reader
	raw io.Reader // the stdin itself, for hidden input when it is a terminal file
	out io.Writer // prompts go to stderr, keeping stdout for results
}

func newPrompter(ctx context.Context, ios IO) *prompter {
	return &prompter{ctx: ctx, in: bufio.NewReader(ios.In), raw: ios.In, out: ios.ErrOut}
}

// ExitCancelled is the exit code of a run the person cancelled with Ctrl-C (128 + SIGINT, as shells report).
const ExitCancelled = 130

// errCancelled is a question cancelled with Ctrl-C; it is exit 130, not 1 (which says the server answered
// an error).
var errCancelled = &ExitError{Code: ExitCancelled, Err: errors.New("cancelled")}

// await runs read, which blocks on stdin, until it returns or p.ctx ends; then it restores the terminal of
// stdin (when it is one) to the state before read and returns errCancelled. The abandoned read ends with
// the process.
func (p *prompter) await(read func() (string, error)) (string, error) {
	var restore func()
	if f, ok := p.raw.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if st, err := term.GetState(int(f.Fd())); err == nil {
			restore = func() { _ = term.Restore(int(f.Fd()), st) }
		}
	}
	type answer struct {
		line string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		line, err := read()
		done <- answer{line, err}
	}()
	select {
	case a := <-done:
		return a.line, a.err
	case <-p.ctx.Done():
		if restore != nil {
			restore()
		}
		fmt.Fprintln(p.out)
		return "", errCancelled
	}
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
func (p *prompter) askSecret(label string) (string, error) { return p.askSecretOr(label, "", "") }

// askSecretOr is askSecret where an empty answer takes def, when it is set; hint names it in the question
// ("Enter for the fake's"), never showing it.
func (p *prompter) askSecretOr(label, hint, def string) (string, error) {
	question := label + " (input hidden)"
	if def != "" {
		question = label + " (input hidden; Enter for " + hint + ")"
	}
	for {
		fmt.Fprintf(p.out, "? %s: ", question)
		var line string
		if f, ok := p.raw.(*os.File); ok && term.IsTerminal(int(f.Fd())) && p.in.Buffered() == 0 {
			var err error
			line, err = p.await(func() (string, error) {
				b, err := term.ReadPassword(int(f.Fd()))
				return string(b), err
			})
			if errors.Is(err, errCancelled) {
				return "", err
			}
			fmt.Fprintln(p.out)
			if err != nil {
				return "", fmt.Errorf("reading %s: %w", label, err)
			}
			line = strings.TrimSpace(line)
		} else {
			var err error
			if line, err = p.readLine(); err != nil {
				return "", err
			}
		}
		if line == "" {
			line = def
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
	line, err := p.await(func() (string, error) { return p.in.ReadString('\n') })
	if errors.Is(err, errCancelled) {
		return "", err
	}
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return "", errNoInput
		}
		return "", err
	}
	return strings.TrimSpace(line), nil
}
