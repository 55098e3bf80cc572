package emoji

import (
	"strings"
	"sync"
	"unicode/utf8"
)

const (
	// DefaultBasePath is the icon directory of a Bitrix portal.
	DefaultBasePath = "/bitrix/images/emoji"
	// DefaultVersion is the cache-busting version written as `?v=` after the file name: emojione's.
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
	icons    bool
	smileys  bool
	hex      bool
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

// WithIcons turns the icon step (docs/protocol.md §9.2) on or off. Default on, in both profiles. Off,
// ToIcons keeps Unicode emoji and shortnames as they are, as a current Bitrix portal does, and only decodes
// hex escapes (unless WithHexEscapes(false)).
func WithIcons(on bool) Option {
	return func(c *config) { c.icons = on }
}

// WithSmileys turns the conversion of ASCII smileys (`:)`, `;)`, `<3`, `&lt;3`, … emojione's 126) on or off.
// Default on, as in Bitrix. A smiley converts only after whitespace or at the start of the text, and before
// whitespace, the end or one of `! , . ?`.
func WithSmileys(on bool) Option {
	return func(c *config) { c.smileys = on }
}

// WithHexEscapes turns the decoding of hex escapes (`:F09F918D:` → 👍, docs/protocol.md §9.1) on or off.
// Default on, in both profiles: ToIcons decodes them before the icon step.
func WithHexEscapes(on bool) Option {
	return func(c *config) { c.hex = on }
}

// Converter converts between emoji and icon tags. It is immutable and safe for concurrent use; share one
// rather than copying it. The zero value (and a nil *Converter) behaves like New().
type Converter struct {
	cfg       config
	tagPrefix string // "[ICON=" + base + "/"
	tagMiddle string // ".svg?v=" + version + " title="
	baseSlash string // base + "/"
}

// New returns a Converter. Without options it decodes hex escapes, then writes
// `[ICON=/bitrix/images/emoji/<file>.svg?v=2.2.5 title=<title>]` for shortnames, Unicode emoji and ASCII
// smileys of the set.
func New(opts ...Option) *Converter {
	cfg := config{basePath: DefaultBasePath, version: DefaultVersion, icons: true, smileys: true, hex: true}
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

// ToIcons returns text as a legacy Bitrix portal shows it (docs/protocol.md §9): hex escapes decoded, then
// every `:shortname:`, Unicode emoji and ASCII smiley of the set replaced by its icon tag. A shortname is
// titled as written, a Unicode emoji with emojione's primary shortname, a smiley with itself HTML-escaped.
// Names and emoji outside the set, URLs, existing `[ICON=…]` tags and the HTML regions Bitrix skips stay as
// they are. Text with nothing to convert is returned without allocating.
func (c *Converter) ToIcons(text string) string {
	c = c.ready()
	switch {
	case c.cfg.icons:
		return c.toIcons(text, c.cfg.hex)
	case c.cfg.hex:
		return DecodeHex(text)
	}
	return text
}

// IconTag returns the icon tag for one emoji of the set given as a name (":+1:") or in Unicode ("👍", with
// or without U+FE0F), and whether it is in the set.
func (c *Converter) IconTag(emoji string) (string, bool) {
	c = c.ready()
	t := load()
	idx, ok := t.names[emoji]
	title := emoji
	if !ok {
		s := scanner{t: t, text: emoji, soloRI: -1}
		if end, i := s.match(0); i >= 0 && end == len(emoji) {
			idx, ok, title = i, true, t.title(i)
		}
	}
	if !ok {
		return "", false
	}
	var b strings.Builder
	c.writeTag(&b, t.emojis[idx].file, title)
	return b.String(), true
}

// FromIcons returns text with every icon tag of this Converter's base path whose file is an emoji of the set
// replaced by the emoji in Unicode (emojione's fully-qualified form, with U+FE0F and U+200D where it has
// them). Tags with another base path or an unknown file name stay as they are. Text without such tags is
// returned without allocating.
func (c *Converter) FromIcons(text string) string {
	c = c.ready()
	t := load()
	var out strings.Builder
	last := 0
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '[')
		if j < 0 {
			break
		}
		i += j
		end, idx := c.parseIcon(t, text, i)
		if idx < 0 {
			i++
			continue
		}
		if out.Cap() == 0 {
			out.Grow(len(text))
		}
		out.WriteString(text[last:i])
		out.WriteString(t.emojis[idx].unicode)
		last, i = end, end
	}
	if out.Cap() == 0 {
		return text
	}
	out.WriteString(text[last:])
	return out.String()
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
	var buf [64]byte
	k := 0
	for ; p < n && k < len(buf) && (isHex(text[p]) || text[p] == '-'); p, k = p+1, k+1 {
		buf[k] = lower(text[p])
	}
	if k == 0 || k > t.maxFile || !strings.HasPrefix(text[p:], ".svg") {
		return 0, -1
	}
	p += len(".svg")
	if p >= n || (text[p] != '?' && text[p] != ' ' && text[p] != ']') {
		return 0, -1
	}
	end := skipTag(text, i, maxTag+len(c.tagPrefix))
	if end == 0 || end <= p {
		return 0, -1
	}
	idx, ok := t.files[string(buf[:k])]
	if !ok {
		return 0, -1
	}
	return end, idx
}

// writeTag writes the icon tag of a file with a title.
func (c *Converter) writeTag(b *strings.Builder, file, title string) {
	b.WriteString(c.tagPrefix)
	b.WriteString(file)
	b.WriteString(c.tagMiddle)
	b.WriteString(title)
	b.WriteByte(']')
}

// DecodeHex returns text with its hex escapes decoded (docs/protocol.md §9.1), what a current Bitrix portal
// does to received text: each match of `:([A-F0-9]{8}):`, in any case, left to right, becomes the 4 bytes
// it stands for when they form one 4-byte UTF-8 character (`ok :F09F918D:` → `ok 👍`); other matches stay.
// Unicode emoji are kept. Text without such escapes is returned without allocating.
func DecodeHex(text string) string {
	var out strings.Builder
	last := 0
	for i := 0; ; {
		j := strings.IndexByte(text[i:], ':')
		if j < 0 {
			break
		}
		i += j
		b, match, valid := hexEscape(text, i)
		if !match {
			i++
			continue
		}
		if valid {
			if out.Cap() == 0 {
				out.Grow(len(text))
			}
			out.WriteString(text[last:i])
			out.Write(b[:])
			last = i + hexLen
		}
		i += hexLen
	}
	if out.Cap() == 0 {
		return text
	}
	out.WriteString(text[last:])
	return out.String()
}

// hexLen is the length of a hex escape, `:` + 8 hex digits + `:`.
const hexLen = 10

// hexEscape reads `:XXXXXXXX:` at text[i]: match when it has that shape, valid when its 4 bytes form one
// 4-byte UTF-8 character (F0 then 90–BF, F1–F3, or F4 then 80–8F, then continuation bytes).
func hexEscape(text string, i int) (b [4]byte, match, valid bool) {
	if len(text)-i < hexLen || text[i+hexLen-1] != ':' {
		return b, false, false
	}
	for k := range 8 {
		h := text[i+1+k]
		if !isHex(h) {
			return b, false, false
		}
		b[k/2] = b[k/2]<<4 | unhex(h)
	}
	_, size := utf8.DecodeRune(b[:])
	return b, true, size == 4
}

// hexAt reports whether a hex escape that decodes starts at text[i]. Its first test, hexShaped, inlines:
// the scanner's look at a colon costs a compare.
func hexAt(text string, i int) bool { return hexShaped(text, i) && hexValid(text, i) }

func hexShaped(text string, i int) bool { return i+hexLen <= len(text) && text[i+hexLen-1] == ':' }

func hexValid(text string, i int) bool {
	_, _, valid := hexEscape(text, i)
	return valid
}

// containsHex reports whether a hex escape that decodes starts anywhere in s.
func containsHex(s string) bool {
	for i := 0; ; i++ {
		j := strings.IndexByte(s[i:], ':')
		if j < 0 {
			return false
		}
		if i += j; hexAt(s, i) {
			return true
		}
	}
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
