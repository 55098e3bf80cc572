package wire

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The one parser of the PHP serialize format. It reads a whole input, checks everything (the syntax, the
// limits, the refused types, repeated keys) and writes the value out as a flat list of nodes; the tree of Go
// values (tree.go) and the typed values (into.go) are both built from that list, so every decode accepts the
// same inputs and refuses the others with the same error at the same offset.

// kind is the type of a node.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindInt
	kindFloat
	kindString
	kindList // an array whose keys are 0, 1, … in order: a []any in the tree
	kindMap  // any other array: a *Map in the tree
)

// node is one value or one array key. An array's node is followed by its entries, each a key node (kindInt
// or kindString) and then the nodes of its value. Nodes hold no pointers (a string is its place in the
// input), so that the list costs the garbage collector nothing to scan.
type node struct {
	n    int64 // kindInt: the value; kindBool: 0 or 1; kindFloat: its bits; kindString: its offset; kindList, kindMap: the entry count
	m    int   // kindString: its length; kindList, kindMap: the index of the node after the array's last entry
	kind kind
}

// nodes is a parsed input: its nodes and the input their strings lie in.
type nodes struct {
	src  string
	list []node
}

// str returns the string of a kindString node.
func (ns *nodes) str(nd *node) string { return ns.src[nd.n : nd.n+int64(nd.m)] }

// key returns the key of a key node.
func (ns *nodes) key(nd *node) akey {
	if nd.kind == kindString {
		return akey{s: ns.str(nd)}
	}
	return akey{n: nd.n, isInt: true}
}

// next returns the index of the node after the value at i and all its entries.
func (ns *nodes) next(i int) int {
	if k := ns.list[i].kind; k == kindList || k == kindMap {
		return ns.list[i].m
	}
	return i + 1
}

// parse reads one PHP serialized value, the whole of s, into its nodes; the value is the first node. Errors
// are *SyntaxError.
func parse(s string) (nodes, error) {
	p := parser{scanner: scanner{s: s}, nodes: nodes{src: s, list: make([]node, 0, presize(s))}}
	if err := p.value(0); err != nil {
		return nodes{}, err
	}
	if p.pos != len(s) {
		return nodes{}, p.errf("trailing bytes after the value")
	}
	return p.nodes, nil
}

// presize estimates the nodes of s, so that the list is allocated once: a string (the most common node) has
// two ':' and a key or an integer one, so a protocol packet has a little under half a node per ':' (the
// 10-item receivingMessage: 461 nodes for 1 012). A valid input has at most two nodes per element and one
// for the root; appending grows the list past the estimate.
func presize(s string) int {
	return min(strings.Count(s, ":")*15/32+8, 2*maxElements+1)
}

// parser writes the nodes of its scanner's input.
type parser struct {
	scanner
	nodes
}

// str appends the node of a string that ends at the scanner's position.
func (p *parser) str(s string) {
	p.list = append(p.list, node{kind: kindString, n: int64(p.pos - 2 - len(s)), m: len(s)})
}

func (p *parser) value(depth int) error {
	if p.pos >= len(p.s) {
		return p.errf("unexpected end of input, want a value")
	}
	nd := node{}
	switch tag := p.s[p.pos]; tag {
	case 's':
		s, err := p.sstr()
		if err != nil {
			return err
		}
		p.str(s)
		return nil
	case 'a':
		p.pos++
		return p.array(depth)
	case 'i':
		n, err := p.integer()
		if err != nil {
			return err
		}
		nd = node{kind: kindInt, n: n}
	case 'N':
		if err := p.null(); err != nil {
			return err
		}
	case 'b':
		b, err := p.boolean()
		if err != nil {
			return err
		}
		nd = node{kind: kindBool}
		if b {
			nd.n = 1
		}
	case 'd':
		f, err := p.float()
		if err != nil {
			return err
		}
		nd = node{kind: kindFloat, n: int64(math.Float64bits(f))}
	default:
		return p.refuse(tag)
	}
	p.list = append(p.list, nd)
	return nil
}

// array reads an array after its 'a'. A repeated key is refused once its value is read.
func (p *parser) array(depth int) error {
	n, err := p.header(depth)
	if err != nil {
		return err
	}
	hdr := len(p.list)
	p.list = append(p.list, node{kind: kindList, n: int64(n)})
	keys := arrayKeys{p: p, hdr: hdr}
	for i := 0; i < n; i++ {
		k, err := p.key()
		if err != nil {
			return err
		}
		at := len(p.list) - 1
		if err := p.value(depth + 1); err != nil {
			return err
		}
		if p.list[hdr].kind == kindList && k.isInt && k.n == int64(i) {
			keys.bits |= k.bit() // a list's keys are 0, 1, …: no two alike
			continue
		}
		p.list[hdr].kind = kindMap
		if keys.repeated(k, at, i) {
			return p.errf("duplicate array key %v", k)
		}
	}
	if !p.eat('}') {
		return p.expectFail('}')
	}
	p.list[hdr].m = len(p.list)
	return nil
}

// key reads an array key and writes its node: an integer, or a string (one that PHP stores as an integer is
// the integer key, as in PHP).
func (p *parser) key() (akey, error) {
	if p.pos >= len(p.s) {
		return akey{}, p.errf("unexpected end of input, want a key")
	}
	switch p.s[p.pos] {
	case 'i':
		n, err := p.integer()
		if err != nil {
			return akey{}, err
		}
		p.list = append(p.list, node{kind: kindInt, n: n})
		return akey{n: n, isInt: true}, nil
	case 's':
		s, err := p.sstr()
		if err != nil {
			return akey{}, err
		}
		if n, ok := phpIntKey(s); ok {
			p.list = append(p.list, node{kind: kindInt, n: n})
			return akey{n: n, isInt: true}, nil
		}
		p.str(s)
		return akey{s: s}, nil
	}
	return akey{}, p.errf("array keys must be integers or strings, got %q", p.s[p.pos])
}

// akey is an array key: an integer, or a string.
type akey struct {
	s     string
	n     int64
	isInt bool
}

func (k akey) String() string {
	if k.isInt {
		return strconv.FormatInt(k.n, 10)
	}
	return k.s
}

// bit is the key's digest: one bit of 64.
func (k akey) bit() uint64 {
	switch {
	case k.isInt:
		return 1 << (uint64(k.n) * 0x9E3779B97F4A7C15 >> 58)
	case k.s == "":
		return 1
	}
	return 1 << ((uint(len(k.s))*31 + uint(k.s[0])*7 + uint(k.s[len(k.s)-1])) & 63)
}

// arrayKeys finds a key repeated in the array whose node is at hdr. Up to 16 keys, a new key is compared with
// the earlier ones only when it shares a digest bit with one of them, which for the few keys of a protocol
// map is almost never; from 16 keys on a set holds them, so that a hostile array of 100 000 distinct keys
// stays linear.
type arrayKeys struct {
	p    *parser
	hdr  int
	bits uint64
	seen map[akey]struct{}
}

// repeated reports whether k, the key of entry i whose node is at at, repeats an earlier key.
func (a *arrayKeys) repeated(k akey, at, i int) bool {
	ns := &a.p.nodes
	if a.seen == nil && i >= 16 {
		a.seen = make(map[akey]struct{}, ns.list[a.hdr].n)
		for j := a.hdr + 1; j < at; j = ns.next(j + 1) {
			a.seen[ns.key(&ns.list[j])] = struct{}{}
		}
	}
	if a.seen != nil {
		if _, dup := a.seen[k]; dup {
			return true
		}
		a.seen[k] = struct{}{}
		return false
	}
	bit := k.bit()
	if a.bits&bit != 0 {
		for j := a.hdr + 1; j < at; j = ns.next(j + 1) {
			if ns.key(&ns.list[j]) == k {
				return true
			}
		}
	}
	a.bits |= bit
	return false
}

// scanner reads the tokens of the format: the position in the input and the elements counted against
// maxElements.
type scanner struct {
	s     string
	pos   int
	elems int
}

func (d *scanner) errf(format string, args ...any) error {
	return &SyntaxError{Offset: d.pos, Msg: fmt.Sprintf(format, args...)}
}

// eat moves past c when it is the next byte.
func (d *scanner) eat(c byte) bool {
	if d.pos < len(d.s) && d.s[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *scanner) expectFail(c byte) error {
	if d.pos >= len(d.s) {
		return d.errf("unexpected end of input, want %q", c)
	}
	return d.errf("want %q, got %q", c, d.s[d.pos])
}

// until returns the bytes up to the next c (not included) and moves past c.
func (d *scanner) until(c byte) (string, error) {
	if i := strings.IndexByte(d.s[d.pos:], c); i >= 0 {
		v := d.s[d.pos : d.pos+i]
		d.pos += i + 1
		return v, nil
	}
	return "", d.errf("unexpected end of input, want %q", c)
}

// null reads `N;` (at its 'N').
func (d *scanner) null() error {
	d.pos++
	if !d.eat(';') {
		return d.expectFail(';')
	}
	return nil
}

// boolean reads `b:0;` or `b:1;` (at its 'b').
func (d *scanner) boolean() (bool, error) {
	d.pos++
	if !d.eat(':') {
		return false, d.expectFail(':')
	}
	start := d.pos
	v, err := d.until(';')
	if err != nil {
		return false, err
	}
	switch v {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	d.pos = start
	return false, d.errf("bad boolean %q", v)
}

// integer reads `i:<n>;` (at its 'i').
func (d *scanner) integer() (int64, error) {
	d.pos++
	if !d.eat(':') {
		return 0, d.expectFail(':')
	}
	return d.int(';')
}

// float reads `d:<text>;` (at its 'd').
func (d *scanner) float() (float64, error) {
	d.pos++
	if !d.eat(':') {
		return 0, d.expectFail(':')
	}
	start := d.pos
	v, err := d.until(';')
	if err != nil {
		return 0, err
	}
	f, ok := parsePHPFloat(v)
	if !ok {
		d.pos = start
		return 0, d.errf("bad float %q", v)
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		// PHP reads INF, NAN and numbers past the float range, but no peer sends them (docs/protocol.md §4)
		// and nothing after the decoder could carry them: Serialize and the JSON of an event refuse them.
		d.pos = start
		return 0, d.errf("float %q is not finite: a packet carries finite numbers only", v)
	}
	return f, nil
}

// refuse is the error for a value whose type tag is none of N, b, i, d, s and a.
func (d *scanner) refuse(tag byte) error {
	switch tag {
	case 'O', 'C', 'o':
		return d.errf("objects are refused (%q)", tag)
	case 'r', 'R':
		return d.errf("references are refused (%q)", tag)
	case 'S', 'E':
		return d.errf("unsupported type %q", tag)
	}
	return d.errf("unknown type %q", tag)
}

// header reads an array's `:<n>:{` (after its 'a') at depth: the count, checked against MaxDepth,
// maxElements and the bytes left, and counted in elems.
func (d *scanner) header(depth int) (int, error) {
	if depth >= MaxDepth {
		return 0, d.errf("nesting deeper than %d", MaxDepth)
	}
	if !d.eat(':') {
		return 0, d.expectFail(':')
	}
	n, err := d.length()
	if err != nil {
		return 0, err
	}
	if d.elems+n > maxElements {
		return 0, d.errf("more than %d elements", maxElements)
	}
	// Each element takes at least 4 bytes ("i:0;" key, "N;" value): refuse counts the input cannot hold
	// before allocating for them.
	if n > (len(d.s)-d.pos)/4 {
		return 0, d.errf("array count %d runs past the end of the input", n)
	}
	d.elems += n
	if !d.eat('{') {
		return 0, d.expectFail('{')
	}
	return n, nil
}

// int reads a decimal int64 ended by end: an optional sign and at least one digit.
func (d *scanner) int(end byte) (int64, error) {
	s, start := d.s, d.pos
	i := start
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := i
	var n int64
	for ; i < len(s) && s[i]-'0' <= 9; i++ {
		n = n*10 + int64(s[i]-'0') // wraps past 18 digits: those are read again below
	}
	if i == digits {
		return 0, d.errf("want an integer")
	}
	if i >= len(s) || s[i] != end {
		d.pos = i
		return 0, d.errf("want %q after the integer", end)
	}
	if i-digits > 18 {
		var err error
		if n, err = strconv.ParseInt(s[start:i], 10, 64); err != nil {
			return 0, d.errf("integer %s is out of range", s[start:i])
		}
	} else if s[start] == '-' {
		n = -n
	}
	d.pos = i + 1
	return n, nil
}

// length reads a non-negative length of at most 10 digits ended by ':'.
func (d *scanner) length() (int, error) {
	s, start := d.s, d.pos
	i, n := start, 0
	for ; i < len(s) && i-start <= 10; i++ {
		c := s[i] - '0'
		if c > 9 {
			break
		}
		n = n*10 + int(c)
	}
	if i == start || i-start > 10 {
		return 0, d.errf("want a length")
	}
	if i >= len(s) || s[i] != ':' {
		d.pos = i
		return 0, d.errf("want ':' after the length")
	}
	d.pos = i + 1
	return n, nil
}

// sstr reads `s:<n>:"<n bytes>";` (at its 's'). A string of fewer than 100 bytes with nothing wrong, which
// is nearly every key and value of a packet, is read in one step (about a third of a packet's parse); any
// other goes through the checks one by one, which say what is wrong and where.
func (d *scanner) sstr() (string, error) {
	if v, ok := d.shortStr(); ok {
		return v, nil
	}
	d.pos++
	if !d.eat(':') {
		return "", d.expectFail(':')
	}
	n, err := d.length()
	if err != nil {
		return "", err
	}
	if !d.eat('"') {
		return "", d.expectFail('"')
	}
	if n > len(d.s)-d.pos {
		return "", d.errf("string length %d runs past the end of the input", n)
	}
	v := d.s[d.pos : d.pos+n]
	d.pos += n
	if !d.eat('"') {
		return "", d.expectFail('"')
	}
	if !d.eat(';') {
		return "", d.expectFail(';')
	}
	return v, nil
}

// shortStr reads a whole string of fewer than 100 bytes, `s:<1–2 digits>:"<bytes>";`, and reports false,
// reading nothing, for anything else.
func (d *scanner) shortStr() (string, bool) {
	s, p := d.s, d.pos
	if p+6 > len(s) || s[p+1] != ':' {
		return "", false
	}
	n, q := int(s[p+2]-'0'), p+3
	if n > 9 {
		return "", false
	}
	if c := s[q] - '0'; c <= 9 {
		n, q = n*10+int(c), q+1
	}
	if q+1 >= len(s) || s[q] != ':' || s[q+1] != '"' {
		return "", false
	}
	start := q + 2
	if n > len(s)-start-2 || s[start+n] != '"' || s[start+n+1] != ';' {
		return "", false
	}
	d.pos = start + n + 2
	return s[start : start+n], true
}
