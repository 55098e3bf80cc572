// Package emoji converts emoji in message text to the portal's icon tags and back (PROTOCOL.md §5.1 step 1).
//
// ToIcons turns `:shortname:` and Unicode emoji (ZWJ sequences, flags, keycaps, skin tones, with or without
// U+FE0F) into `[ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]`; FromIcons turns such tags back into
// Unicode for messages going out to messengers.
//
// Why the scanner is hand-written: github.com/kyokomi/emoji/v2 is used only as the source of its code map.
// Its own scanner (Sprint, Emojize) recurses and concatenates strings for every `:`, so a run of colons costs
// quadratic time (minutes for 1 MiB of `:`, a denial of service on customer text), it matches `:flag-xx:` with
// a regular expression per candidate, it knows nothing of Unicode emoji, URLs or times, and it writes emoji
// followed by its global ReplacePadding. A regexp over 4,800 shortnames and 3,000 code point sequences would be
// large and still allocate on every call. This package instead makes one pass over the text:
//
//   - at a `:` it looks for the closing `:` within the longest shortname's length (stopping at whitespace) and
//     looks the span up in a hash table; on a miss it moves on by one byte, and since the span ends at the
//     next colon, candidate spans do not overlap: every byte is read a bounded number of times;
//   - at a byte that can start a Unicode emoji it walks a trie of code point sequences (U+FE0F removed, and
//     skipped in the input, at most one after each code point) and keeps the longest match; the trie's depth
//     bounds the walk;
//   - regional indicators pair up from the start of a run, as Unicode says, so `🇦🇷🇺` never becomes 🇷🇺;
//   - URLs (`scheme://…`, `www.…`) and existing `[ICON=…]` tags are copied without looking inside;
//   - plain text is skipped through a byte-class table, eight bytes at a time; keycaps and `www.` are
//     recognised at their U+FE0F/U+20E3 and at their dot, looking back one and three bytes, so digits and
//     letters cost nothing;
//   - nothing is allocated until the first conversion: text without emoji is returned as it is; with emoji,
//     the output is built in a reused scratch buffer and the only allocation is the result.
//
// The tables are derived once, on first use, from kyokomi's maps, which are only read (kyokomi returns its
// maps without copying them; they and its ReplacePadding are never written). A Converter is immutable and safe
// for concurrent use.
package emoji

import (
	"strings"
	"sync"
	"unicode/utf8"
)

const (
	// DefaultBasePath is the icon directory of a Bitrix portal.
	DefaultBasePath = "/bitrix/images/emoji"
	// DefaultVersion is the cache-busting version written as `?v=` after the file name.
	DefaultVersion = "2.2.5"
)

// maxTag bounds the length of an `[ICON=…]` tag (beyond its base path) that FromIcons converts or ToIcons
// leaves alone.
const maxTag = 512

// Option configures a Converter.
type Option func(*config)

type config struct {
	basePath string
	version  string
	smileys  bool
}

// WithBasePath sets the directory of the icon files, default DefaultBasePath ("/bitrix/images/emoji"). A
// trailing "/" is dropped. Bytes that would end the tag early (spaces, control characters, `[` and `]`) are
// percent-encoded, so the tag stays one tag.
func WithBasePath(path string) Option {
	return func(c *config) { c.basePath = escape(strings.TrimRight(path, "/")) }
}

// WithVersion sets the `?v=` query written after each file name, default DefaultVersion ("2.2.5"); an empty
// version writes no query. It is percent-encoded like WithBasePath.
func WithVersion(v string) Option {
	return func(c *config) { c.version = escape(v) }
}

// WithSmileys makes ToIcons also convert ASCII smileys (`:)`, `:-(`, `;)`, `:D`, `:P`, `<3` …) that stand
// between whitespace or at the ends of the text. Default off: `:)` stays as it is.
func WithSmileys(on bool) Option {
	return func(c *config) { c.smileys = on }
}

// Converter converts between emoji and icon tags. It is immutable and safe for concurrent use; share one
// rather than copying it. The zero value (and a nil *Converter) behaves like New().
type Converter struct {
	cfg       config
	tagPrefix string    // "[ICON=" + base + "/"
	tagMiddle string    // ".svg?v=" + version + " title="
	baseSlash string    // base + "/"
	pool      sync.Pool // *[]byte scratch buffers of the writer
}

// New returns a Converter. Without options it writes
// `[ICON=/bitrix/images/emoji/<codepoints>.svg?v=2.2.5 title=<:shortname:>]` and leaves ASCII smileys alone.
func New(opts ...Option) *Converter {
	cfg := config{basePath: DefaultBasePath, version: DefaultVersion}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	c := &Converter{cfg: cfg, baseSlash: cfg.basePath + "/"}
	c.tagPrefix = "[ICON=" + c.baseSlash
	c.tagMiddle = ".svg"
	if cfg.version != "" {
		c.tagMiddle += "?v=" + cfg.version
	}
	c.tagMiddle += " title="
	return c
}

var defaultConverter = sync.OnceValue(func() *Converter { return New() })

func (c *Converter) ready() *Converter {
	if c == nil || c.tagPrefix == "" {
		return defaultConverter()
	}
	return c
}

// IconTag returns the icon tag for an emoji given as a shortname (":+1:") or in Unicode ("👍", with or
// without U+FE0F), and whether it is known.
func (c *Converter) IconTag(emoji string) (string, bool) {
	c = c.ready()
	t := load()
	var idx int32 = -1
	title := emoji
	if i := t.short.get(emoji); i >= 0 {
		idx = i
	} else if end, i := t.match(emoji, 0); i >= 0 && end == len(emoji) {
		idx, title = i, t.title(i)
	}
	if idx < 0 {
		return "", false
	}
	return c.tagPrefix + t.file(idx) + c.tagMiddle + title + "]", true
}

// ToIcons returns text with every emoji replaced by its icon tag: `:shortname:` (title: the shortname as
// written) and Unicode emoji (title: the canonical shortname). Unknown `:words:`, times such as `10:30:45`,
// digits-only shortnames next to a digit (`1:100:2`), URLs, existing `[ICON=…]` tags and emoji followed by
// U+FE0E (text presentation) stay as they are. Text without emoji is returned without allocating.
func (c *Converter) ToIcons(text string) string {
	c = c.ready()
	t := load()
	cls := &classes
	if c.cfg.smileys {
		cls = &classesSmileys
	}
	w := writer{pool: &c.pool}
	n := len(text)
	floor := 0 // text[:floor] was converted or skipped: a look back never goes below it
	for i := 0; i < n; {
		// Plain text is skipped eight bytes at a time.
		for i+8 <= n && cls[text[i]]|cls[text[i+1]]|cls[text[i+2]]|cls[text[i+3]]|
			cls[text[i+4]]|cls[text[i+5]]|cls[text[i+6]]|cls[text[i+7]] == 0 {
			i += 8
		}
		for i < n && cls[text[i]] == 0 {
			i++
		}
		if i >= n {
			break
		}
		var from, to int // text[from:to] becomes the tag of emoji idx with this title
		var idx int32
		var title string
		switch b := text[i]; cls[b] {
		case kColon:
			if isURLColon(text, i) {
				i = urlEnd(text, i)
				floor = i
				continue
			}
			if c.cfg.smileys {
				if end, x := t.smileyAt(text, i); x >= 0 {
					from, to, idx, title = i, end, x, t.title(x)
					break
				}
			}
			if end, x := t.shortnameAt(text, i); x >= 0 {
				from, to, idx, title = i, end, x, text[i:end]
				break
			}
			i++
			continue
		case kLead:
			if b == 0xC2 && (i+1 >= n || (text[i+1] != 0xA9 && text[i+1] != 0xAE)) { // only © and ® start with C2
				i++
				continue
			}
			// A keycap is found at its U+FE0F or U+20E3, looking back at the digit, '#' or '*' before it.
			if (b == 0xEF || b == 0xE2) && i > floor && isKeycapBase(text[i-1]) {
				if end, x := t.match(text, i-1); x >= 0 {
					from, to, idx, title = i-1, end, x, t.title(x)
					break
				}
			}
			if b == 0xEF { // U+Fxxx: no emoji starts there
				i++
				continue
			}
			end, x := t.match(text, i)
			if x < 0 {
				i = end
				continue
			}
			from, to, idx, title = i, end, x, t.title(x)
		case kBracket:
			if end := skipTag(text, i, maxTag+len(c.tagPrefix)); end > 0 {
				i, floor = end, end
				continue
			}
			i++
			continue
		case kDot:
			// `www.` is found at its dot, looking back at the three letters before it.
			if i-3 >= floor && isWWW(text, i-3) {
				i = urlEnd(text, i)
				floor = i
				continue
			}
			i++
			continue
		case kSmiley:
			end, x := t.smileyAt(text, i)
			if x < 0 {
				i++
				continue
			}
			from, to, idx, title = i, end, x, t.title(x)
		}
		// w lives on this stack: appending here, not in a method, keeps write barriers off the hot path.
		if w.ptr == nil {
			w.start(text)
		}
		w.buf = append(w.buf, text[w.last:from]...)
		w.buf = c.appendTag(w.buf, t.file(idx), title)
		w.last, i, floor = to, to, to
	}
	return w.finish(text)
}

// FromIcons returns text with every icon tag of this Converter's base path whose file is a known emoji
// replaced by the emoji in Unicode (fully qualified, with U+FE0F where the emoji has it). Tags with another base
// path or an unknown file name stay as they are. Text without such tags is returned without allocating.
func (c *Converter) FromIcons(text string) string {
	c = c.ready()
	t := load()
	w := writer{pool: &c.pool}
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '[')
		if j < 0 {
			break
		}
		i += j
		if end, idx := c.parseIcon(t, text, i); idx >= 0 {
			if w.ptr == nil {
				w.start(text)
			}
			w.buf = append(w.buf, text[w.last:i]...)
			w.buf = append(w.buf, t.unicode(idx)...)
			w.last, i = end, end
			continue
		}
		i++
	}
	return w.finish(text)
}

// parseIcon reads `[ICON=<base>/<file>.svg[?query][ attributes]]` at text[i] and returns the index after it
// and the emoji, or -1.
func (c *Converter) parseIcon(t *tables, text string, i int) (int, int32) {
	n := len(text)
	if n-i < 6 || text[i+5] != '=' || !strings.EqualFold(text[i+1:i+5], "icon") {
		return 0, -1
	}
	p := i + 6
	if !strings.HasPrefix(text[p:], c.baseSlash) {
		return 0, -1
	}
	p += len(c.baseSlash)
	start := p
	var buf [128]byte
	for p < n && p-start < len(buf) && (isHex(text[p]) || text[p] == '-') {
		buf[p-start] = lower(text[p])
		p++
	}
	file := buf[:p-start]
	if len(file) == 0 || len(file) > t.maxFile || !strings.HasPrefix(text[p:], ".svg") {
		return 0, -1
	}
	p += len(".svg")
	if p >= n || (text[p] != '?' && text[p] != ' ' && text[p] != ']') {
		return 0, -1
	}
	limit := min(n, i+maxTag+len(c.tagPrefix))
	for ; p < limit; p++ {
		switch text[p] {
		case ']':
			idx := t.files.getBytes(file)
			if idx < 0 {
				return 0, -1
			}
			return p + 1, idx
		case '[', '\n', '\r':
			return 0, -1
		}
	}
	return 0, -1
}

// maxPooled is the largest scratch buffer kept for reuse; bigger ones (from bigger texts) are left to the GC.
const maxPooled = 64 << 10

// writer builds the output lazily: nothing is allocated until the first replacement. It writes into a scratch
// buffer reused through the Converter's pool, so a call allocates only its result.
type writer struct {
	buf  []byte
	last int // text[last:] has not been written yet
	pool *sync.Pool
	ptr  *[]byte
}

func (w *writer) start(text string) {
	if p, ok := w.pool.Get().(*[]byte); ok {
		w.ptr = p
	} else {
		w.ptr = new([]byte)
	}
	w.buf = (*w.ptr)[:0]
	if need := len(text) + len(text)/2 + 64; cap(w.buf) < need {
		w.buf = make([]byte, 0, need)
	}
}

// appendTag appends the icon tag of a file with a title.
func (c *Converter) appendTag(buf []byte, file, title string) []byte {
	buf = append(buf, c.tagPrefix...)
	buf = append(buf, file...)
	buf = append(buf, c.tagMiddle...)
	buf = append(buf, title...)
	return append(buf, ']')
}

func (w *writer) finish(text string) string {
	if w.ptr == nil {
		return text
	}
	w.buf = append(w.buf, text[w.last:]...)
	out := string(w.buf)
	if cap(w.buf) <= maxPooled {
		*w.ptr = w.buf[:0]
		w.pool.Put(w.ptr)
	}
	return out
}

// shortnameAt looks for a known `:shortname:` starting at the colon text[i]; it returns the index after the
// closing colon and the emoji, or -1. It reads at most the longest shortname's length and stops at whitespace.
func (t *tables) shortnameAt(text string, i int) (int, int32) {
	limit := min(len(text), i+t.maxShort)
	h := fnvStep(fnvOffset, ':') // the hash of the candidate, computed on the way (see strTable)
	for j := i + 1; j < limit; j++ {
		h = fnvStep(h, text[j])
		switch shortStop[text[j]] {
		case stopSpace:
			return 0, -1
		case stopColon:
			if j == i+1 {
				return 0, -1
			}
			idx := t.short.getHashed(text[i:j+1], fnvFinish(h))
			if idx < 0 {
				return 0, -1
			}
			// `:100:` and `:1234:` next to a digit are part of a time or ratio such as 1:100:2. A digit that
			// starts a keycap (followed by U+FE0F or U+20E3) is an emoji, not part of a number.
			if digitsOnly(text[i+1:j]) && ((i > 0 && isDigit(text[i-1])) ||
				(j+1 < len(text) && isDigit(text[j+1]) && !hasKeycapMark(text[j+2:]))) {
				return 0, -1
			}
			return j + 1, idx
		}
	}
	return 0, -1
}

const (
	stopColon = iota + 1
	stopSpace
)

// shortStop marks the bytes that end a shortname candidate: its closing colon, or whitespace.
var shortStop = func() (a [256]uint8) {
	a[':'] = stopColon
	for _, b := range []byte(" \t\n\r\f\v") {
		a[b] = stopSpace
	}
	return a
}()

// smileyAt looks for an ASCII smiley at text[i] that stands between whitespace or the ends of the text.
func (t *tables) smileyAt(text string, i int) (int, int32) {
	if i > 0 && !isSpace(text[i-1]) {
		return 0, -1
	}
	e := i
	for e < len(text) && e-i < 4 && !isSpace(text[e]) {
		e++
	}
	if e-i > 3 || (e < len(text) && !isSpace(text[e])) {
		return 0, -1
	}
	idx := t.smileys.get(text[i:e])
	if idx < 0 {
		return 0, -1
	}
	return e, idx
}

// match finds the longest Unicode emoji at text[i]. It returns the index to go on from and the emoji, or -1
// (then the index is past the code points that were not converted).
func (t *tables) match(text string, i int) (int, int32) {
	r, sz := utf8.DecodeRuneInString(text[i:])
	if r < 1<<16 && t.rootBMP[r/64]&(1<<(r%64)) == 0 {
		return i + sz, -1
	}
	nd := t.child(0, r)
	if nd < 0 {
		return i + sz, -1
	}
	pos := i + sz
	if isRI(r) {
		// Regional indicators pair up from the start of a run: a pair is a flag or stays text as a whole.
		r2, sz2 := utf8.DecodeRuneInString(text[pos:])
		if isRI(r2) {
			pos += sz2
			nd = t.child(nd, r2)
			if nd < 0 || t.nodes[nd].emoji < 0 {
				return pos, -1
			}
			pos = skipVS16(text, pos)
			if hasVS15(text, pos) {
				return pos, -1
			}
			return pos, t.nodes[nd].emoji
		}
	}
	pos = skipVS16(text, pos)
	best, bestEnd := t.nodes[nd].emoji, pos
	for pos < len(text) {
		r, sz := utf8.DecodeRuneInString(text[pos:])
		c := t.child(nd, r)
		if c < 0 {
			break
		}
		nd = c
		pos = skipVS16(text, pos+sz)
		if e := t.nodes[nd].emoji; e >= 0 {
			best, bestEnd = e, pos
		}
	}
	if best < 0 || hasVS15(text, bestEnd) {
		return i + sz, -1
	}
	return bestEnd, best
}

func skipVS16(text string, pos int) int {
	if strings.HasPrefix(text[pos:], "\uFE0F") {
		return pos + len("\uFE0F")
	}
	return pos
}

func hasVS15(text string, pos int) bool { return strings.HasPrefix(text[pos:], "\uFE0E") }

// Byte classes of ToIcons: 0 is plain text, skipped without a second look.
const (
	kColon = iota + 1
	kLead
	kBracket
	kDot
	kSmiley
)

var classes, classesSmileys = func() (a, b [256]uint8) {
	a[':'] = kColon
	// Lead bytes of the code points an emoji can start with (U+00A9/U+00AE, U+2xxx, U+3xxx, U+1Fxxx) and of
	// U+FE0F (a keycap is found at its U+FE0F or U+20E3).
	a[0xC2], a[0xE2], a[0xE3], a[0xEF], a[0xF0] = kLead, kLead, kLead, kLead, kLead
	a['['] = kBracket
	a['.'] = kDot
	b = a
	for _, s := range smileyTable {
		if b[s.smiley[0]] == 0 {
			b[s.smiley[0]] = kSmiley
		}
	}
	return a, b
}()

func isKeycapBase(b byte) bool { return isDigit(b) || b == '#' || b == '*' }

// hasKeycapMark reports whether s starts with U+FE0F or U+20E3, the marks that make a digit a keycap.
func hasKeycapMark(s string) bool {
	return strings.HasPrefix(s, "\uFE0F") || strings.HasPrefix(s, "\u20E3")
}

// isURLColon reports whether text[i] is the colon of `scheme://`.
func isURLColon(text string, i int) bool {
	return i > 0 && isAlnum(text[i-1]) && strings.HasPrefix(text[i+1:], "//")
}

// urlEnd returns the end of the URL containing text[i]: the next whitespace, quote, angle bracket or square
// bracket (the end of a BB code such as [URL=…]).
func urlEnd(text string, i int) int {
	for ; i < len(text); i++ {
		switch text[i] {
		case ' ', '\t', '\n', '\r', '\f', '\v', '"', '<', '>', '[', ']':
			return i
		}
	}
	return i
}

// isWWW reports whether text[i] starts a URL without scheme, `www.` followed by a letter or digit at the start
// of a word.
func isWWW(text string, i int) bool {
	if i > 0 {
		p := text[i-1]
		if isAlnum(p) || p >= utf8.RuneSelf || p == '.' || p == '/' || p == '@' || p == '-' || p == '_' {
			return false
		}
	}
	return i+4 < len(text) && hasPrefixFold(text[i:], "www.") && isAlnum(text[i+4])
}

// skipTag returns the index after an `[ICON=…]` tag of at most max bytes at text[i], or 0.
func skipTag(text string, i, max int) int {
	if len(text)-i < 6 || text[i+5] != '=' || !strings.EqualFold(text[i+1:i+5], "icon") {
		return 0
	}
	limit := min(len(text), i+max)
	for p := i + 6; p < limit; p++ {
		switch text[p] {
		case ']':
			return p + 1
		case '[', '\n', '\r':
			return 0
		}
	}
	return 0
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isAlnum(b byte) bool { return isDigit(b) || (b|0x20 >= 'a' && b|0x20 <= 'z') }

func isHex(b byte) bool { return isDigit(b) || (b|0x20 >= 'a' && b|0x20 <= 'f') }

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b | 0x20
	}
	return b
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// escape percent-encodes the bytes that would end an icon tag early.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c == 0x7F || c == '[' || c == ']':
			if b == nil {
				b = append(make([]byte, 0, len(s)+8), s[:i]...)
			}
			b = append(b, '%', hex[c>>4], hex[c&15])
		case b != nil:
			b = append(b, c)
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}
