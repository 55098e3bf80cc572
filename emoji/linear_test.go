package emoji

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/olctl/olctl/internal/proctest"
)

// adversarial are inputs that make naive scanners quadratic.
func adversarial(size int) map[string]string {
	rep := func(unit string) string { return strings.Repeat(unit, size/len(unit)+1)[:size] }
	return map[string]string{
		"colons":           rep(":"),
		"colon-pairs":      rep("::a::a"),
		"colon-run":        ":" + rep("a")[1:],
		"colons-spaced":    rep(":" + strings.Repeat("x", 55)),
		"regional":         rep("🇦"),
		"flags":            rep("🇷🇺"),
		"vs16":             "❤" + strings.Repeat("\ufe0f", size/3),
		"zwj-prefixes":     rep("👨\u200d"),
		"keycap-prefixes":  rep("1\ufe0f"),
		"unclosed-tags":    rep("[ICON=/bitrix/images/emoji/1f44d.svg title=:+1: "),
		"tag-starts":       rep("[ICON="),
		"tag-prefixes":     rep("[ICON=/bitrix/images/emoji/1f44d-"),
		"tag-no-close":     "[ICON=/bitrix/images/emoji/1f44d.svg " + rep("x"),
		"urls":             rep("a://"),
		"shortname-prefix": rep(":+1"),
		"smileys":          rep(":) "),
		"smiley-letters":   rep(" O:-"),
		"smiley-ends":      rep(" :-......"),
		"emoji-dense":      rep(":+1:👍"),
		"invalid-utf8":     rep("\xf0\x9f"),
		"digit-names":      rep("1:100:"),
		"hex":              rep(":F09F918D:"),
		"hex-blocked":      rep(":12345678:F09F918D"),
		"hex-open":         rep(":F09F918D"),
		"html-open":        rep("<a"),
		"html-spans":       rep("<span>"),
		"html-span-lines":  rep("<span>x\n"),
		"html-closes":      rep("<span></"),
		"html-tags":        rep("<p>:+1:"),
	}
}

// TestAdversarialLinear converts 1 MiB of each adversarial input in both directions within a generous bound of
// CPU time: 1 s (10 s under the race detector), where a quadratic scanner needs minutes. The real figures, in
// BenchmarkLinear, are milliseconds.
// Not parallel: proctest.CPUTime counts the whole process.
func TestAdversarialLinear(t *testing.T) {
	bound := time.Second
	if raceEnabled {
		bound *= 10
	}
	c := New()
	for name, in := range adversarial(1 << 20) {
		t.Run(name, func(t *testing.T) {
			start := proctest.CPUTime()
			out := c.ToIcons(in)
			back := c.FromIcons(out)
			_ = c.FromIcons(in)
			_ = DecodeHex(in)
			if d := proctest.CPUTime() - start; d > bound {
				t.Errorf("%s: %v of CPU for 1 MiB, want under %v", name, d, bound)
			}
			if utf8.ValidString(in) && (!utf8.ValidString(out) || !utf8.ValidString(back)) {
				t.Errorf("%s: invalid UTF-8 out", name)
			}
		})
	}
	if got := c.ToIcons(adversarial(1 << 20)["colons"]); got != strings.Repeat(":", 1<<20) {
		t.Error("colons changed")
	}
}

// TestRoundTripMixed converts every name and Unicode form of the set, in random order and next to each
// other, in one text: each name becomes exactly one tag, and FromIcons gives back the same emoji.
func TestRoundTripMixed(t *testing.T) {
	t.Parallel()
	c := New()
	rng := rand.New(rand.NewPCG(1, 2))
	var names, forms []string
	for _, e := range emojioneSet(t) {
		names = append(names, e.names...)
		forms = append(forms, runes(e.file))
	}
	t.Run("names", func(t *testing.T) {
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		seps := []string{" ", "x", ", ", "\n", "—"}
		var in, want strings.Builder
		for _, n := range names {
			sep := seps[rng.IntN(len(seps))]
			in.WriteString(n + sep)
			want.WriteString(c.FromIcons(c.ToIcons(n)) + sep)
		}
		out := c.ToIcons(in.String())
		if n := strings.Count(out, "[ICON="); n != len(names) {
			t.Errorf("%d tags for %d names", n, len(names))
		}
		if back := c.FromIcons(out); back != want.String() {
			t.Error("round trip differs")
		}
	})
	t.Run("unicode", func(t *testing.T) {
		rng.Shuffle(len(forms), func(i, j int) { forms[i], forms[j] = forms[j], forms[i] })
		var in, want strings.Builder
		for _, f := range forms {
			// Back to back, a form could run into the next one (two regional indicators make a flag).
			in.WriteString(f + " ")
			want.WriteString(c.FromIcons(c.ToIcons(f)) + " ")
		}
		out := c.ToIcons(in.String())
		if n := strings.Count(out, "[ICON="); n != len(forms) {
			t.Errorf("%d tags for %d forms", n, len(forms))
		}
		if back := c.FromIcons(out); back != want.String() {
			t.Error("round trip differs")
		}
	})
}
