package emoji

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	kyokomi "github.com/kyokomi/emoji/v2"
)

// The lookup tables are derived once from kyokomi's code map and never written afterwards. kyokomi returns its
// own maps without copying them, so this file only ever reads them.

const (
	vs16 = '\uFE0F' // VARIATION SELECTOR-16: emoji presentation, dropped from file names and lookups
	vs15 = '\uFE0E' // VARIATION SELECTOR-15: text presentation, the writer asked for no emoji
	zwj  = '\u200D'
	riA  = '\U0001F1E6' // REGIONAL INDICATOR SYMBOL LETTER A
	riZ  = '\U0001F1FF'
)

// info is one emoji: one file, whatever variant (with or without U+FE0F) or shortname names it.
type info struct {
	file    string // lower-case hex code points joined by "-", U+FE0F dropped: "1f44d", "23-20e3"
	title   string // canonical shortname with colons, used as the title when the emoji was written in Unicode
	unicode string // the fully-qualified variant (the one with the most U+FE0F), FromIcons writes it
}

// node is a trie node over the code points of an emoji with U+FE0F removed.
type node struct {
	lo, hi int32 // edges[lo:hi] are this node's children, sorted by rune
	emoji  int32 // index into tables.emojis, or -1 when no emoji ends here
}

type tables struct {
	emojis   []info
	short    map[string]int32 // ":+1:" (colons included) -> emoji
	files    map[string]int32 // "1f44d" -> emoji
	smileys  map[string]int32 // ":)" -> emoji
	maxShort int              // longest key of short, in bytes
	maxFile  int              // longest file name, in bytes
	nodes    []node           // nodes[0] is the root
	edgeRune []rune
	edgeNode []int32
}

var (
	tablesOnce sync.Once
	tablesVal  *tables
)

// load returns the shared, immutable tables, building them on first use.
func load() *tables {
	tablesOnce.Do(func() { tablesVal = build(kyokomi.CodeMap(), kyokomi.RevCodeMap()) })
	return tablesVal
}

// smileyTable maps ASCII smileys (enabled by WithSmileys) to a shortname of the code map.
var smileyTable = [...]struct{ smiley, shortname string }{
	{":)", ":slightly_smiling_face:"}, {":-)", ":slightly_smiling_face:"},
	{":(", ":slightly_frowning_face:"}, {":-(", ":slightly_frowning_face:"},
	{";)", ":wink:"}, {";-)", ":wink:"},
	{":D", ":smiley:"}, {":-D", ":smiley:"},
	{"xD", ":laughing:"}, {"XD", ":laughing:"},
	{":P", ":stuck_out_tongue:"}, {":-P", ":stuck_out_tongue:"}, {":p", ":stuck_out_tongue:"}, {":-p", ":stuck_out_tongue:"},
	{";P", ":stuck_out_tongue_winking_eye:"}, {";-P", ":stuck_out_tongue_winking_eye:"},
	{":O", ":open_mouth:"}, {":-O", ":open_mouth:"}, {":o", ":open_mouth:"}, {":-o", ":open_mouth:"},
	{":|", ":neutral_face:"}, {":-|", ":neutral_face:"},
	{":/", ":confused:"}, {":-/", ":confused:"},
	{":'(", ":cry:"},
	{":*", ":kissing_heart:"}, {":-*", ":kissing_heart:"},
	{"8-)", ":sunglasses:"}, {"B-)", ":sunglasses:"},
	{"<3", ":heart:"}, {"</3", ":broken_heart:"},
}

// build derives the tables from a shortname -> Unicode code map and its reverse (kyokomi's CodeMap and
// RevCodeMap). It only reads them.
func build(codeMap map[string]string, revMap map[string][]string) *tables {
	type group struct {
		variants []string // distinct Unicode spellings
		names    []string // shortnames naming any of them
	}
	groups := map[string]*group{} // stripped code point string -> group
	for name, value := range codeMap {
		key := strings.ReplaceAll(value, string(vs16), "")
		if key == "" || !utf8.ValidString(key) || !validShortname(name) {
			continue
		}
		g := groups[key]
		if g == nil {
			g = &group{}
			groups[key] = g
		}
		if !slices.Contains(g.variants, value) {
			g.variants = append(g.variants, value)
		}
		g.names = append(g.names, name)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	t := &tables{
		emojis: make([]info, len(keys)),
		short:  make(map[string]int32, len(codeMap)+300),
		files:  make(map[string]int32, len(keys)),
	}
	tb := newTrieBuilder()
	for i, key := range keys {
		g := groups[key]
		idx := int32(i)
		// The fully-qualified variant has the most U+FE0F; ties go to the smaller string, so the choice does
		// not depend on map order.
		slices.SortFunc(g.variants, func(a, b string) int {
			if c := cmp.Compare(strings.Count(b, string(vs16)), strings.Count(a, string(vs16))); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		slices.SortFunc(g.names, func(a, b string) int {
			if c := cmp.Compare(len(a), len(b)); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		preferred := g.variants[0]
		// The title is kyokomi's normalised alias of the preferred variant (NormalizeShortCode), if it names
		// this emoji; otherwise the shortest shortname.
		title := g.names[0]
		for _, n := range revMap[preferred] {
			if v, ok := codeMap[n]; ok && validShortname(n) && strings.ReplaceAll(v, string(vs16), "") == key {
				title = n
				break
			}
		}
		file := fileName(key)
		t.emojis[i] = info{file: file, title: title, unicode: preferred}
		t.files[file] = idx
		t.maxFile = max(t.maxFile, len(file))
		for _, n := range g.names {
			t.short[n] = idx
			t.maxShort = max(t.maxShort, len(n))
		}
		tb.insert(key, idx)
	}
	// Slack and kyokomi's Sprint also accept :flag-xx: for every two-letter flag; add it where the code map
	// has no such name.
	for i, e := range t.emojis {
		rs := []rune(strings.ReplaceAll(e.unicode, string(vs16), ""))
		if len(rs) == 2 && isRI(rs[0]) && isRI(rs[1]) {
			alias := ":flag-" + string([]rune{'a' + rs[0] - riA, 'a' + rs[1] - riA}) + ":"
			if _, ok := t.short[alias]; !ok {
				t.short[alias] = int32(i)
			}
		}
	}
	t.smileys = make(map[string]int32, len(smileyTable))
	for _, s := range smileyTable {
		if idx, ok := t.short[s.shortname]; ok {
			t.smileys[s.smiley] = idx
		}
	}
	tb.flatten(t)
	return t
}

// validShortname reports whether name can be found by the scanner: colons at both ends, at least one byte
// between them, no colon or whitespace inside.
func validShortname(name string) bool {
	if len(name) < 3 || name[0] != ':' || name[len(name)-1] != ':' {
		return false
	}
	for i := 1; i < len(name)-1; i++ {
		if name[i] == ':' || isSpace(name[i]) {
			return false
		}
	}
	return true
}

// fileName is the icon's file name without extension: lower-case hex code points joined by "-".
func fileName(key string) string {
	var b strings.Builder
	for i, r := range []rune(key) {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.FormatInt(int64(r), 16))
	}
	return b.String()
}

func isRI(r rune) bool { return r >= riA && r <= riZ }

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
		rs := make([]rune, 0, len(ch))
		for r := range ch {
			rs = append(rs, r)
		}
		slices.Sort(rs)
		lo := int32(len(t.edgeRune))
		for _, r := range rs {
			t.edgeRune = append(t.edgeRune, r)
			t.edgeNode = append(t.edgeNode, ch[r])
		}
		t.nodes[n] = node{lo: lo, hi: int32(len(t.edgeRune)), emoji: b.emoji[n]}
	}
}

// child returns the child of node n along r, or -1.
func (t *tables) child(n int32, r rune) int32 {
	nd := t.nodes[n]
	lo, hi := nd.lo, nd.hi
	for lo < hi {
		m := int32(uint32(lo+hi) >> 1)
		switch er := t.edgeRune[m]; {
		case er == r:
			return t.edgeNode[m]
		case er < r:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1
}
