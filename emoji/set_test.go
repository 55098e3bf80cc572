package emoji

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	kyokomi "github.com/kyokomi/emoji/v2"
)

// emojiJSONSHA256 is the sha256 of emojione 2.2.5's emoji.json, the copy in testdata.
const emojiJSONSHA256 = "28446a0d293bdc1f2ece0a2eae4e9be158dde751e17691288a2a08deedb81e93"

// setEntry is one emoji of the set as emoji.json and Bitrix's ruleset give it.
type setEntry struct {
	file, alt string
	names     []string // shortname, then aliases
	ascii     []string
}

// emojioneSet reads testdata's emoji.json, checks its hash and applies Bitrix's ruleset to it: without the
// bare characters #, * and 0-9, with :facepalm: and its tones. The entries are ordered by file.
func emojioneSet(t *testing.T) []setEntry {
	t.Helper()
	data, err := os.ReadFile("testdata/emojione-2.2.5/emoji.json")
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != emojiJSONSHA256 {
		t.Fatalf("emoji.json: sha256 %x, want %s", sum, emojiJSONSHA256)
	}
	var doc map[string]struct {
		Unicode      string   `json:"unicode"`
		Alternates   string   `json:"unicode_alternates"`
		Shortname    string   `json:"shortname"`
		Aliases      []string `json:"aliases"`
		AliasesASCII []string `json:"aliases_ascii"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	bare := regexp.MustCompile(`^:(pound_symbol|asterisk_symbol|digit_[a-z]+):$`)
	var set []setEntry
	for _, e := range doc {
		if bare.MatchString(e.Shortname) {
			continue
		}
		names := append([]string{e.Shortname}, e.Aliases...)
		if strings.HasPrefix(e.Shortname, ":face_palm") {
			names = append(names, ":facepalm"+strings.TrimPrefix(e.Shortname, ":face_palm"))
		}
		set = append(set, setEntry{file: e.Unicode, alt: e.Alternates, names: names, ascii: e.AliasesASCII})
	}
	slices.SortFunc(set, func(a, b setEntry) int { return strings.Compare(a.file, b.file) })
	return set
}

// TestSetIsEmojione compares the generated table with emoji.json.
func TestSetIsEmojione(t *testing.T) {
	t.Parallel()
	set := emojioneSet(t)
	lines := strings.Split(strings.TrimSuffix(setData, "\n"), "\n")
	if len(set) != 1820 || len(lines) != len(set) {
		t.Fatalf("%d emoji in emoji.json, %d in setData, want 1820", len(set), len(lines))
	}
	names, ascii := 0, 0
	for i, e := range set {
		names += len(e.names)
		ascii += len(e.ascii)
		want := strings.Join([]string{e.file, e.alt, strings.Join(e.names, " ")}, "\t")
		f := strings.Split(lines[i], "\t")
		if got := strings.Join(f[:3], "\t"); got != want || f[4] != strings.Join(e.ascii, " ") {
			t.Errorf("setData line %d:\n got %q\nwant %q, ascii %q", i+1, lines[i], want, e.ascii)
		}
	}
	if names != 2373 || ascii != 126 {
		t.Errorf("%d names and %d ASCII smileys, want 2373 and 126", names, ascii)
	}
}

// TestSetConverts converts every name, ASCII smiley and Unicode form of emoji.json's set: each gives exactly
// emojione's file and the title Bitrix writes, and each tag comes back from FromIcons as the same emoji.
func TestSetConverts(t *testing.T) {
	t.Parallel()
	c := New()
	count := map[string][2]int{} // kind -> exact, total
	check := func(kind, in, want string) {
		n := count[kind]
		n[1]++
		if got := c.ToIcons(in); got == want {
			n[0]++
		} else if n[1]-n[0] <= 20 {
			t.Errorf("%s: ToIcons(%q)\n got %q\nwant %q", kind, in, got, want)
		}
		count[kind] = n
	}
	for _, e := range emojioneSet(t) {
		primary := e.names[0]
		check("shortname", primary, tag(e.file, primary))
		for _, a := range e.names[1:] {
			check("alias", a, tag(e.file, a))
		}
		for _, a := range e.ascii {
			check("ascii", a, tag(e.file, escapeHTML(a)))
			check("ascii", "ok "+a+"!", "ok "+tag(e.file, escapeHTML(a))+"!")
			if esc := strings.NewReplacer("<", "&lt;", ">", "&gt;", "Þ", "&THORN;", "þ", "&thorn;").Replace(a); esc != a {
				check("ascii, HTML-escaped", esc, tag(e.file, escapeHTML(a)))
			}
		}
		forms := []string{runes(e.file)}
		if e.alt != "" {
			forms = append(forms, runes(e.alt), strings.ReplaceAll(runes(e.alt), "\ufe0f", ""))
		}
		for _, f := range forms {
			check("unicode form", f, tag(e.file, primary))
			check("unicode form", "a"+f+"b", "a"+tag(e.file, primary)+"b")
		}
		want := forms[0]
		if e.alt != "" {
			want = forms[1] // emojione's fully-qualified form
		}
		if back := c.FromIcons(tag(e.file, primary)); back != want || c.ToIcons(back) != tag(e.file, primary) {
			t.Errorf("FromIcons(%s) = %q, want %q", tag(e.file, primary), back, want)
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(count)) {
		n := count[kind]
		t.Logf("%-20s %5d of %5d exact", kind, n[0], n[1])
	}
}

// TestExtraNames checks kyokomi's names of the form Bitrix reads: one that emojione does not use converts to
// the set's file, titled as written, when its emoji is in the set, and stays otherwise.
func TestExtraNames(t *testing.T) {
	t.Parallel()
	c := New()
	emojione := map[string]bool{}
	for _, e := range emojioneSet(t) {
		for _, n := range e.names {
			emojione[n] = true
		}
	}
	slack := regexp.MustCompile(`^:[-+0-9A-Za-z_]+:$`)
	converted := 0
	for name, value := range kyokomi.CodeMap() {
		if !slack.MatchString(name) || emojione[name] {
			continue
		}
		want := name
		if file, ok := fileOf(value); ok {
			want = tag(file, name)
			converted++
		}
		if got := c.ToIcons(name); got != want {
			t.Errorf("ToIcons(%s) = %q, want %q (%q)", name, got, want, value)
		}
	}
	t.Logf("%d kyokomi names convert", converted)
}

// fileOf returns the file of s when it is one Unicode emoji of the set.
func fileOf(s string) (string, bool) {
	sc := scanner{t: load(), text: s, soloRI: -1}
	if end, idx := sc.match(0); idx >= 0 && end == len(s) {
		return sc.t.emojis[idx].file, true
	}
	return "", false
}

// TestOutsideSet checks that emoji the set does not have stay as written: every single code point of
// kyokomi's code map that is no form of the set.
func TestOutsideSet(t *testing.T) {
	t.Parallel()
	c := New()
	outside := 0
	for _, value := range kyokomi.CodeMap() {
		cp := strings.ReplaceAll(value, "\ufe0f", "")
		if utf8.RuneCountInString(cp) != 1 {
			continue
		}
		if _, in := c.IconTag(cp); in {
			continue
		}
		outside++
		if got := c.ToIcons(cp); got != cp {
			t.Errorf("ToIcons(%q) = %q, want it unchanged", cp, got)
		}
	}
	if outside < 100 {
		t.Errorf("only %d emoji outside the set", outside)
	}
	t.Logf("%d emoji outside the set stay", outside)
}

// hexForm writes every 4-byte character of s as a hex escape, upper- or lower-case.
func hexForm(s string, upper bool) string {
	var b strings.Builder
	for _, r := range s {
		if utf8.RuneLen(r) != 4 {
			b.WriteRune(r)
			continue
		}
		h := fmt.Sprintf("%X", string(r))
		if !upper {
			h = strings.ToLower(h)
		}
		b.WriteString(":" + h + ":")
	}
	return b.String()
}

// TestHexForms decodes the hex form of every Unicode form of the set, and leaves malformed ones alone.
func TestHexForms(t *testing.T) {
	t.Parallel()
	c := New()
	decoded, malformed := 0, 0
	for _, e := range emojioneSet(t) {
		forms := []string{runes(e.file)}
		if e.alt != "" {
			forms = append(forms, runes(e.alt))
		}
		for _, f := range forms {
			for _, upper := range []bool{true, false} {
				h := hexForm(f, upper)
				if h == f {
					continue
				}
				decoded++
				if got := DecodeHex(h); got != f {
					t.Errorf("DecodeHex(%q) = %q, want %q", h, got, f)
				}
				if got, want := c.ToIcons(h), tag(e.file, e.names[0]); got != want {
					t.Errorf("ToIcons(%q) = %q, want %q", h, got, want)
				}
			}
		}
		r, _ := utf8.DecodeRuneInString(runes(e.file))
		if utf8.RuneLen(r) != 4 {
			continue
		}
		h := fmt.Sprintf("%X", string(r))
		for _, bad := range []string{":" + h[:7] + ":", ":" + h, ":" + h + " :", ":" + h[:7] + "G:", ":F8" + h[2:] + ":",
			":" + h[:2] + "7F" + h[4:] + ":", ":" + h[:6] + "C0:", ":" + h[:6] + ":" + h[6:] + ":"} {
			malformed++
			if got := DecodeHex(bad); got != bad {
				t.Errorf("DecodeHex(%q) = %q, want it unchanged", bad, got)
			}
			if got := c.ToIcons(bad); got != bad {
				t.Errorf("ToIcons(%q) = %q, want it unchanged", bad, got)
			}
		}
	}
	t.Logf("%d hex forms decode, %d malformed ones stay", decoded, malformed)
}

// TestSmileysUnambiguous checks what smileyFrom relies on: no smiley followed by one of `! , . ?` starts
// another, so the first end that gives a smiley is the only one.
func TestSmileysUnambiguous(t *testing.T) {
	t.Parallel()
	tb := load()
	for a := range tb.spelling {
		for b := range tb.spelling {
			if len(b) > len(a) && strings.HasPrefix(b, a) && strings.ContainsRune("!,.?", rune(b[len(a)])) {
				t.Errorf("smiley %q starts %q", a, b)
			}
		}
	}
	if len(tb.spelling) != 144 {
		t.Errorf("%d smiley spellings, want 126 and 18 HTML-escaped", len(tb.spelling))
	}
}
