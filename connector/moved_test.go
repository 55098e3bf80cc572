package connector

import (
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/olctl/olctl/wire"
)

// callMessage returns the first error of an OK:false answer to method: its code and message.
func callMessage(t *testing.T, p *fakePortal, method, connector, line string) (wire.Code, string) {
	t.Helper()
	_, err := p.call(context.Background(), method, connector, line)
	var re *wire.ResponseError
	if !errors.As(err, &re) || len(re.Errors) == 0 {
		t.Fatalf("%s: not an OK:false answer: %v", method, err)
	}
	return re.Errors[0].Code, re.Errors[0].Message
}

// TestMovedLineSaysWhereItWent: a line connector whose entity another line registered answers its methods
// NOT_ACTIVE_LINE naming the line it moved to (or another portal), and register names the lines it moved
// from; the line set up again is an ordinary line connector.
func TestMovedLineSaysWhereItWent(t *testing.T) {
	a := newFakePortal(t, "key-moved-a", nil)
	b := newFakePortal(t, "key-moved-b", nil)
	s := newTestServer(t, a, Config{Sites: []Site{b.site()}})
	b.setServer(s.PortalEndpoint())
	a.connect("echo", "1", map[string]string{"entity": "bot-1"})
	a.mustCall("saveSettings", "echo", "2", wire.NewMap("entity", "bot-1"))
	a.mustCall("testConnect", "echo", "2")
	if out := a.mustCall("register", "echo", "2"); !movedFrom(out, "echo", "1") {
		t.Fatalf("register did not name the line it moved from: %v", out)
	}
	moved := regexp.MustCompile(`^connector echo of line 1 moved to line 2: its entity \(the bot\) was ` +
		`registered there, and this line was deactivated; saveSettings, testConnect and register connect it again$`)
	for _, m := range []string{"infoConnect", "readSettings", "infoConnectLink"} {
		code, msg := callMessage(t, a, m, "echo.web", "1") // a virtual id of the line finds its real one's move
		if code != wire.CodeNotActiveLine || !moved.MatchString(msg) {
			t.Errorf("%s of the moved line: %s %q", m, code, msg)
		}
	}

	// Another portal takes the bot: line 2 says it went to another portal; register names no line to it.
	b.mustCall("saveSettings", "echo", "5", wire.NewMap("entity", "bot-1"))
	b.mustCall("testConnect", "echo", "5")
	if out := b.mustCall("register", "echo", "5"); out["MOVED_FROM"] != nil {
		t.Fatalf("register named another portal's lines: %v", out)
	}
	if _, msg := callMessage(t, a, "infoConnect", "echo", "2"); !regexp.MustCompile(`^connector echo of line 2 moved to another portal: `).MatchString(msg) {
		t.Errorf("infoConnect of line 2: %q", msg)
	}

	// Line 1 set up again is a line connector of its own: no move is named any more.
	a.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "bot-2"))
	if out := a.mustCall("infoConnect", "echo", "1"); out["LINE"] != "1" {
		t.Fatalf("infoConnect of line 1 set up again: %v", out)
	}
	if _, msg := callMessage(t, a, "infoConnect", "echo", "7"); msg != "connector echo is not set up on line 7 (saveSettings first)" {
		t.Errorf("a line that never was: %q", msg)
	}
}

func movedFrom(out map[string]any, connector, line string) bool {
	list, _ := out["MOVED_FROM"].([]any)
	for _, e := range list {
		if m, _ := e.(map[string]any); m["CONNECTOR"] == connector && m["LINE"] == line {
			return true
		}
	}
	return false
}
