package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// widest returns the display width of the widest line of s.
func widest(s string) int {
	w := 0
	for _, line := range strings.Split(s, "\n") {
		w = max(w, twwidth.Width(line))
	}
	return w
}

// demoReportFixture is a demo report with the walkthrough's real hop texts and fixed times.
func demoReportFixture() *demoReport {
	return &demoReport{SetupMS: 41.2, Signing: "hmac-sha256", Profile: "current", Connector: "http://127.0.0.1:40001",
		Portal: "http://127.0.0.1:40002", BotFW: "http://127.0.0.1:40003", Hops: []demoHop{
			{N: 1, Hop: "customer message", From: "Bot Framework", To: "connector webhook", AtMS: 3.1, DurationMS: 3.1,
				Detail: "activity 5f0c3b9a21d4e8f7a6b5c4d3 (signed JWT), queued"},
			{N: 2, Hop: "receivingMessage", From: "connector", To: "portal event", AtMS: 11.9, DurationMS: 8.8,
				Detail: "OnReceivedMessage: Hello! Where is my order? [ICON=/bitrix/images/emoji/1f4e6.png TITLE=package]"},
			{N: 3, Hop: "OK answer", From: "portal", To: "connector", AtMS: 12.4, DurationMS: 0.5,
				Detail: "packet acknowledged (current profile)"},
			{N: 4, Hop: "sendMessage → activity", From: "portal", To: "Bot Framework", AtMS: 19.0, DurationMS: 6.6,
				Detail: "operator: Hi! It ships today [ICON=/bitrix/images/emoji/1f69a.png TITLE=truck] → the customer sees: Hi! It ships today 🚚"},
			{N: 5, Hop: "receivingStatusDelivery", From: "connector", To: "portal event", AtMS: 25.3, DurationMS: 6.3,
				Detail: "OnReceivedStatusDelivery: external id 5f0c3b9a21d4e8f7a6b5c4d4"},
		}}
}

func TestTablesFitTheTerminal(t *testing.T) {
	check := &Table{Header: []string{"CHECK", "STATUS", "LATENCY", "DETAIL"}, Rows: [][]string{
		{"config", "✓ ok", "", "server https://connector.example.com, domain https://portal.example.com, signing hmac-sha256, file /home/ann/.config/olctl/config.yaml"},
		{"tls", "✓ ok", "21.4ms", "TLS 1.3, certificate valid until 2031-01-01 (1800 days)"},
		{"testConnect", "✗ fail", "102ms", "refused: LICENCE_ERROR: the licence key is not known to this server"},
	}}
	small := &Table{Header: []string{"KEY", "VALUE"}, Rows: [][]string{{"a", "b"}}}
	long := &Table{Header: []string{"FIELD", "VALUE"}, Rows: [][]string{{"token", strings.Repeat("x", 150)}}}
	tests := []struct {
		name  string
		table *Table
		width int
		max   int // the widest line allowed
	}{
		{"demo at 80", nil, 80, 80},
		{"demo at 120", nil, 120, 120},
		{"check at 80", check, 80, 80},
		{"unknown width is 80", check, 0, 80},
		{"a long word is cut", long, 60, 60},
		{"a small table keeps its width", small, 80, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			ios := IO{Out: &out, OutTTY: true, Width: tt.width}
			if tt.table == nil {
				printDemoHops(ios, demoReportFixture())
			} else if err := writeTable(ios, tt.table); err != nil {
				t.Fatal(err)
			}
			if w := widest(out.String()); w > tt.max {
				t.Fatalf("widest line %d columns, want at most %d:\n%s", w, tt.max, out.String())
			}
			golden(t, "table-"+strings.ReplaceAll(tt.name, " ", "-"), out.String())
		})
	}
}

func TestTablesPipedAreNotWrapped(t *testing.T) {
	var out bytes.Buffer
	row := strings.Repeat("word ", 40)
	if err := writeTable(IO{Out: &out, Width: 40}, &Table{Header: []string{"A", "B"}, Rows: [][]string{{"1", row}}}); err != nil {
		t.Fatal(err)
	}
	if want := "A\tB\n1\t" + row + "\n"; out.String() != want {
		t.Fatalf("piped table %q, want %q", out.String(), want)
	}
}

func TestWrapLine(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  []string
	}{
		{"short", 10, []string{"short"}},
		{"a b c d e f", 3, []string{"a b", "c d", "e f"}},
		{"abcdefgh ij", 3, []string{"abc", "def", "gh", "ij"}},
		{"🚚🚚🚚 go", 4, []string{"🚚🚚", "🚚", "go"}},
		{"", 5, []string{""}},
	}
	for _, tt := range tests {
		got := wrapLine(tt.in, tt.limit)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("wrapLine(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}
