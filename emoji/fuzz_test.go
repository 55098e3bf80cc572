package emoji

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzToIcons checks, on any input, that ToIcons, FromIcons and DecodeHex do not panic, keep valid UTF-8
// valid, that ToIcons is idempotent (tags it wrote are left alone), and that text without `:` or `[` comes
// back from FromIcons(ToIcons(x)) without smileys as it was, up to U+FE0F and U+200D.
func FuzzToIcons(f *testing.F) {
	for _, s := range []string{
		"", "hello", ":+1:", "👍", "👍🏽", "🏳️‍🌈", "🏳‍🌈", "#️⃣", "1⃣", "🇷🇺", "🇦🇦🇷🇺", "🇦🇷🇺", "❤\ufe0f\ufe0f",
		"©\ufe0e", "10:30:45", "1:100:2", ":100:1️⃣", "::a::a", ":::+1:::", "http://x/:+1:", "www.x.ru/👍",
		"[ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]", "[ICON=x :+1:", ":) ;-) <3", "\xff:+1:\xf0",
		"👨\u200d👩\u200d👧\u200d👦", "👨👩👧👦", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
		":F09F918D:", ":12345678:F09F918D:", ":smile:F09F918D:", "<span>:+1:</span>", "<a :+1:>", "<span>\n</span>",
		"&lt;3 &gt;.&lt; :&THORN;", "B-) O:) d:", ":-. >.<", "🏳️‍🌈", "🇷 🇦🇦",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, smileys bool) {
		c := New(WithSmileys(smileys))
		out := c.ToIcons(in)
		back := c.FromIcons(out)
		if utf8.ValidString(in) && (!utf8.ValidString(out) || !utf8.ValidString(back)) {
			t.Fatalf("invalid UTF-8 from valid input %q: %q / %q", in, out, back)
		}
		if again := c.ToIcons(out); again != out {
			t.Fatalf("ToIcons not idempotent on %q:\n once %q\ntwice %q", in, out, again)
		}
		if !smileys && !strings.ContainsAny(in, ":[") {
			if strip(back) != strip(in) {
				t.Fatalf("round trip of %q: ToIcons %q, FromIcons %q", in, out, back)
			}
		}
		_ = c.FromIcons(in)
		if dec := DecodeHex(in); utf8.ValidString(in) && !utf8.ValidString(dec) {
			t.Fatalf("DecodeHex(%q) = %q, invalid UTF-8", in, dec)
		}
	})
}

// strip drops U+FE0F and U+200D, which FromIcons writes where emojione's fully-qualified form has them.
func strip(s string) string { return strings.NewReplacer("\ufe0f", "", "\u200d", "").Replace(s) }
