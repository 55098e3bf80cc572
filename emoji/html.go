package emoji

import "strings"

// html finds the HTML regions Bitrix leaves alone, as its pattern
// `<object[^>]*>.*?</object>|<span[^>]*>.*?</span>|<(?:object|embed|svg|img|div|span|p|a)[^>]*>` does: an
// object or span element closed on the same line, or else the opening tag of one of those names (a prefix:
// `<p` also opens `<pre>`), up to the first `>`. Tag names match in any case.
//
// Each search remembers its answer, the first occurrence at or after where it started; the scanner asks at
// growing positions, so no byte is searched twice and the pass stays linear on any input.
type html struct {
	gt, nl memo    // '>' and '\n'
	close  [2]memo // "</object>" and "</span>"
}

// closeTags are the elements skipped up to their closing tag, in the order of html.close.
var closeTags = [2]struct{ name, tag string }{{"object", "</object>"}, {"span", "</span>"}}

// openTags are the tags skipped alone.
var openTags = [...]string{"object", "embed", "svg", "img", "div", "span", "p", "a"}

// skip returns the index after the region starting at the '<' text[i], or 0.
func (h *html) skip(text string, i int) int {
	name := ""
	for _, t := range openTags {
		if hasPrefixFold(text[i+1:], t) {
			name = t
			break
		}
	}
	if name == "" {
		return 0
	}
	gt := h.gt.find(text, i+1, func(s string) int { return strings.IndexByte(s, '>') })
	if gt == len(text) {
		return 0
	}
	for k, c := range closeTags {
		if name != c.name {
			continue
		}
		end := h.close[k].find(text, gt+1, func(s string) int { return indexFold(s, c.tag) })
		if end < h.nl.find(text, gt+1, func(s string) int { return strings.IndexByte(s, '\n') }) {
			return end + len(c.tag)
		}
	}
	return gt + 1
}

// memo is the answer of the last search: the first occurrence at or after from is at at (len(text): none).
type memo struct {
	from, at int
	set      bool
}

// find returns the index of the first occurrence at or after from, searching text[from:] with index (which
// returns -1 for none) unless the last answer holds.
func (m *memo) find(text string, from int, index func(string) int) int {
	if m.set && from >= m.from && from <= m.at {
		return m.at
	}
	m.from, m.set = from, true
	if j := index(text[from:]); j >= 0 {
		m.at = from + j
	} else {
		m.at = len(text)
	}
	return m.at
}

// indexFold is strings.Index of the ASCII tag sub, in any case.
func indexFold(s, sub string) int {
	for i := 0; ; {
		j := strings.Index(s[i:], "</")
		if j < 0 {
			return -1
		}
		i += j
		if hasPrefixFold(s[i:], sub) {
			return i
		}
		i += 2
	}
}
