package emoji

import (
	"strings"
	"unicode/utf8"
)

// toIcons is the icon step (docs/protocol.md §9.2) in one pass over text. With hex, a hex escape that
// decodes (§9.1) anywhere in text makes it start over on DecodeHex(text), so that escapes decode first.
func (c *Converter) toIcons(text string, hex bool) string {
	t := load()
	s := scanner{t: t, text: text, hex: hex, smileys: c.cfg.smileys, soloRI: -1, maxTag: maxTag + len(c.tagPrefix)}
	cls := &t.classes[0]
	if s.smileys {
		cls = &t.classes[1]
	}
	// out is written here, not in a method of the scanner: a local keeps write barriers off the hot path.
	var out strings.Builder
	last, n := 0, len(text)
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
		// The commonest stops that convert nothing are rejected here, without a call.
		class := cls[text[i]]
		if class == kSmiley && !s.maySmile(i) && !s.maySmile(i-1) || class == kDot && !s.mayWWW(i) {
			i++
			continue
		}
		if class == kColon {
			i = s.colon(i)
		} else {
			i = s.at(i, class)
		}
		if s.hit.to == 0 {
			continue
		}
		if out.Cap() == 0 {
			out.Grow(2*n + 64)
		}
		h := s.hit
		out.WriteString(text[last:h.from])
		out.WriteString(c.tagPrefix)
		out.WriteString(t.emojis[h.idx].file)
		out.WriteString(c.tagMiddle)
		out.WriteString(s.title())
		out.WriteByte(']')
		last, s.hit.to = h.to, 0
	}
	if s.restart {
		return c.toIcons(DecodeHex(text), false)
	}
	if out.Cap() == 0 {
		return text
	}
	out.WriteString(text[last:])
	return out.String()
}

// scanner holds the state of one toIcons pass. Its methods take the index of a byte of its classes and
// return the index to go on from, after setting hit when text before it converts.
type scanner struct {
	t       *tables
	text    string
	hex     bool // a hex escape that decodes restarts the pass
	smileys bool
	maxTag  int  // the longest [ICON=…] tag left alone
	restart bool // a hex escape decodes: the pass stops, to start over on the decoded text
	hit     hit
	floor   int  // text[:floor] was converted or left alone as a region: a look back never goes below it
	soloRI  int  // a regional indicator here is the second of a pair that is no flag: it stands alone
	html    html // where HTML searches found nothing
}

// hit is a conversion: text[from:to] becomes the tag of emoji idx. Its title is the text itself for a name,
// the smiley's HTML-escaped for smiley >= 0, else the emoji's primary shortname. It holds no pointer, so
// that setting it costs no write barrier.
type hit struct {
	from, to int
	idx      int32
	smiley   int32
	name     bool
}

func (s *scanner) title() string {
	switch h := s.hit; {
	case h.name:
		return s.text[h.from:h.to]
	case h.smiley >= 0:
		return s.t.smileys[h.smiley].title
	}
	return s.t.title(s.hit.idx)
}

// emit sets the hit text[from:to] → emoji idx.
func (s *scanner) emit(from, to int, idx int32, name bool, smiley int32) int {
	s.hit = hit{from: from, to: to, idx: idx, name: name, smiley: smiley}
	s.floor = to
	return to
}

// region leaves text[i:end] alone, unless a hex escape inside decodes.
func (s *scanner) region(i, end int) int {
	if s.hex && containsHex(s.text[i:end]) {
		return s.stop()
	}
	s.floor = end
	return end
}

// stop ends the pass to start over on the decoded text.
func (s *scanner) stop() int {
	s.restart = true
	return len(s.text)
}

func (s *scanner) at(i int, class uint8) int {
	text := s.text
	switch class {
	case kLead:
		return s.lead(i)
	case kBracket:
		if end := skipTag(text, i, s.maxTag); end > 0 {
			return s.region(i, end)
		}
	case kAngle:
		if end := s.html.skip(text, i); end > 0 {
			return s.region(i, end)
		}
		if s.smileys {
			next, _ := s.smiley(i)
			return next
		}
	case kDot:
		if s.mayWWW(i) && isWWW(text, i-3) {
			return s.region(i, urlEnd(text, i))
		}
	case kSmiley:
		next, _ := s.smiley(i)
		return next
	}
	return i + 1
}

// colon handles a colon: a hex escape, a name, a URL scheme or a smiley. A name and a smiley never overlap
// (a smiley ends before whitespace or one of `! , . ?`, which end a name without its closing colon).
func (s *scanner) colon(i int) int {
	text := s.text
	if s.hex && hexShaped(text, i) && hexValid(text, i) {
		return s.stop()
	}
	next, taken := s.shortname(i)
	switch {
	case taken:
		return next
	case isURLColon(text, i):
		return s.region(i, urlEnd(text, i))
	case s.smileys && (s.maySmile(i) || s.maySmile(i-1)):
		if end, ok := s.smiley(i); ok {
			return end
		}
	}
	return next
}

// shortname reads a name at the colon text[i] as Bitrix's `:([-+\w]+):` does: a match is taken whole, in the
// set or not, so `:nope:smile:` stays. The colon of a URL scheme ends no name. Without a match it returns the
// end of the name's bytes after the colon, and false.
func (s *scanner) shortname(i int) (int, bool) {
	text := s.text
	j := i + 1
	for j < len(text) && isNameByte(text[j]) {
		j++
	}
	if j == i+1 || j == len(text) || text[j] != ':' || isURLColon(text, j) {
		return j, false
	}
	if s.hex && hexShaped(text, j) && hexValid(text, j) {
		return s.stop(), true
	}
	if j+1-i <= s.t.maxName {
		if idx, ok := s.t.names[text[i:j+1]]; ok {
			return s.emit(i, j+1, idx, true, -1), true
		}
	}
	return j + 1, true
}

// smiley converts an ASCII smiley at text[i], or at text[i-1] (the scanner stops at a smiley's second byte
// when its first is a letter or digit), and reports whether there was one.
func (s *scanner) smiley(i int) (int, bool) {
	from := i
	if !s.maySmile(from) {
		if from = i - 1; !s.maySmile(from) { // not both: text[i-1] would be whitespace and start a smiley
			return i + 1, false
		}
	}
	if end, sm, ok := s.smileyFrom(from); ok {
		return s.emit(from, end, s.t.smileys[sm].emoji, false, sm), true
	}
	return i + 1, false
}

// mayWWW reports whether the dot text[i] may end `www`: `www.` is found at its dot, looking back.
func (s *scanner) mayWWW(i int) bool { return i-3 >= s.floor && s.text[i-1]|0x20 == 'w' }

// maySmile reports whether a smiley may start at text[from]: after whitespace or at the start, with two
// bytes that some smiley starts with.
func (s *scanner) maySmile(from int) bool {
	text := s.text
	if from < s.floor || from+1 >= len(text) || (from > 0 && !isSpace(text[from-1])) {
		return false
	}
	p := uint16(text[from])<<8 | uint16(text[from+1])
	return s.t.pairs[p/64]&(1<<(p%64)) != 0
}

// smileyFrom finds the ASCII smiley at text[from] that ends before whitespace, the end or one of `! , . ?`
// (Bitrix's `(\s|^)smiley(?=\s|$|[!,.?])`; maySmile checked the start).
func (s *scanner) smileyFrom(from int) (int, int32, bool) {
	text := s.text
	for e := from + 2; e <= len(text) && e-from <= s.t.maxSmile; e++ {
		if e < len(text) && !isSmileyEnd(text[e]) {
			continue
		}
		if sm, ok := s.t.spelling[text[from:e]]; ok {
			return e, sm, true
		}
		if e == len(text) || isSpace(text[e]) {
			break
		}
	}
	return 0, 0, false
}

// lead converts the Unicode emoji at text[i], the first byte of a code point that starts a form of the set.
func (s *scanner) lead(i int) int {
	text := s.text
	from := i
	// A keycap is found at its U+FE0F or U+20E3, looking back at the digit, '#' or '*' before it.
	if b := text[i]; (b == 0xEF || b == 0xE2) && i > s.floor && isKeycapBase(text[i-1]) {
		from = i - 1
	}
	end, idx := s.match(from)
	if idx < 0 && from < i {
		from = i
		end, idx = s.match(i)
	}
	if idx < 0 {
		return end
	}
	return s.emit(from, end, idx, false, -1)
}

// match finds the longest form of the set at text[i], U+FE0F optional after each code point. It returns the
// index after it and the emoji, or the index after the first code point and -1.
func (s *scanner) match(i int) (int, int32) {
	t, text := s.t, s.text
	r, sz := utf8.DecodeRuneInString(text[i:])
	if r < 1<<16 && t.rootBMP[r/64]&(1<<(r%64)) == 0 {
		return i + sz, -1
	}
	nd := t.child(0, r)
	if nd < 0 {
		return i + sz, -1
	}
	pos := skipVS16(text, i+sz)
	if isRI(r) {
		return s.flag(i, pos, nd)
	}
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
	if best < 0 {
		return i + sz, -1
	}
	return bestEnd, best
}

// flag pairs the regional indicator at text[i] (trie node nd, followed by text[pos:]) with the next one, as
// Unicode pairs them from the start of a run: a pair is a flag of the set, or each of the two stands alone.
func (s *scanner) flag(i, pos int, nd int32) (int, int32) {
	t := s.t
	alone := t.nodes[nd].emoji
	if i == s.soloRI {
		return pos, alone
	}
	r, sz := utf8.DecodeRuneInString(s.text[pos:])
	if !isRI(r) {
		return pos, alone
	}
	if c := t.child(nd, r); c >= 0 && t.nodes[c].emoji >= 0 {
		return skipVS16(s.text, pos+sz), t.nodes[c].emoji
	}
	s.soloRI = pos
	return pos, alone
}

func skipVS16(text string, pos int) int {
	if strings.HasPrefix(text[pos:], "\uFE0F") {
		return pos + len("\uFE0F")
	}
	return pos
}

func isRI(r rune) bool { return r >= '\U0001F1E6' && r <= '\U0001F1FF' }

func isKeycapBase(b byte) bool { return isDigit(b) || b == '#' || b == '*' }

// isNameByte reports whether b may be part of a shortname: Bitrix's [-+\w].
func isNameByte(b byte) bool { return isAlnum(b) || b == '_' || b == '-' || b == '+' }

func isSmileyEnd(b byte) bool { return isSpace(b) || b == '!' || b == ',' || b == '.' || b == '?' }

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

// isSpace reports whether b is whitespace as Bitrix's `\s` has it (ASCII).
func isSpace(b byte) bool { return spaces[b] }

var spaces = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\f': true, '\v': true}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isAlnum(b byte) bool { return isDigit(b) || (b|0x20 >= 'a' && b|0x20 <= 'z') }

func isHex(b byte) bool { return isDigit(b) || (b|0x20 >= 'a' && b|0x20 <= 'f') }

// unhex is the value of the hex digit b.
func unhex(b byte) byte {
	if isDigit(b) {
		return b - '0'
	}
	return b | 0x20 - 'a' + 10
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b | 0x20
	}
	return b
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
