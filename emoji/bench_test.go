package emoji

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	kyokomi "github.com/kyokomi/emoji/v2"
)

// noEmoji1K is 1 KiB of support-chat text without emoji: times, a URL, digits, Cyrillic, punctuation.
func noEmoji1K() string {
	const para = "Hello! Our meeting is at 10:30 tomorrow, room 4B. Please see https://example.com/docs?id=42 " +
		"for details: the order #1234 was shipped on 2024-05-01 at 12:00:00. Здравствуйте, заказ будет " +
		"доставлен завтра — спасибо за ожидание… Price: 100$ (incl. VAT 20%). Regards, support team. "
	return strings.Repeat(para, 1024/len(para)+1)[:1024]
}

// emoji20In1K is about 1 KiB of text with 20 shortnames, the input both converters understand.
func emoji20In1K() string {
	names := []string{":+1:", ":smile:", ":heart:", ":flag_ru:", ":tada:", ":thinking:", ":fire:", ":ok_hand:",
		":rocket:", ":wave:", ":pray:", ":joy:", ":100:", ":eyes:", ":clap:", ":star:", ":coffee:", ":sunny:",
		":warning:", ":white_check_mark:"}
	words := strings.Fields(noEmoji1K())
	var b strings.Builder
	for i, w := range words {
		b.WriteString(w)
		b.WriteByte(' ')
		if i%7 == 6 && i/7 < len(names) {
			b.WriteString(names[i/7])
			b.WriteByte(' ')
		}
	}
	s := b.String()
	for _, n := range names {
		if !strings.Contains(s, n) {
			s += n + " "
		}
	}
	return s
}

// unicode20In1K is emoji20In1K with the emoji in Unicode.
func unicode20In1K() string {
	c := New()
	return regexp.MustCompile(`:[a-z0-9_+]+:`).ReplaceAllStringFunc(emoji20In1K(), func(m string) string {
		return c.FromIcons(c.ToIcons(m))
	})
}

func BenchmarkToIcons(b *testing.B) {
	c := New()
	inputs := []struct{ name, text string }{
		{"NoEmoji1K", noEmoji1K()},
		{"Emoji20In1K", emoji20In1K()},
	}
	for _, in := range inputs {
		b.Run(in.name+"/olctl", func(b *testing.B) {
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				_ = c.ToIcons(in.text)
			}
		})
		b.Run(in.name+"/kyokomi", func(b *testing.B) {
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				_ = kyokomi.Sprint(in.text)
			}
		})
	}
	// Unicode emoji: kyokomi does not convert them, so the baseline is our own shortname figure above.
	b.Run("Unicode20In1K/olctl", func(b *testing.B) {
		text := unicode20In1K()
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			_ = c.ToIcons(text)
		}
	})
}

// naiveFromIcons is the obvious implementation FromIcons is measured against: one regexp, a map lookup per tag.
var naiveTag = regexp.MustCompile(`\[ICON=/bitrix/images/emoji/([0-9a-f-]+)\.svg[^\]\[\n]*\]`)

func naiveFromIcons(text string) string {
	t := load()
	return naiveTag.ReplaceAllStringFunc(text, func(m string) string {
		file := naiveTag.FindStringSubmatch(m)[1]
		if idx, ok := t.files[file]; ok {
			return t.emojis[idx].unicode
		}
		return m
	})
}

func BenchmarkFromIcons(b *testing.B) {
	c := New()
	text := c.ToIcons(emoji20In1K())
	if naiveFromIcons(text) != c.FromIcons(text) {
		b.Fatal("baseline and subject disagree")
	}
	b.Run("Emoji20In1K/olctl", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			_ = c.FromIcons(text)
		}
	})
	b.Run("Emoji20In1K/regexp", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			_ = naiveFromIcons(text)
		}
	})
}

// BenchmarkLinear shows linear growth on adversarial input: MB/s stays flat from 64 KiB to 1 MiB (the 64 KiB
// run is the baseline of the larger ones). kyokomi's Sprint, quadratic on colons, is measured at 4 and 16 KiB
// next to ours.
func BenchmarkLinear(b *testing.B) {
	c := New()
	for _, kind := range []string{"colons", "colon-pairs", "colon-run", "regional", "flags", "emoji-dense"} {
		for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
			text := adversarial(size)[kind]
			b.Run(fmt.Sprintf("%s/%dKiB/olctl", kind, size>>10), func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for b.Loop() {
					_ = c.ToIcons(text)
				}
			})
		}
	}
	for _, size := range []int{4 << 10, 16 << 10} {
		text := adversarial(size)["colons"]
		b.Run(fmt.Sprintf("colons/%dKiB/olctl", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				_ = c.ToIcons(text)
			}
		})
		b.Run(fmt.Sprintf("colons/%dKiB/kyokomi", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				_ = kyokomi.Sprint(text)
			}
		})
	}
}
