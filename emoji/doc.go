// Package emoji converts the emoji of message text as a Bitrix24 portal does (docs/protocol.md §9): received
// text into the portal's icon tags, outgoing text back into Unicode.
//
//	c := emoji.New() // icons, ASCII smileys and hex escapes on; base path /bitrix/images/emoji, version 2.2.5
//	c.ToIcons("ok :+1:") // "ok [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]"
//	c.ToIcons("ok 👍")   // "ok [ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:thumbsup:]"
//	c.ToIcons("<3")      // "[ICON=/bitrix/images/emoji/2764.svg?v=2.2.5 title=&lt;3]"
//	c.FromIcons("[ICON=/bitrix/images/emoji/2764.svg?v=2.2.5 title=:heart:]") // "❤️"
//	emoji.New(emoji.WithIcons(false)).ToIcons("ok :F09F918D: 👍")          // "ok 👍 👍", as a current portal
//	emoji.DecodeHex("ok :F09F918D:")                                        // "ok 👍"
//	tag, ok := c.IconTag("👍🏽")                                              // one emoji, as a name or in Unicode
//
// # The set
//
// The set is the one a legacy portal draws with its bundled images: emojione 2.2.5 (npm package
// emojione@2.2.5, file emoji.json) as Bitrix's ruleset uses it, without the entries of the bare characters #,
// * and 0–9 (a plain digit never becomes an icon) and with :facepalm: and its five tones: 2,373 names of 1,820
// emoji and 126 ASCII smileys. `go generate` runs internal/gen, which reads the copy in testdata/emojione-2.2.5,
// checks its pinned sha256 (with -tgz it first takes it out of the npm tarball, checked against the registry's
// pinned dist.integrity) and writes set_gen.go. The emojione data is MIT-licensed and its artwork CC BY 4.0
// (testdata/emojione-2.2.5/LICENSE.md); this package holds no artwork. The names github.com/kyokomi/emoji/v2
// has for the same emoji (GitHub and Slack style, :thumbs_up:) and `:flag-xx:` for every flag add 1,488 names,
// mapped to the set's files; where a name means another emoji there (:umbrella:, :family:), emojione's
// meaning holds.
//
// # ToIcons
//
// ToIcons first decodes hex escapes, in both profiles: each match of `:([A-F0-9]{8}):` in any case, left to
// right, that stands for one 4-byte UTF-8 character becomes that character (`:F09F918D:` → 👍); other matches
// stay. Then it replaces, in one pass:
//   - names: a match of Bitrix's `:([-+\w]+):` that is a name of the set, compared exactly (`:Smile:` stays),
//     titled as written; a match is taken whole, so `:nope:smile:` stays;
//   - Unicode emoji: the longest form of the set at each position (emojione's unicode and unicode_alternates,
//     U+FE0F optional after each code point), titled with emojione's primary shortname (👍 → :thumbsup:).
//     Bitrix then converts the names in its own titles, nesting a tag in each: a Bitrix bug, not copied;
//   - ASCII smileys after whitespace or at the start and before whitespace, the end or one of `! , . ?` (the
//     whitespace stays), also with <, >, Þ and þ written as HTML entities, as emojione's pattern has them;
//     titled with the smiley HTML-escaped as Bitrix's htmlspecialcharsbx does (`<3` and `&lt;3` → &lt;3).
//
// The file is emojione's: lower-case hex code points, each at least 4 digits, joined by "-", U+FE0F and U+200D
// removed (#️⃣ → 0023-20e3, © → 00a9, 👨‍👩‍👧‍👦 → 1f468-1f469-1f467-1f466).
//
// Left as written: names and emoji outside the set (🥲, 🧑, :pound_symbol:, a plain 7); the HTML regions Bitrix
// skips, `<object…>…</object>` and `<span…>…</span>` closed on the same line and the opening tags object,
// embed, svg, img, div, span, p and a (name prefixes, in any case: `<p` opens `<pre>`); and, deliberately,
// where Bitrix converts, URLs (`scheme://…` and `www.…`, up to whitespace, a quote, `<>` or `[]`) and existing
// `[ICON=…]` tags. Regional indicators pair up from the start of a run, as in Unicode: a pair is a flag of the
// set, or each of the two becomes its letter's icon (Bitrix's pattern pairs them too, and drops the second of a
// pair that is no flag). Invalid UTF-8 is copied byte for byte.
//
// WithIcons(false) keeps Unicode emoji, names and smileys, as a current portal does; ToIcons then only decodes
// hex escapes, which WithHexEscapes(false) turns off. WithSmileys(false) leaves ASCII smileys alone.
//
// FromIcons turns the tags of its base path whose file is in the set back into emojione's fully-qualified
// form, with U+FE0F and U+200D where it has them (0023-20e3 → #️⃣): every name and form of the set comes back
// as the same emoji (TestSetConverts). It ignores titles and leaves other tags alone.
//
// # Guarantees
//
//   - Linear on any input. One pass, each byte read a bounded number of times: a name is read once up to its
//     closing colon, Unicode is walked in a trie of the set's forms as deep as the longest form, HTML searches
//     remember where they found nothing. A text with a hex escape that decodes is decoded first and passed
//     once more. TestAdversarialLinear converts 1 MiB of each of 29 hostile inputs (runs of colons, regional
//     indicators, unclosed tags and elements, hex escapes …) in both directions within 1 s of CPU time.
//   - No allocation without anything to convert: the input string is returned (TestNoEmojiDoesNotAllocate).
//     With conversions the result is the only allocation.
//   - The tables are built once, on first use, from set_gen.go; a Converter is immutable and safe for
//     concurrent use.
//   - FuzzToIcons: no panic, valid UTF-8 in → valid UTF-8 out, ToIcons idempotent, FromIcons(ToIcons(x)) = x up
//     to U+FE0F and U+200D on text without `:` or `[`.
//
// # Figures
//
// `go test -bench 'ToIcons|FromIcons' -count 5 ./emoji` (medians; 2 cores shared with other test runs, Go 1.26,
// linux/amd64). The ratio is to the baseline of the same run and moves with the load on the machine:
//
//	ToIcons/NoEmoji1K       0.8 µs, 0 allocs    kyokomi Sprint  7–10 µs, 48 allocs    9–13×
//	ToIcons/Emoji20In1K     2.5–2.9 µs, 1 alloc kyokomi Sprint 13–17 µs, 115 allocs  4.5–7× (goal 5×)
//	ToIcons/Unicode20In1K   2.5–3.3 µs, 1 alloc (the same emoji in Unicode; Sprint has no such mode)
//	FromIcons/Emoji20In1K   3.1 µs, 1 alloc     one regexp and a lookup per tag 28 µs    9×
//
// Of these, ASCII smileys and hex escapes, on by default as in Bitrix, cost about 0.15 µs on NoEmoji1K and
// 0.3 µs on Emoji20In1K. The tables take about 3 ms and 0.4 MiB of heap to build, on first use, and add
// 0.24 MB to a binary; kyokomi's code map (1.2 MB, 8 ms to index) is not linked: the generator reads it.
package emoji
