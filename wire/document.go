package wire

import (
	"fmt"
	"iter"
	"strconv"
	"strings"
)

// Doc is a decoded PHP serialized value held as a flat index over its text instead of a tree of Go values:
// one 8-byte node per value and per array key, in the order they are written, each array's node giving its
// count and where its elements end. Strings are read where they are in the input, without a copy, and
// integers and floats are decoded when asked for.
//
// Parsing a Doc checks everything Unserialize checks and refuses what it refuses, with the same errors at the
// same offsets (one limit more: the input must be under 512 MiB). Its values are the values Unserialize
// would give: Value.Interface builds exactly that tree. A Doc costs one allocation (none when reused with
// Parse), so it is the fastest way to read a packet's DATA.
//
// A Doc is not safe for concurrent Parse; reading one from several goroutines is.
type Doc struct {
	src   string
	nodes []uint64
}

// maxDocInput is the largest input a Doc holds: node offsets have 29 bits.
const maxDocInput = 1<<29 - 1

// A node is kind (3 bits) | x (29 bits) | y (32 bits):
//
//	docNull                     -
//	docBool                     y: 0 or 1
//	docInt    an int32          y: the value
//	docBigInt any other int64   x: offset of its decimal text (after "i:", or of a string key's bytes)
//	docFloat                    x: offset of its text (after "d:")
//	docString                   x: offset of its bytes, y: their length
//	docList, docMap             x: element count, y: index of the node after its last element
//
// An array's node is followed by its elements, each a key node (docInt, docBigInt or docString) and the
// value's nodes.
const (
	docNull uint64 = iota
	docBool
	docInt
	docBigInt
	docFloat
	docString
	docList
	docMap
)

func docNode(kind uint64, x, y int) uint64 { return kind<<61 | uint64(x)<<32 | uint64(uint32(y)) }
func nodeKind(n uint64) uint64             { return n >> 61 }
func nodeX(n uint64) int                   { return int(n >> 32 & (1<<29 - 1)) }
func nodeY(n uint64) int                   { return int(uint32(n)) }

// ParseDoc decodes s into a new Doc. The Doc reads s's memory.
func ParseDoc(s string) (*Doc, error) {
	d := new(Doc)
	if err := d.Parse(s); err != nil {
		return nil, err
	}
	return d, nil
}

// Parse decodes s into d, reusing d's memory: a Doc parsed again and again allocates nothing once it has
// held its largest input. On error d is empty. The Doc reads s's memory.
func (d *Doc) Parse(s string) error { return d.parse(s, maxDocInput) }

// parse is Parse with the input limit as an argument, so that tests can reach it.
func (d *Doc) parse(s string, limit int) error {
	d.reset()
	if len(s) > limit {
		return &SyntaxError{Offset: limit, Msg: fmt.Sprintf("input of %d bytes is larger than the %d a Doc holds", len(s), limit)}
	}
	p := docParser{scanner: scanner{s: s}, Doc: Doc{src: s, nodes: d.nodes}}
	if cap(p.nodes) == 0 {
		p.nodes = make([]uint64, 0, docPresize(s))
	}
	err := p.value(0)
	if err == nil && p.pos != len(s) {
		err = p.errf("trailing bytes after the value")
	}
	if err != nil {
		d.nodes = p.nodes[:0]
		return err
	}
	d.src, d.nodes = s, p.nodes
	return nil
}

// reset empties d, keeping its memory.
func (d *Doc) reset() { d.src, d.nodes = "", d.nodes[:0] }

// docPresize estimates the nodes of s: a string (the most common node) has two ':' and a key or an integer
// one, so a protocol packet has a little under half a node per ':' (measured on the 10-item
// receivingMessage: 461 nodes for 1 012). Appending grows the slice past the estimate, which hostile input
// cannot make large.
func docPresize(s string) int {
	return min(strings.Count(s, ":"), 4*MaxElements)*15/32 + 8
}

// Root returns the decoded value. The root of a Doc that holds nothing (never parsed, or failed) is the
// invalid Value.
func (d *Doc) Root() Value {
	if d == nil || len(d.nodes) == 0 {
		return Value{}
	}
	return Value{d: d, i: 0}
}

// next returns the index of the node after the value at i (with all its elements).
func (d *Doc) next(i int) int {
	if n := d.nodes[i]; nodeKind(n) >= docList {
		return nodeY(n)
	}
	return i + 1
}

// Kind is the type of a decoded value.
type Kind uint8

// The kinds of a Value. A Value that does not exist (a missing key, an index out of range) is KindInvalid.
const (
	KindInvalid Kind = iota
	KindNull
	KindBool
	KindInt
	KindFloat
	KindString
	KindList // an array whose keys are 0, 1, … in order (Unserialize gives []any)
	KindMap  // any other array (Unserialize gives *Map)
)

var kindNames = [...]string{"invalid", "null", "bool", "int", "float", "string", "list", "map"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one value of a Doc. The zero Value is invalid: it is what Get and Index return for what is not
// there, and every method of it returns the zero result, so that lookups chain without checks between them.
type Value struct {
	d *Doc
	i int
}

func (v Value) node() uint64 { return v.d.nodes[v.i] }

// Kind returns the type of v.
func (v Value) Kind() Kind {
	if v.d == nil {
		return KindInvalid
	}
	switch nodeKind(v.node()) {
	case docNull:
		return KindNull
	case docBool:
		return KindBool
	case docInt, docBigInt:
		return KindInt
	case docFloat:
		return KindFloat
	case docString:
		return KindString
	case docList:
		return KindList
	}
	return KindMap
}

// Exists reports whether v is a value (not the invalid Value of a missing key).
func (v Value) Exists() bool { return v.d != nil }

// IsNull reports whether v is PHP's null.
func (v Value) IsNull() bool { return v.d != nil && nodeKind(v.node()) == docNull }

// Bool returns v when it is a bool.
func (v Value) Bool() (b, ok bool) {
	if v.d == nil || nodeKind(v.node()) != docBool {
		return false, false
	}
	return nodeY(v.node()) == 1, true
}

// Int returns v when it is an integer.
func (v Value) Int() (int64, bool) {
	if v.d == nil {
		return 0, false
	}
	return v.d.intAt(v.node())
}

// intAt returns the value of an integer node.
func (d *Doc) intAt(n uint64) (int64, bool) {
	switch nodeKind(n) {
	case docInt:
		return int64(int32(uint32(n))), true
	case docBigInt:
		s, i := d.src, nodeX(n)
		j := i
		if j < len(s) && (s[j] == '-' || s[j] == '+') {
			j++
		}
		for j < len(s) && s[j]-'0' <= 9 {
			j++
		}
		v, err := strconv.ParseInt(s[i:j], 10, 64) // checked when parsed
		return v, err == nil
	}
	return 0, false
}

// Float returns v when it is a float.
func (v Value) Float() (float64, bool) {
	if v.d == nil || nodeKind(v.node()) != docFloat {
		return 0, false
	}
	s, i := v.d.src, nodeX(v.node())
	j := i
	for j < len(s) && s[j] != ';' {
		j++
	}
	return parsePHPFloat(s[i:j]) // checked when parsed
}

// Str returns v when it is a string, as written: an empty value of a packet is "#EMPTY#" (see Text).
func (v Value) Str() (string, bool) {
	if v.d == nil || nodeKind(v.node()) != docString {
		return "", false
	}
	return v.d.strAt(v.node()), true
}

func (d *Doc) strAt(n uint64) string {
	x := nodeX(n)
	return d.src[x : x+nodeY(n)]
}

// Text returns v when it is a string, with the "#EMPTY#" of an empty packet value read as "", and "" for any
// other kind.
func (v Value) Text() string {
	s, _ := v.Str()
	return UnstubField(s)
}

// Len returns the number of entries of an array, 0 for any other kind.
func (v Value) Len() int {
	if v.d == nil || nodeKind(v.node()) < docList {
		return 0
	}
	return nodeX(v.node())
}

// Entries yields the keys and values of an array in their order; keys are KindInt or KindString. It yields
// nothing for any other kind.
func (v Value) Entries() iter.Seq2[Value, Value] {
	return func(yield func(Value, Value) bool) {
		if v.d == nil || nodeKind(v.node()) < docList {
			return
		}
		d := v.d
		for i, end := v.i+1, nodeY(v.node()); i < end; i = d.next(i + 1) {
			if !yield(Value{d, i}, Value{d, i + 1}) {
				return
			}
		}
	}
}

// Index returns the value of an array's i-th entry (the element i of a list), or the invalid Value. It steps
// over the entries before it: use Entries to visit them all.
func (v Value) Index(i int) Value {
	if i < 0 || i >= v.Len() {
		return Value{}
	}
	j := v.i + 1
	for ; i > 0; i-- {
		j = v.d.next(j + 1)
	}
	return Value{v.d, j + 1}
}

// Get returns the value under key in an array, or the invalid Value. A key that PHP stores as an integer
// ("12") finds the integer key, as in PHP. It compares the keys in order, as PHP's packets have few.
func (v Value) Get(key string) Value {
	if v.Len() == 0 {
		return Value{}
	}
	n, isInt := phpIntKey(key)
	d := v.d
	for i, end := v.i+1, nodeY(v.node()); i < end; i = d.next(i + 1) {
		k := d.nodes[i]
		if isInt {
			if kn, ok := d.intAt(k); ok && kn == n {
				return Value{d, i + 1}
			}
		} else if nodeKind(k) == docString && nodeY(k) == len(key) && d.strAt(k) == key {
			return Value{d, i + 1}
		}
	}
	return Value{}
}

// Interface returns v as Unserialize gives it: nil, bool, int64, float64, string, []any or *Map (strings
// read the Doc's input). The invalid Value gives nil.
func (v Value) Interface() any {
	if v.d == nil {
		return nil
	}
	return v.d.iface(v.i)
}

func (d *Doc) iface(i int) any {
	n := d.nodes[i]
	switch nodeKind(n) {
	case docNull:
		return nil
	case docBool:
		return nodeY(n) == 1
	case docInt, docBigInt:
		k, _ := d.intAt(n)
		return k
	case docFloat:
		f, _ := Value{d, i}.Float()
		return f
	case docString:
		return d.strAt(n)
	case docList:
		l := make([]any, 0, nodeX(n))
		for j, end := i+1, nodeY(n); j < end; j = d.next(j + 1) {
			l = append(l, d.iface(j+1))
		}
		return l
	}
	m := &Map{Entries: make([]Entry, 0, nodeX(n))}
	for j, end := i+1, nodeY(n); j < end; j = d.next(j + 1) {
		m.Entries = append(m.Entries, Entry{Key: d.iface(j), Value: d.iface(j + 1)})
	}
	return m
}

// Decode binds v into the Go value dst points to, with every "#EMPTY#" read as "": Bind(Unstub(v.Interface()),
// dst).
func (v Value) Decode(dst any) error { return Bind(Unstub(v.Interface()), dst) }

// docParser builds a Doc's nodes; the Doc it embeds reads those already built (an array's node is complete
// once the array is read). Its checks, errors and their offsets are decoder's (php.go), in the same order;
// FuzzDoc holds the two to it.
type docParser struct {
	scanner
	Doc
}

func (p *docParser) value(depth int) error {
	if p.pos >= len(p.s) {
		return p.errf("unexpected end of input, want a value")
	}
	switch tag := p.s[p.pos]; tag {
	case 's':
		v, err := p.sstr()
		if err != nil {
			return err
		}
		p.nodes = append(p.nodes, docNode(docString, p.pos-2-len(v), len(v)))
	case 'a':
		p.pos++
		return p.array(depth)
	case 'i':
		n, start, err := p.integer()
		if err != nil {
			return err
		}
		p.int64(n, start)
	case 'N':
		if err := p.null(); err != nil {
			return err
		}
		p.nodes = append(p.nodes, docNode(docNull, 0, 0))
	case 'b':
		b, err := p.boolean()
		if err != nil {
			return err
		}
		y := 0
		if b {
			y = 1
		}
		p.nodes = append(p.nodes, docNode(docBool, 0, y))
	case 'd':
		_, start, err := p.float()
		if err != nil {
			return err
		}
		p.nodes = append(p.nodes, docNode(docFloat, start, 0))
	default:
		return p.refuse(tag)
	}
	return nil
}

// int64 appends an integer node; off is where its decimal text starts.
func (p *docParser) int64(n int64, off int) {
	if n == int64(int32(n)) {
		p.nodes = append(p.nodes, docNode(docInt, 0, int(int32(n))))
	} else {
		p.nodes = append(p.nodes, docNode(docBigInt, off, 0))
	}
}

// array reads an array after its 'a', as decoder.array does.
func (p *docParser) array(depth int) error {
	n, err := p.header(depth)
	if err != nil {
		return err
	}
	hdr := len(p.nodes)
	p.nodes = append(p.nodes, 0)
	isList := true
	var keyBits uint64         // the digest bits of the keys so far (see intKeyBit)
	var seen map[akey]struct{} // the keys so far, once the array is a map of 16 entries or more
	for i := 0; i < n; i++ {
		// scanner.arrayKey, written out: this is the parser's hottest loop, and the call cost about 15 % of
		// a Doc's parse (min of four interleaved runs).
		if p.pos >= len(p.s) {
			return p.errf("unexpected end of input, want a key")
		}
		var k akey
		var bit uint64
		switch p.s[p.pos] {
		case 'i':
			n, start, err := p.integer()
			if err != nil {
				return err
			}
			p.int64(n, start)
			k, bit = akey{n: n, isInt: true}, intKeyBit(n)
		case 's':
			text, ok := p.shortStr()
			if !ok {
				p.pos++
				if text, err = p.str(); err != nil {
					return err
				}
			}
			start := p.pos - 2 - len(text)
			if n, ok := intKey(text); ok {
				p.int64(n, start)
				k, bit = akey{n: n, isInt: true}, intKeyBit(n)
			} else {
				p.nodes = append(p.nodes, docNode(docString, start, len(text)))
				k, bit = akey{s: text}, 1
				if len(text) > 0 {
					bit = 1 << strSlot(text)
				}
			}
		default:
			return p.errf("array keys must be integers or strings, got %q", p.s[p.pos])
		}
		key := len(p.nodes) - 1
		if p.pos < len(p.s) && p.s[p.pos] == 's' { // the most common value: no dispatch
			v, ok := p.shortStr()
			if !ok {
				p.pos++
				if v, err = p.str(); err != nil {
					return err
				}
			}
			p.nodes = append(p.nodes, docNode(docString, p.pos-2-len(v), len(v)))
		} else if err := p.value(depth + 1); err != nil {
			return err
		}
		if isList {
			if k.isInt && k.n == int64(i) {
				keyBits |= bit
				continue // a list's keys are 0, 1, …: no two alike
			}
			isList = false
		}
		// Duplicate keys: the digest bits for small arrays, a set once they grow, so that a hostile array
		// of 100 000 distinct keys stays linear.
		if seen == nil && i >= 16 {
			seen = make(map[akey]struct{}, n)
			for j := hdr + 1; j < key; j = p.next(j + 1) {
				seen[p.akey(p.nodes[j])] = struct{}{}
			}
		}
		if seen != nil {
			if _, dup := seen[k]; dup {
				return p.errf("duplicate array key %v", k)
			}
			seen[k] = struct{}{}
		} else if keyBits&bit != 0 && p.dupKey(hdr, key, k) {
			return p.errf("duplicate array key %v", k)
		}
		keyBits |= bit
	}
	if !p.eat('}') {
		return p.expectFail('}')
	}
	kind := docMap
	if isList {
		kind = docList
	}
	p.nodes[hdr] = docNode(kind, n, len(p.nodes))
	return nil
}

// akey returns the key of a key node.
func (p *docParser) akey(n uint64) akey {
	if nodeKind(n) == docString {
		return akey{s: p.strAt(n)}
	}
	k, _ := p.intAt(n)
	return akey{n: k, isInt: true}
}

// dupKey reports whether k, the key whose node is at key, repeats one of the keys of the array whose node is
// at hdr.
func (p *docParser) dupKey(hdr, key int, k akey) bool {
	for j := hdr + 1; j < key; j = p.next(j + 1) {
		if p.akey(p.nodes[j]) == k {
			return true
		}
	}
	return false
}
