package emoji

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

//go:generate go run ./internal/gen

// The lookup tables are built once, on first use, from setData (set_gen.go); they are never written afterwards.

// info is one emoji of the set.
type info struct {
	file    string // emojione's file name: "1f44d", "0023-20e3", "1f468-1f469-1f467-1f466"
	title   string // emojione's primary shortname, the title of the emoji written in Unicode
	unicode string // what FromIcons writes: emojione's unicode_alternates if any (with U+FE0F and U+200D)
}

// smiley is an ASCII smiley, as written or HTML-escaped.
type smiley struct {
	emoji int32
	title string // the smiley HTML-escaped, as Bitrix writes it: "&lt;3"
}

// node is a trie node over the code points of a Unicode form with U+FE0F removed.
type node struct {
	lo, hi int32 // edges[lo:hi] are this node's children, sorted by rune
	emoji  int32 // index into tables.emojis, or -1 when no form ends here
}

type edge struct {
	r    rune
	node int32
}

type tables struct {
	emojis   []info
	names    map[string]int32 // ":thumbsup:", ":+1:", ":thumbs_up:" (colons included) -> emoji
	files    map[string]int32 // "1f44d" -> emoji
	smileys  []smiley
	spelling map[string]int32      // ":)", "<3", "&lt;3" -> smiley
	maxName  int                   // longest name, in bytes
	maxFile  int                   // longest file name, in bytes
	rootBMP  *[1 << 16 / 64]uint64 // bit r set: some form starts with BMP code point r (fast rejection)
	pairs    *[1 << 16 / 64]uint64 // bit b0<<8|b1 set: some smiley starts with the bytes b0 b1
	maxSmile int                   // longest smiley, in bytes
	nodes    []node                // nodes[0] is the root
	edges    []edge
	classes  [2][256]uint8 // byte classes of the scanner, without and with smileys
}

func (t *tables) title(i int32) string { return t.emojis[i].title }

// load returns the shared, immutable tables, building them on first use.
var load = sync.OnceValue(func() *tables { return build(setData) })

// build parses setData: one line per emoji, tab-separated fields file, alternate form, emojione names (the
// primary first), extra names, ASCII smileys.
func build(data string) *tables {
	t := &tables{names: map[string]int32{}, files: map[string]int32{}, spelling: map[string]int32{},
		rootBMP: new([1 << 16 / 64]uint64), pairs: new([1 << 16 / 64]uint64)}
	tb := newTrieBuilder()
	var unicode []byte // every emoji's unicode, back to back: one allocation, not one per emoji
	var ends []int
	for line := range strings.Lines(data) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		file, alt, own := f[0], f[1], strings.Fields(f[2])
		idx := int32(len(t.emojis))
		out := file
		if alt != "" {
			out = alt
		}
		unicode = appendRunes(unicode, out)
		ends = append(ends, len(unicode))
		t.emojis = append(t.emojis, info{file: file, title: own[0]})
		t.files[file] = idx
		t.maxFile = max(t.maxFile, len(file))
		for _, n := range append(own, strings.Fields(f[3])...) {
			t.names[n] = idx
			t.maxName = max(t.maxName, len(n))
		}
		for _, s := range strings.Fields(f[4]) {
			t.addSmiley(s, idx)
		}
		t.addForm(tb, runes(file), idx)
		if alt != "" {
			t.addForm(tb, runes(alt), idx)
		}
	}
	all, start := string(unicode), 0
	for i, end := range ends {
		t.emojis[i].unicode, start = all[start:end], end
	}
	tb.flatten(t)
	t.setClasses()
	return t
}

// runes turns "0023-fe0f-20e3" into the string of those code points.
func runes(hex string) string { return string(appendRunes(nil, hex)) }

func appendRunes(b []byte, hex string) []byte {
	for cp := range strings.SplitSeq(hex, "-") {
		r, err := strconv.ParseUint(cp, 16, 32)
		if err != nil {
			panic("emoji: bad code point " + cp + " in setData")
		}
		b = utf8.AppendRune(b, rune(r))
	}
	return b
}

// addForm adds a Unicode form to the trie, U+FE0F removed (the scanner skips it after any code point).
func (t *tables) addForm(tb *trieBuilder, form string, idx int32) {
	key := strings.ReplaceAll(form, "\uFE0F", "")
	tb.insert(key, idx)
	if r, _ := utf8.DecodeRuneInString(key); r < 1<<16 {
		t.rootBMP[r/64] |= 1 << (r % 64)
	}
}

// addSmiley adds an ASCII smiley as written and, as emojione's pattern also has it, with `<`, `>`, `Þ` and
// `þ` written as HTML entities.
func (t *tables) addSmiley(s string, idx int32) {
	t.smileys = append(t.smileys, smiley{emoji: idx, title: escapeHTML(s)})
	escaped := strings.NewReplacer("<", "&lt;", ">", "&gt;", "Þ", "&THORN;", "þ", "&thorn;").Replace(s)
	for _, k := range []string{s, escaped} {
		t.spelling[k] = int32(len(t.smileys) - 1)
		t.maxSmile = max(t.maxSmile, len(k))
		p := uint16(k[0])<<8 | uint16(k[1])
		t.pairs[p/64] |= 1 << (p % 64)
	}
}

// escapeHTML escapes as Bitrix's htmlspecialcharsbx does: & < > and ".
func escapeHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// Byte classes of the scanner: 0 is plain text, skipped without a second look.
const (
	kColon   = iota + 1 // shortname, hex escape, URL scheme, smiley
	kLead               // the first byte of a form's first code point, or of U+FE0F and U+20E3 (keycaps)
	kBracket            // an [ICON=…] tag
	kAngle              // an HTML region, or a smiley
	kDot                // a URL without scheme, www.…
	kSmiley             // the first or second byte of a smiley
)

func (t *tables) setClasses() {
	for i := range t.classes {
		c := &t.classes[i]
		c[':'], c['['], c['<'], c['.'] = kColon, kBracket, kAngle, kDot
		c[0xEF], c[0xE2] = kLead, kLead
		for _, e := range t.emojis {
			if b := e.unicode[0]; b >= utf8.RuneSelf {
				c[b] = kLead
			}
		}
	}
	// A smiley is found at its first byte, or at its second when the first is a letter or digit (O:), B-)),
	// which would otherwise stop the scanner at every word.
	for sm := range t.spelling {
		b := sm[0]
		if isAlnum(b) {
			b = sm[1]
		}
		if c := &t.classes[1][b]; *c == 0 {
			*c = kSmiley
		}
	}
}

type trieBuilder struct {
	children []map[rune]int32
	emoji    []int32
}

func newTrieBuilder() *trieBuilder {
	return &trieBuilder{children: []map[rune]int32{{}}, emoji: []int32{-1}}
}

func (b *trieBuilder) insert(key string, idx int32) {
	n := int32(0)
	for _, r := range key {
		c, ok := b.children[n][r]
		if !ok {
			c = int32(len(b.emoji))
			b.children = append(b.children, map[rune]int32{})
			b.emoji = append(b.emoji, -1)
			b.children[n][r] = c
		}
		n = c
	}
	b.emoji[n] = idx
}

// flatten lays the trie out as arrays: each node's edges are contiguous and sorted by rune.
func (b *trieBuilder) flatten(t *tables) {
	t.nodes = make([]node, len(b.emoji))
	for n, ch := range b.children {
		lo := int32(len(t.edges))
		for r, c := range ch {
			t.edges = append(t.edges, edge{r, c})
		}
		slices.SortFunc(t.edges[lo:], func(a, b edge) int { return cmp.Compare(a.r, b.r) })
		t.nodes[n] = node{lo: lo, hi: int32(len(t.edges)), emoji: b.emoji[n]}
	}
}

// child returns the child of node n along r, or -1.
func (t *tables) child(n int32, r rune) int32 {
	nd := t.nodes[n]
	lo, hi := nd.lo, nd.hi
	for lo < hi {
		m := int32(uint32(lo+hi) >> 1)
		switch e := t.edges[m]; {
		case e.r == r:
			return e.node
		case e.r < r:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1
}
