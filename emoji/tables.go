package emoji

import (
	"cmp"
	"maps"
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

// span is a substring of tables.blob. The tables keep their strings in one blob and refer to them by offset,
// so they hold almost no pointers and cost the garbage collector nothing to scan.
type span struct{ off, n uint32 }

// info is one emoji: one file, whatever variant (with or without U+FE0F) or shortname names it.
type info struct {
	file    span // lower-case hex code points joined by "-", U+FE0F dropped: "1f44d", "23-20e3"
	title   span // canonical shortname with colons, used as the title when the emoji was written in Unicode
	unicode span // the fully-qualified variant (the one with the most U+FE0F), FromIcons writes it
}

// node is a trie node over the code points of an emoji with U+FE0F removed.
type node struct {
	lo, hi int32 // edges[lo:hi] are this node's children, sorted by rune
	emoji  int32 // index into tables.emojis, or -1 when no emoji ends here
}

type tables struct {
	blob     string
	emojis   []info
	short    strTable              // ":+1:" (colons included) -> emoji
	files    strTable              // "1f44d" -> emoji
	smileys  strTable              // ":)" -> emoji
	maxShort int                   // longest key of short, in bytes
	maxFile  int                   // longest file name, in bytes
	rootBMP  *[1 << 16 / 64]uint64 // bit r set: some emoji starts with BMP code point r (fast rejection)
	nodes    []node                // nodes[0] is the root
	edgeRune []rune
	edgeNode []int32
}

func (t *tables) str(s span) string    { return t.blob[s.off : s.off+s.n] }
func (t *tables) file(i int32) string  { return t.str(t.emojis[i].file) }
func (t *tables) title(i int32) string { return t.str(t.emojis[i].title) }
func (t *tables) unicode(i int32) string {
	return t.str(t.emojis[i].unicode)
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

	var blob strings.Builder
	interned := map[string]span{}
	intern := func(s string) span {
		if sp, ok := interned[s]; ok {
			return sp
		}
		sp := span{off: uint32(blob.Len()), n: uint32(len(s))}
		blob.WriteString(s)
		interned[s] = sp
		return sp
	}
	t := &tables{emojis: make([]info, len(keys))}
	short := map[string]int32{}
	files := map[string]int32{}
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
		t.emojis[i] = info{file: intern(file), title: intern(title), unicode: intern(preferred)}
		files[file] = idx
		t.maxFile = max(t.maxFile, len(file))
		for _, n := range g.names {
			short[n] = idx
			t.maxShort = max(t.maxShort, len(n))
		}
		tb.insert(key, idx)
		// Slack and kyokomi's Sprint also accept :flag-xx: for every two-letter flag; add it where the code
		// map has no such name.
		if rs := []rune(key); len(rs) == 2 && isRI(rs[0]) && isRI(rs[1]) {
			alias := ":flag-" + string([]rune{'a' + rs[0] - riA, 'a' + rs[1] - riA}) + ":"
			if _, ok := codeMap[alias]; !ok {
				short[alias] = idx
			}
		}
	}
	smileys := map[string]int32{}
	for _, s := range smileyTable {
		if idx, ok := short[s.shortname]; ok {
			smileys[s.smiley] = idx
		}
	}
	t.short = newStrTable(short, intern)
	t.files = newStrTable(files, intern)
	t.smileys = newStrTable(smileys, intern)
	t.blob = blob.String()
	t.short.blob, t.files.blob, t.smileys.blob = t.blob, t.blob, t.blob
	tb.flatten(t)
	t.rootBMP = new([1 << 16 / 64]uint64)
	for r := range tb.children[0] {
		if r < 1<<16 {
			t.rootBMP[r/64] |= 1 << (r % 64)
		}
	}
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

// strTable is an open-addressing hash table from strings (kept in the blob) to emoji indexes. Unlike a Go map
// of strings it holds no pointers besides the blob.
type strTable struct {
	slots   []uint64 // 0: empty; else high 32 bits of the hash << 32 | entry index + 1
	mask    uint64
	entries []strEntry
	blob    string
}

type strEntry struct {
	key span
	val int32
}

// newStrTable builds a table with at most 50% load; the keys are interned in the blob being built.
func newStrTable(m map[string]int32, intern func(string) span) strTable {
	size := 16
	for size < 2*len(m) {
		size *= 2
	}
	t := strTable{slots: make([]uint64, size), mask: uint64(size - 1)}
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		t.entries = append(t.entries, strEntry{key: intern(k), val: m[k]})
		h := strHash(k)
		i := h & t.mask
		for t.slots[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = h&^0xFFFFFFFF | uint64(len(t.entries))
	}
	return t
}

// The table's hash is FNV-1a with a final mix: the scanner computes it while it walks a candidate, so a lookup
// costs no second pass over the key. The keys are fixed (the code map), so a query can only probe, never fill,
// the table: a hostile text cannot make lookups slower than a probe sequence of a half-empty table.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnvStep adds byte b to the running hash h (start with fnvOffset).
func fnvStep(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

// fnvFinish mixes the high bits into the low ones, which index the slots.
func fnvFinish(h uint64) uint64 { return h ^ h>>29 ^ h>>47 }

func strHash(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h = fnvStep(h, s[i])
	}
	return fnvFinish(h)
}

// get returns the value of key, or -1.
func (t *strTable) get(key string) int32 { return t.getHashed(key, strHash(key)) }

// getHashed is get with the key's strHash already computed.
func (t *strTable) getHashed(key string, h uint64) int32 {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			return -1
		}
		if s&^0xFFFFFFFF == h&^0xFFFFFFFF {
			e := &t.entries[s&0xFFFFFFFF-1]
			if int(e.key.n) == len(key) && t.blob[e.key.off:e.key.off+e.key.n] == key {
				return e.val
			}
		}
	}
}

// getBytes is get for a key in a byte slice; it does not allocate.
func (t *strTable) getBytes(key []byte) int32 {
	h := uint64(fnvOffset)
	for _, b := range key {
		h = fnvStep(h, b)
	}
	h = fnvFinish(h)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			return -1
		}
		if s&^0xFFFFFFFF == h&^0xFFFFFFFF {
			e := &t.entries[s&0xFFFFFFFF-1]
			if int(e.key.n) == len(key) && t.blob[e.key.off:e.key.off+e.key.n] == string(key) {
				return e.val
			}
		}
	}
}
