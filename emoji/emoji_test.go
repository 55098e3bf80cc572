package emoji

import (
	"github.com/olctl/olctl/internal/proctest"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	kyokomi "github.com/kyokomi/emoji/v2"
)

// tag is the icon tag the default Converter writes.
func tag(file, title string) string {
	return "[ICON=/bitrix/images/emoji/" + file + ".svg?v=2.2.5 title=" + title + "]"
}

func TestToIcons(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		in   string
		want string
	}{
		{"empty", nil, "", ""},
		{"plain text", nil, "Hello, world! Price 100$, #1 and *bold*", "Hello, world! Price 100$, #1 and *bold*"},
		{"cyrillic and punctuation", nil, "Привет — «мир»… 50°", "Привет — «мир»… 50°"},
		{"shortname", nil, "ok :+1: thanks", "ok " + tag("1f44d", ":+1:") + " thanks"},
		{"shortname alias keeps its title", nil, ":thumbsup:", tag("1f44d", ":thumbsup:")},
		{"flag shortname", nil, ":flag_ru:", tag("1f1f7-1f1fa", ":flag_ru:")},
		{"flag-xx alias", nil, ":flag-ru:", tag("1f1f7-1f1fa", ":flag-ru:")},
		{"subdivision flag shortname", nil, ":england:", tag("1f3f4-e0067-e0062-e0065-e006e-e0067-e007f", ":england:")},
		{"shortnames back to back", nil, ":+1::-1:", tag("1f44d", ":+1:") + tag("1f44e", ":-1:")},
		{"shortname after colons", nil, ":::+1:::", "::" + tag("1f44d", ":+1:") + "::"},
		{"shortname inside a word", nil, "great:+1:job", "great" + tag("1f44d", ":+1:") + "job"},
		{"shortname with parentheses", nil, ":AB_button_(blood_type):", tag("1f18e", ":AB_button_(blood_type):")},
		{"unknown word", nil, "a :notanemoji: b", "a :notanemoji: b"},
		{"unknown then known", nil, ":nope:smile:", ":nope" + tag("1f604", ":smile:")},
		{"space breaks a shortname", nil, ": +1:", ": +1:"},
		{"empty shortname", nil, "::", "::"},
		{"unterminated", nil, "look :smile", "look :smile"},
		{"time", nil, "at 10:30:45 and 12:00", "at 10:30:45 and 12:00"},
		{"ratio with a digits-only shortname", nil, "1:100:2 and 5:1234:", "1:100:2 and 5:1234:"},
		{"digits-only shortname alone", nil, "score :100: x:100:", "score " + tag("1f4af", ":100:") + " x" + tag("1f4af", ":100:")},
		{"digits-only shortname before a keycap", nil, ":100:1️⃣", tag("1f4af", ":100:") + tag("31-20e3", ":one:")},
		{"digits-only shortname before a digit and an emoji", nil, ":100:1❤", ":100:1" + tag("2764", ":heart:")},
		{"unicode", nil, "👍", tag("1f44d", ":+1:")},
		{"unicode in text", nil, "ok👍ok", "ok" + tag("1f44d", ":+1:") + "ok"},
		{"skin tone", nil, "👍🏽", tag("1f44d-1f3fd", ":thumbsup_tone3:")},
		{"zwj family", nil, "👨‍👩‍👧‍👦", tag("1f468-200d-1f469-200d-1f467-200d-1f466", ":family_mwgb:")},
		{"zwj with fe0f", nil, "🏳️‍🌈", tag("1f3f3-200d-1f308", ":rainbow-flag:")},
		{"zwj without fe0f", nil, "🏳‍🌈", tag("1f3f3-200d-1f308", ":rainbow-flag:")},
		{"zwj prefix only", nil, "👨‍x", tag("1f468", ":man:") + "\u200dx"},
		{"heart with fe0f", nil, "❤️", tag("2764", ":heart:")},
		{"heart without fe0f", nil, "❤", tag("2764", ":heart:")},
		{"one fe0f is consumed", nil, "❤\ufe0f\ufe0f", tag("2764", ":heart:") + "\ufe0f"},
		{"text presentation stays", nil, "©\ufe0e 2024 ❤\ufe0e", "©\ufe0e 2024 ❤\ufe0e"},
		{"copyright", nil, "© 2024", tag("a9", ":copyright:") + " 2024"},
		{"keycap with fe0f", nil, "#️⃣", tag("23-20e3", ":hash:")},
		{"keycap without fe0f", nil, "1⃣", tag("31-20e3", ":one:")},
		{"digit with fe0f only", nil, "1\ufe0f", "1\ufe0f"},
		{"flag", nil, "🇷🇺", tag("1f1f7-1f1fa", ":ru:")},
		{"flags back to back", nil, "🇷🇺🇺🇦", tag("1f1f7-1f1fa", ":ru:") + tag("1f1fa-1f1e6", ":flag-ua:")},
		{"invalid pair stays, next pair converts", nil, "🇦🇦🇷🇺", "🇦🇦" + tag("1f1f7-1f1fa", ":ru:")},
		{"pairs from the start of the run", nil, "🇦🇷🇺", tag("1f1e6-1f1f7", ":flag-ar:") + "🇺"},
		{"lone regional indicator", nil, "🇷 x", "🇷 x"},
		{"url untouched", nil, "see http://example.com/:+1:/👍?a=:smile: now :smile:", "see http://example.com/:+1:/👍?a=:smile: now " + tag("1f604", ":smile:")},
		{"url with port", nil, "https://host:8080/a:smile:b", "https://host:8080/a:smile:b"},
		{"www url", nil, "www.example.com/:smile: :smile:", "www.example.com/:smile: " + tag("1f604", ":smile:")},
		{"url in bb code", nil, "[URL=http://x.ru]:smile:[/URL]", "[URL=http://x.ru]" + tag("1f604", ":smile:") + "[/URL]"},
		{"not a www url", nil, "awww.:smile:", "awww." + tag("1f604", ":smile:")},
		{"existing tag untouched", nil, tag("1f44d", ":+1:") + " :+1:", tag("1f44d", ":+1:") + " " + tag("1f44d", ":+1:")},
		{"foreign tag untouched", nil, "[icon=/x/y.png title=:+1:]", "[icon=/x/y.png title=:+1:]"},
		{"unclosed tag is text", nil, "[ICON=x :+1:", "[ICON=x " + tag("1f44d", ":+1:")},
		{"invalid utf-8 passes through", nil, "\xff:+1:\xf0\x9f", "\xff" + tag("1f44d", ":+1:") + "\xf0\x9f"},
		{"smileys off", nil, ":) ;) :D <3", ":) ;) :D <3"},
		{"smileys on", []Option{WithSmileys(true)}, ":) hi ;-) :D <3 8-)",
			tag("1f642", ":slight_smile:") + " hi " + tag("1f609", ":wink:") + " " + tag("1f603", ":smiley:") + " " +
				tag("2764", ":heart:") + " " + tag("1f60e", ":sunglasses:")},
		{"smileys only between spaces", []Option{WithSmileys(true)}, "a:) :)b (:) 8) item xD\t:(\n",
			"a:) :)b (:) 8) item " + tag("1f606", ":laughing:") + "\t" + tag("1f641", ":slight_frown:") + "\n"},
		{"smileys and shortnames", []Option{WithSmileys(true)}, ":P :+1:", tag("1f61b", ":face_with_tongue:") + " " + tag("1f44d", ":+1:")},
		{"base path", []Option{WithBasePath("https://cdn.example.com/emoji/")}, ":+1:",
			"[ICON=https://cdn.example.com/emoji/1f44d.svg?v=2.2.5 title=:+1:]"},
		{"base path escaped", []Option{WithBasePath("/my icons]")}, "👍", "[ICON=/my%20icons%5D/1f44d.svg?v=2.2.5 title=:+1:]"},
		{"version", []Option{WithVersion("3")}, "👍", "[ICON=/bitrix/images/emoji/1f44d.svg?v=3 title=:+1:]"},
		{"no version", []Option{WithVersion("")}, "👍", "[ICON=/bitrix/images/emoji/1f44d.svg title=:+1:]"},
		{"nil option ignored", []Option{nil}, "👍", tag("1f44d", ":+1:")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := New(tt.opts...).ToIcons(tt.in)
			if got != tt.want {
				t.Errorf("ToIcons(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFromIcons(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		in   string
		want string
	}{
		{"empty", nil, "", ""},
		{"no tags", nil, "hello [b]world[/b] [ICON", "hello [b]world[/b] [ICON"},
		{"tag", nil, "ok " + tag("1f44d", ":+1:") + "!", "ok 👍!"},
		{"fully qualified", nil, tag("2764", ":heart:"), "❤️"},
		{"keycap", nil, tag("23-20e3", ":hash:"), "#️⃣"},
		{"zwj", nil, tag("1f3f3-200d-1f308", ":rainbow_flag:"), "🏳️\u200d🌈"},
		{"flag", nil, tag("1f1f7-1f1fa", ":flag_ru:"), "🇷🇺"},
		{"skin tone", nil, tag("1f44d-1f3fd", ":x:"), "👍🏽"},
		{"title does not matter", nil, "[ICON=/bitrix/images/emoji/1f44d.svg?v=1 title=whatever]", "👍"},
		{"no query no title", nil, "[ICON=/bitrix/images/emoji/1f44d.svg]", "👍"},
		{"extra attributes", nil, "[ICON=/bitrix/images/emoji/1f44d.svg size=20 title=:+1:]", "👍"},
		{"case-insensitive name and hex", nil, "[icon=/bitrix/images/emoji/1F44D.svg]", "👍"},
		{"back to back", nil, tag("1f44d", "a") + tag("1f44e", "b"), "👍👎"},
		{"unknown file stays", nil, tag("1f44d-1f44d", ":x:"), tag("1f44d-1f44d", ":x:")},
		{"not hex stays", nil, "[ICON=/bitrix/images/emoji/smile.svg]", "[ICON=/bitrix/images/emoji/smile.svg]"},
		{"other base stays", nil, "[ICON=/other/1f44d.svg]", "[ICON=/other/1f44d.svg]"},
		{"other extension stays", nil, "[ICON=/bitrix/images/emoji/1f44d.png]", "[ICON=/bitrix/images/emoji/1f44d.png]"},
		{"suffix after svg stays", nil, "[ICON=/bitrix/images/emoji/1f44d.svgz]", "[ICON=/bitrix/images/emoji/1f44d.svgz]"},
		{"unclosed stays", nil, "[ICON=/bitrix/images/emoji/1f44d.svg title=x", "[ICON=/bitrix/images/emoji/1f44d.svg title=x"},
		{"newline inside stays", nil, "[ICON=/bitrix/images/emoji/1f44d.svg\n]", "[ICON=/bitrix/images/emoji/1f44d.svg\n]"},
		{"nested bracket: inner converts", nil, "[ICON=/bitrix/images/emoji/1f44d.svg title=" + tag("1f44e", "b") + "]",
			"[ICON=/bitrix/images/emoji/1f44d.svg title=👎]"},
		{"custom base", []Option{WithBasePath("/e")}, "[ICON=/e/1f44d.svg?v=2.2.5 title=:+1:] " + tag("1f44d", ":+1:"),
			"👍 " + tag("1f44d", ":+1:")},
		{"invalid utf-8 passes through", nil, "\xff" + tag("1f44d", ":+1:") + "\xf0", "\xff👍\xf0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := New(tt.opts...).FromIcons(tt.in)
			if got != tt.want {
				t.Errorf("FromIcons(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestIconTag(t *testing.T) {
	c := New()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{":+1:", tag("1f44d", ":+1:"), true},
		{"👍", tag("1f44d", ":+1:"), true},
		{"❤", tag("2764", ":heart:"), true},
		{"#️⃣", tag("23-20e3", ":hash:"), true},
		{"👍👍", "", false},
		{":nope:", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := c.IconTag(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("IconTag(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestZeroConverterIsDefault(t *testing.T) {
	var zero Converter
	var nilConv *Converter
	want := tag("1f44d", ":+1:")
	if got := zero.ToIcons(":+1:"); got != want {
		t.Errorf("zero Converter: %q, want %q", got, want)
	}
	if got := nilConv.ToIcons(":+1:"); got != want {
		t.Errorf("nil Converter: %q, want %q", got, want)
	}
	if got := nilConv.FromIcons(want); got != "👍" {
		t.Errorf("nil Converter FromIcons: %q", got)
	}
}

func stripVS16(s string) string { return strings.ReplaceAll(s, "\ufe0f", "") }

// TestRoundTripCodeMap converts every entry of kyokomi's code map, as shortname and as Unicode, to a tag and
// back.
func TestRoundTripCodeMap(t *testing.T) {
	c := New()
	codeMap := kyokomi.CodeMap()
	revMap := kyokomi.RevCodeMap()
	for name, value := range codeMap {
		for _, in := range []string{name, value} {
			icon := c.ToIcons(in)
			if strings.Count(icon, "[ICON=") != 1 || !strings.HasPrefix(icon, "[ICON=") || !strings.HasSuffix(icon, "]") {
				t.Errorf("ToIcons(%q) = %q, want one tag", in, icon)
				continue
			}
			if in == name && !strings.HasSuffix(icon, " title="+name+"]") {
				t.Errorf("ToIcons(%q) = %q, want the shortname as title", in, icon)
			}
			back := c.FromIcons(icon)
			if stripVS16(back) != stripVS16(value) {
				t.Errorf("FromIcons(ToIcons(%q)) = %q, want %q", in, back, value)
			}
			if _, ok := revMap[back]; !ok {
				t.Errorf("FromIcons(ToIcons(%q)) = %q, not a code map spelling", in, back)
			}
			if strings.Count(back, "\ufe0f") < strings.Count(value, "\ufe0f") {
				t.Errorf("FromIcons(ToIcons(%q)) = %q is less qualified than %q", in, back, value)
			}
		}
	}
}

// TestKyokomiUntouched checks that building and using the tables leaves kyokomi's shared state as it was.
func TestKyokomiUntouched(t *testing.T) {
	before := maps.Clone(kyokomi.CodeMap())
	c := New(WithSmileys(true))
	_ = c.ToIcons(":+1: 👍 :) :flag-ru:")
	if !maps.Equal(before, kyokomi.CodeMap()) {
		t.Error("kyokomi's code map changed")
	}
	if kyokomi.ReplacePadding != " " {
		t.Errorf("kyokomi.ReplacePadding = %q", kyokomi.ReplacePadding)
	}
}

// adversarial are inputs that make naive scanners quadratic.
func adversarial(size int) map[string]string {
	rep := func(unit string) string { return strings.Repeat(unit, size/len(unit)+1)[:size] }
	return map[string]string{
		"colons":            rep(":"),
		"colon-pairs":       rep("::a::a"),
		"colon-run":         ":" + rep("a")[1:],
		"colons-spaced":     rep(":" + strings.Repeat("x", 55)),
		"regional":          rep("🇦"),
		"flags":             rep("🇷🇺"),
		"vs16":              "❤" + strings.Repeat("\ufe0f", size/3),
		"zwj-prefixes":      rep("👨\u200d"),
		"keycap-prefixes":   rep("1\ufe0f"),
		"unclosed-tags":     rep("[ICON=/bitrix/images/emoji/1f44d.svg title=:+1: "),
		"tag-starts":        rep("[ICON="),
		"tag-prefixes":      rep("[ICON=/bitrix/images/emoji/1f44d-"),
		"tag-no-close":      "[ICON=/bitrix/images/emoji/1f44d.svg " + rep("x"),
		"urls":              rep("a://"),
		"shortname-prefix":  rep(":+1"),
		"smileys":           rep(":) "),
		"emoji-dense":       rep(":+1:👍"),
		"invalid-utf8":      rep("\xf0\x9f"),
		"digits-shortnames": rep("1:100:"),
	}
}

// TestAdversarialLinear converts 1 MiB of each adversarial input in both directions within a generous bound of
// CPU time: 1 s (10 s under the race detector), where a quadratic scanner needs minutes. The real figures, in
// BenchmarkLinear, are milliseconds.
func TestAdversarialLinear(t *testing.T) {
	bound := time.Second
	if raceEnabled {
		bound *= 10
	}
	c := New(WithSmileys(true))
	for name, in := range adversarial(1 << 20) {
		t.Run(name, func(t *testing.T) {
			start := proctest.CPUTime()
			out := c.ToIcons(in)
			back := c.FromIcons(out)
			_ = c.FromIcons(in)
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

func TestNoEmojiDoesNotAllocate(t *testing.T) {
	c := New(WithSmileys(true))
	text := noEmoji1K()
	for name, f := range map[string]func(string) string{"ToIcons": c.ToIcons, "FromIcons": c.FromIcons} {
		if allocs := testing.AllocsPerRun(100, func() { _ = f(text) }); allocs != 0 {
			t.Errorf("%s allocates %v times on text without emoji", name, allocs)
		}
		if got := f(text); got != text {
			t.Errorf("%s changed text without emoji", name)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New()
	in := emoji20In1K()
	want := c.ToIcons(in)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if got := c.ToIcons(in); got != want {
					t.Error("concurrent ToIcons differs")
					return
				}
				if got := New().FromIcons(want); strings.Contains(got, "[ICON=") {
					t.Error("concurrent FromIcons left a tag")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":           "",
		"/a/b":       "/a/b",
		"/a b":       "/a%20b",
		"[x]":        "%5Bx%5D",
		"a\nb\x7f":   "a%0Ab%7F",
		"/ok/%20/ok": "/ok/%20/ok",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRoundTripMixed converts every code map entry, in random order and next to each other, in one text: each
// becomes exactly one tag, and FromIcons gives back the same text up to U+FE0F.
func TestRoundTripMixed(t *testing.T) {
	c := New()
	rng := rand.New(rand.NewPCG(1, 2))
	seps := []string{" ", "x", ", ", "\n", "—", "1", ":"}
	var shortnames, values []string
	for name, value := range kyokomi.CodeMap() {
		shortnames = append(shortnames, name)
		values = append(values, value)
	}
	slices.Sort(shortnames)
	slices.Sort(values)
	for name, list := range map[string][]string{"shortnames": shortnames, "values": values} {
		t.Run(name, func(t *testing.T) {
			rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
			var in, want strings.Builder
			for i, s := range list {
				sep := seps[rng.IntN(len(seps))]
				if name == "shortnames" {
					sep = seps[rng.IntN(4)] // a digit or colon next to a shortname changes its meaning
					in.WriteString(s + sep)
					want.WriteString(kyokomi.CodeMap()[s] + sep)
					continue
				}
				if i%2 == 0 {
					sep = "" // back to back
				}
				in.WriteString(s + sep)
				want.WriteString(s + sep)
			}
			out := c.ToIcons(in.String())
			if n := strings.Count(out, "[ICON="); n != len(list) && name == "shortnames" {
				t.Errorf("%d tags for %d shortnames", n, len(list))
			}
			if back := c.FromIcons(out); stripVS16(back) != stripVS16(want.String()) {
				t.Errorf("round trip differs")
			}
		})
	}
}
