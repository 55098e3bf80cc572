package emoji

import (
	"strings"
	"sync"
	"testing"
)

// tag is the icon tag the default Converter writes.
func tag(file, title string) string {
	return "[ICON=/bitrix/images/emoji/" + file + ".svg?v=2.2.5 title=" + title + "]"
}

type convCase struct {
	name string
	opts []Option
	in   string
	want string
}

func runToIcons(t *testing.T, tests []convCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.opts...).ToIcons(tt.in); got != tt.want {
				t.Errorf("ToIcons(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestToIcons(t *testing.T) {
	t.Parallel()
	runToIcons(t, []convCase{
		{"empty", nil, "", ""},
		{"plain text", nil, "Hello, world! Price 100$, #1 and *bold* 0 9", "Hello, world! Price 100$, #1 and *bold* 0 9"},
		{"cyrillic and punctuation", nil, "Привет — «мир»… 50°", "Привет — «мир»… 50°"},
		{"shortname", nil, "ok :thumbsup: thanks", "ok " + tag("1f44d", ":thumbsup:") + " thanks"},
		{"alias keeps its title", nil, ":+1: :thumbup:", tag("1f44d", ":+1:") + " " + tag("1f44d", ":thumbup:")},
		{"kyokomi name", nil, ":thumbs_up:", tag("1f44d", ":thumbs_up:")},
		{"flag shortname", nil, ":flag_ru: :ru: :ua:", tag("1f1f7-1f1fa", ":flag_ru:") + " " + tag("1f1f7-1f1fa", ":ru:") + " " + tag("1f1fa-1f1e6", ":ua:")},
		{"flag-xx", nil, ":flag-ru:", tag("1f1f7-1f1fa", ":flag-ru:")},
		{"emojione wins over kyokomi", nil, ":umbrella: :snowman: :family: :cop:",
			tag("2614", ":umbrella:") + " " + tag("26c4", ":snowman:") + " " + tag("1f46a", ":family:") + " " + tag("1f46e", ":cop:")},
		{"facepalm", nil, ":facepalm: :face_palm_tone1: :facepalm_tone5:",
			tag("1f926", ":facepalm:") + " " + tag("1f926-1f3fb", ":face_palm_tone1:") + " " + tag("1f926-1f3ff", ":facepalm_tone5:")},
		{"shortnames back to back", nil, ":+1::-1:", tag("1f44d", ":+1:") + tag("1f44e", ":-1:")},
		{"shortname after colons", nil, ":::+1:::", "::" + tag("1f44d", ":+1:") + "::"},
		{"shortname inside a word", nil, "great:+1:job", "great" + tag("1f44d", ":+1:") + "job"},
		{"case matters", nil, ":Smile: :SMILE:", ":Smile: :SMILE:"},
		{"unknown word", nil, "a :notanemoji: b", "a :notanemoji: b"},
		{"an unknown match is taken whole", nil, ":nope:smile: :x:", ":nope:smile: " + tag("274c", ":x:")},
		{"bare characters never convert", nil, ":pound_symbol: :digit_zero: :asterisk_symbol: # * 0", ":pound_symbol: :digit_zero: :asterisk_symbol: # * 0"},
		{"space breaks a shortname", nil, ": +1:", ": +1:"},
		{"empty shortname", nil, "::", "::"},
		{"unterminated", nil, "look :smile", "look :smile"},
		{"time", nil, "at 10:30:45 and 12:00", "at 10:30:45 and 12:00"},
		{"digits as Bitrix reads them", nil, "1:100:2", "1" + tag("1f4af", ":100:") + "2"},
		{"unicode", nil, "👍", tag("1f44d", ":thumbsup:")},
		{"unicode in text", nil, "ok👍ok", "ok" + tag("1f44d", ":thumbsup:") + "ok"},
		{"skin tone", nil, "👍🏽", tag("1f44d-1f3fd", ":thumbsup_tone3:")},
		{"tone alone", nil, "🏽", tag("1f3fd", ":tone3:")},
		{"zwj family", nil, "👨‍👩‍👧‍👦", tag("1f468-1f469-1f467-1f466", ":family_mwgb:")},
		{"family without zwj", nil, "👨👩👧👦", tag("1f468-1f469-1f467-1f466", ":family_mwgb:")},
		{"zwj kiss with fe0f", nil, "👩‍❤️‍💋‍👩", tag("1f469-2764-1f48b-1f469", ":kiss_ww:")},
		{"zwj kiss without fe0f", nil, "👩‍❤‍💋‍👩", tag("1f469-2764-1f48b-1f469", ":kiss_ww:")},
		{"zwj prefix only", nil, "👨‍x", tag("1f468", ":man:") + "\u200dx"},
		{"zwj sequence newer than the set", nil, "🏳️‍🌈", tag("1f3f3", ":flag_white:") + "\u200d" + tag("1f308", ":rainbow:")},
		{"unicode family", nil, "👪 👷", tag("1f46a", ":family:") + " " + tag("1f477", ":construction_worker:")},
		{"heart with fe0f", nil, "❤️", tag("2764", ":heart:")},
		{"heart without fe0f", nil, "❤", tag("2764", ":heart:")},
		{"one fe0f is consumed", nil, "❤\ufe0f\ufe0f", tag("2764", ":heart:") + "\ufe0f"},
		{"copyright", nil, "© 2024 ®", tag("00a9", ":copyright:") + " 2024 " + tag("00ae", ":registered:")},
		{"keycap with fe0f", nil, "#️⃣", tag("0023-20e3", ":hash:")},
		{"keycap without fe0f", nil, "1⃣", tag("0031-20e3", ":one:")},
		{"keycap after a word", nil, "no1️⃣", "no" + tag("0031-20e3", ":one:")},
		{"digit with fe0f only", nil, "1\ufe0f", "1\ufe0f"},
		{"newer than the set", nil, "🥲 🧑 🧐 🫠", "🥲 🧑 🧐 🫠"},
		{"flag", nil, "🇷🇺", tag("1f1f7-1f1fa", ":flag_ru:")},
		{"flags back to back", nil, "🇷🇺🇺🇦", tag("1f1f7-1f1fa", ":flag_ru:") + tag("1f1fa-1f1e6", ":flag_ua:")},
		{"a pair that is no flag stands alone", nil, "🇦🇦🇷🇺",
			tag("1f1e6", ":regional_indicator_a:") + tag("1f1e6", ":regional_indicator_a:") + tag("1f1f7-1f1fa", ":flag_ru:")},
		{"pairs from the start of the run", nil, "🇦🇷🇺", tag("1f1e6-1f1f7", ":flag_ar:") + tag("1f1fa", ":regional_indicator_u:")},
		{"lone regional indicator", nil, "🇷 x", tag("1f1f7", ":regional_indicator_r:") + " x"},
		{"url untouched", nil, "see http://example.com/:+1:/👍?a=:smile: now :smile:", "see http://example.com/:+1:/👍?a=:smile: now " + tag("1f604", ":smile:")},
		{"url with port", nil, "https://host:8080/a:smile:b", "https://host:8080/a:smile:b"},
		{"a name does not eat a scheme", nil, ":http://x/:smile:", ":http://x/:smile:"},
		{"www url", nil, "www.example.com/:smile: :smile:", "www.example.com/:smile: " + tag("1f604", ":smile:")},
		{"url in bb code", nil, "[URL=http://x.ru]:smile:[/URL]", "[URL=http://x.ru]" + tag("1f604", ":smile:") + "[/URL]"},
		{"not a www url", nil, "awww.:smile:", "awww." + tag("1f604", ":smile:")},
		{"existing tag untouched", nil, tag("1f44d", ":+1:") + " :+1:", tag("1f44d", ":+1:") + " " + tag("1f44d", ":+1:")},
		{"foreign tag untouched", nil, "[icon=/x/y.png title=:+1:]", "[icon=/x/y.png title=:+1:]"},
		{"unclosed tag is text", nil, "[ICON=x :+1:", "[ICON=x " + tag("1f44d", ":+1:")},
		{"invalid utf-8 passes through", nil, "\xff:+1:\xf0\x9f", "\xff" + tag("1f44d", ":+1:") + "\xf0\x9f"},
		{"icons off", []Option{WithIcons(false)}, ":+1: 👍 :) :F09F918D:", ":+1: 👍 :) 👍"},
		{"icons and hex off", []Option{WithIcons(false), WithHexEscapes(false)}, ":+1: :F09F918D:", ":+1: :F09F918D:"},
		{"base path", []Option{WithBasePath("https://cdn.example.com/emoji/")}, ":+1:",
			"[ICON=https://cdn.example.com/emoji/1f44d.svg?v=2.2.5 title=:+1:]"},
		{"base path escaped", []Option{WithBasePath("/my icons]")}, "👍", "[ICON=/my%20icons%5D/1f44d.svg?v=2.2.5 title=:thumbsup:]"},
		{"version", []Option{WithVersion("3")}, "👍", "[ICON=/bitrix/images/emoji/1f44d.svg?v=3 title=:thumbsup:]"},
		{"no version", []Option{WithVersion("")}, "👍", "[ICON=/bitrix/images/emoji/1f44d.svg title=:thumbsup:]"},
		{"nil option ignored", []Option{nil}, "👍", tag("1f44d", ":thumbsup:")},
	})
}

func TestSmileys(t *testing.T) {
	t.Parallel()
	runToIcons(t, []convCase{
		{"on by default", nil, ":) hi ;-) :D <3 8-)",
			tag("1f642", ":)") + " hi " + tag("1f609", ";-)") + " " + tag("1f603", ":D") + " " +
				tag("2764", "&lt;3") + " " + tag("1f60e", "8-)")},
		{"off", []Option{WithSmileys(false)}, ":) ;) :D <3", ":) ;) :D <3"},
		{"after whitespace or the start only", nil, "a:) (:) x;) \t:(", "a:) (:) x;) \t" + tag("1f61e", ":(")},
		{"before whitespace, the end or ! , . ?", nil, ":)! :), :). :)? :)x :)) :)",
			tag("1f642", ":)") + "! " + tag("1f642", ":)") + ", " + tag("1f642", ":)") + ". " +
				tag("1f642", ":)") + "? :)x :)) " + tag("1f642", ":)")},
		{"whitespace is kept", nil, "a\n:)\n", "a\n" + tag("1f642", ":)") + "\n"},
		{"letter first", nil, "B-) O:) xD X-P d: D:", tag("1f60e", "B-)") + " " + tag("1f607", "O:)") + " xD " +
			tag("1f61c", "X-P") + " " + tag("1f61b", "d:") + " " + tag("1f628", "D:")},
		{"letters inside words stay", nil, "LOB-) dB-) no:)", "LOB-) dB-) no:)"},
		{"titles HTML-escaped", nil, ">:) >.< </3", tag("1f606", "&gt;:)") + " " + tag("1f623", "&gt;.&lt;") + " " + tag("1f494", "&lt;/3")},
		{"HTML-escaped smileys", nil, "&lt;3 &gt;:) &gt;.&lt; :&THORN; :-&thorn;",
			tag("2764", "&lt;3") + " " + tag("1f606", "&gt;:)") + " " + tag("1f623", "&gt;.&lt;") + " " +
				tag("1f61b", ":Þ") + " " + tag("1f61b", ":-þ")},
		{"dot inside a smiley", nil, ":-. :-..", tag("1f615", ":-.") + " " + tag("1f615", ":-.") + "."},
		{"backslashes", nil, `\O/ *\0/* :\`, tag("1f646", `\O/`) + " " + tag("1f646", `*\0/*`) + " " + tag("1f615", `:\`)},
		{"after a shortname", nil, ":smile: :P", tag("1f604", ":smile:") + " " + tag("1f61b", ":P")},
		{"next to an emoji", nil, "👍:) :)👍", tag("1f44d", ":thumbsup:") + ":) :)" + tag("1f44d", ":thumbsup:")},
		{"a smiley that ends a name", nil, "d:smile:", "d" + tag("1f604", ":smile:")},
		{"not in urls", nil, "http://x/ :) http://:)", "http://x/ " + tag("1f642", ":)") + " http://:)"},
	})
}

func TestHexEscapes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                        "",
		"ok :F09F918D:":           "ok 👍",
		"ok :f09f918d:":           "ok 👍",
		":F09F918D::F09F9189:":    "👍👉",
		":F09F918D:F09F918D:":     "👍F09F918D:",
		":12345678:F09F918D:":     ":12345678:F09F918D:",
		":F09F918D":               ":F09F918D",
		":F09F91:":                ":F09F91:",
		":F09F918G:":              ":F09F918G:",
		"::F09F918D:":             ":👍",
		":E29C8C00:":              ":E29C8C00:",
		":F0808080:":              ":F0808080:",
		":F4908080:":              ":F4908080:",
		":F48F8080:":              "\U0010F000",
		":F5808080:":              ":F5808080:",
		":F09F91C0:":              ":F09F91C0:",
		"http://x/:F09F918D: 👍":   "http://x/👍 👍",
		":F09F87B7::F09F87BA: ok": "🇷🇺 ok",
	} {
		if got := DecodeHex(in); got != want {
			t.Errorf("DecodeHex(%q) = %q, want %q", in, got, want)
		}
	}
	runToIcons(t, []convCase{
		{"before the icon step", nil, "ok :F09F918D:", "ok " + tag("1f44d", ":thumbsup:")},
		{"a decoded flag", nil, ":F09F87B7::F09F87BA:", tag("1f1f7-1f1fa", ":flag_ru:")},
		{"decoded next to Unicode", nil, ":F09F918D:🏽", tag("1f44d-1f3fd", ":thumbsup_tone3:")},
		{"a name's colon", nil, ":smile:F09F918D:", ":smile" + tag("1f44d", ":thumbsup:")},
		{"a blocked escape", nil, ":12345678:F09F918D: :+1:", ":12345678:F09F918D: " + tag("1f44d", ":+1:")},
		{"in a url", nil, "http://x/:F09F918D: :F09F918D:", "http://x/👍 " + tag("1f44d", ":thumbsup:")},
		{"in a tag", nil, "[ICON=/a/b.svg title=:F09F918D:] 👍", "[ICON=/a/b.svg title=👍] " + tag("1f44d", ":thumbsup:")},
		{"in html", nil, "<a href=':F09F918D:'> 👍", "<a href='👍'> " + tag("1f44d", ":thumbsup:")},
		{"off", []Option{WithHexEscapes(false)}, "ok :F09F918D:", "ok :F09F918D:"},
	})
}

func TestHTMLRegions(t *testing.T) {
	t.Parallel()
	runToIcons(t, []convCase{
		{"span element", nil, "<span class=x>:smile: 👍</span> :smile:", "<span class=x>:smile: 👍</span> " + tag("1f604", ":smile:")},
		{"object element", nil, "<OBJECT data=x>:smile:</Object>:smile:", "<OBJECT data=x>:smile:</Object>" + tag("1f604", ":smile:")},
		{"span across lines: the opening tag only", nil, "<span>:smile:\n</span>", "<span>" + tag("1f604", ":smile:") + "\n</span>"},
		{"opening tags", nil, "<img alt=':smile:'> <div :+1:> <p :+1:> <a\n:+1:> :+1:",
			"<img alt=':smile:'> <div :+1:> <p :+1:> <a\n:+1:> " + tag("1f44d", ":+1:")},
		{"a prefix of the name", nil, "<pre :+1:> <abbr :+1:>", "<pre :+1:> <abbr :+1:>"},
		{"other tags convert", nil, "<b>:+1:</b> <i :+1:>", "<b>" + tag("1f44d", ":+1:") + "</b> <i " + tag("1f44d", ":+1:") + ">"},
		{"no closing angle", nil, "<a :+1:", "<a " + tag("1f44d", ":+1:")},
		{"smileys", nil, "<3 <p :)> :)", tag("2764", "&lt;3") + " <p :)> " + tag("1f642", ":)")},
	})
}

func TestFromIcons(t *testing.T) {
	t.Parallel()
	tests := []convCase{
		{"empty", nil, "", ""},
		{"no tags", nil, "hello [b]world[/b] [ICON", "hello [b]world[/b] [ICON"},
		{"tag", nil, "ok " + tag("1f44d", ":+1:") + "!", "ok 👍!"},
		{"fully qualified", nil, tag("2764", ":heart:"), "❤️"},
		{"keycap", nil, tag("0023-20e3", ":hash:"), "#️⃣"},
		{"zwj", nil, tag("1f468-1f469-1f467-1f466", ":family_mwgb:"), "👨\u200d👩\u200d👧\u200d👦"},
		{"flag", nil, tag("1f1f7-1f1fa", ":flag_ru:"), "🇷🇺"},
		{"skin tone", nil, tag("1f44d-1f3fd", ":x:"), "👍🏽"},
		{"title does not matter", nil, "[ICON=/bitrix/images/emoji/1f44d.svg?v=1 title=whatever]", "👍"},
		{"no query no title", nil, "[ICON=/bitrix/images/emoji/1f44d.svg]", "👍"},
		{"extra attributes", nil, "[ICON=/bitrix/images/emoji/1f44d.svg size=20 title=:+1:]", "👍"},
		{"case-insensitive name and hex", nil, "[icon=/bitrix/images/emoji/1F44D.svg]", "👍"},
		{"back to back", nil, tag("1f44d", "a") + tag("1f44e", "b"), "👍👎"},
		{"unknown file stays", nil, tag("1f44d-1f44d", ":x:"), tag("1f44d-1f44d", ":x:")},
		{"unpadded file stays", nil, tag("23-20e3", ":hash:"), tag("23-20e3", ":hash:")},
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
			if got := New(tt.opts...).FromIcons(tt.in); got != tt.want {
				t.Errorf("FromIcons(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestIconTag(t *testing.T) {
	t.Parallel()
	c := New()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{":+1:", tag("1f44d", ":+1:"), true},
		{"👍", tag("1f44d", ":thumbsup:"), true},
		{"❤", tag("2764", ":heart:"), true},
		{"#️⃣", tag("0023-20e3", ":hash:"), true},
		{"🇷🇺", tag("1f1f7-1f1fa", ":flag_ru:"), true},
		{"👍👍", "", false},
		{":nope:", "", false},
		{"🥲", "", false},
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
	t.Parallel()
	var zero Converter
	var nilConv *Converter
	want := tag("1f44d", ":+1:") + " " + tag("1f642", ":)")
	if got := zero.ToIcons(":+1: :)"); got != want {
		t.Errorf("zero Converter: %q, want %q", got, want)
	}
	if got := nilConv.ToIcons(":+1: :)"); got != want {
		t.Errorf("nil Converter: %q, want %q", got, want)
	}
	if got := nilConv.FromIcons(want); got != "👍 🙂" {
		t.Errorf("nil Converter FromIcons: %q", got)
	}
}

// TestNoEmojiDoesNotAllocate is not parallel: testing.AllocsPerRun counts the whole process.
func TestNoEmojiDoesNotAllocate(t *testing.T) {
	c := New()
	for _, text := range []string{noEmoji1K(), "<b>bold</b> <span>x</span> <a href=x> :12345678: [ICON=x] www.x.ru " + noEmoji1K()} {
		for name, f := range map[string]func(string) string{"ToIcons": c.ToIcons, "FromIcons": c.FromIcons, "DecodeHex": DecodeHex} {
			if allocs := testing.AllocsPerRun(100, func() { _ = f(text) }); allocs != 0 {
				t.Errorf("%s allocates %v times on text without emoji", name, allocs)
			}
			if got := f(text); got != text {
				t.Errorf("%s changed text without emoji", name)
			}
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
