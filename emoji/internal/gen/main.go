// Command gen writes the emoji package's set table, set_gen.go, from emojione 2.2.5's emoji.json
// (docs/protocol.md §9.2). It reads the copy in testdata and checks its pinned sha256; with -tgz it first takes
// emoji.json and LICENSE.md out of the npm tarball emojione-2.2.5.tgz (`npm pack emojione@2.2.5`), checked
// against the registry's pinned dist.integrity, and writes them to testdata.
//
// Run from the emoji directory: go generate (or go run ./internal/gen).
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"io"
	"log"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	kyokomi "github.com/kyokomi/emoji/v2"
)

const (
	// tgzIntegrity is `npm view emojione@2.2.5 dist.integrity`.
	tgzIntegrity = "sha512-3nLQcnobur5TDDLIikDlkmtER6/ySfkeZOBTaQsF/EsRfOr4J/uo0KtSgdmzgUffsA5Q87E5wigODCdRZlWJWg=="
	// jsonSHA256 is the sha256 of package/emoji.json in that tarball.
	jsonSHA256 = "28446a0d293bdc1f2ece0a2eae4e9be158dde751e17691288a2a08deedb81e93"
	dataDir    = "testdata/emojione-2.2.5"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	tgz := flag.String("tgz", "", "npm tarball emojione-2.2.5.tgz to take emoji.json and LICENSE.md from")
	out := flag.String("o", "set_gen.go", "file to write")
	flag.Parse()
	if *tgz != "" {
		if err := unpack(*tgz); err != nil {
			log.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dataDir, "emoji.json"))
	if err != nil {
		log.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != jsonSHA256 {
		log.Fatalf("%s/emoji.json: sha256 %x, want %s", dataDir, sum, jsonSHA256)
	}
	set, err := parse(data)
	if err != nil {
		log.Fatal(err)
	}
	addExtraNames(set)
	src, err := format.Source(write(set))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// unpack checks the tarball against tgzIntegrity and writes its emoji.json and LICENSE.md to dataDir.
func unpack(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum := sha512.Sum512(raw)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != tgzIntegrity {
		return fmt.Errorf("%s: integrity %s, want %s", path, got, tgzIntegrity)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	found := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if h.Name != "package/emoji.json" && h.Name != "package/LICENSE.md" {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dataDir, filepath.Base(h.Name)), b, 0o644); err != nil {
			return err
		}
		found++
	}
	if found != 2 {
		return fmt.Errorf("%s: emoji.json or LICENSE.md missing", path)
	}
	return nil
}

// emoji is one entry of the set.
type emoji struct {
	file  string   // emojione's unicode value: "0023-20e3"
	alt   string   // emojione's unicode_alternates, with U+FE0F and U+200D: "0023-fe0f-20e3", or ""
	names []string // primary shortname, then emojione's aliases
	extra []string // names kyokomi/emoji/v2 knows besides
	ascii []string // aliases_ascii
}

// bare are the entries Bitrix's ruleset leaves out: plain `#`, `*` and digits never become icons.
var bare = []string{":pound_symbol:", ":asterisk_symbol:", ":digit_zero:", ":digit_one:", ":digit_two:",
	":digit_three:", ":digit_four:", ":digit_five:", ":digit_six:", ":digit_seven:", ":digit_eight:", ":digit_nine:"}

// parse reads emoji.json and applies Bitrix's ruleset: the bare characters out, :facepalm: and its tones in.
func parse(data []byte) ([]*emoji, error) {
	var doc map[string]struct {
		Unicode      string   `json:"unicode"`
		Alternates   string   `json:"unicode_alternates"`
		Shortname    string   `json:"shortname"`
		Aliases      []string `json:"aliases"`
		AliasesASCII []string `json:"aliases_ascii"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var set []*emoji
	for _, e := range doc {
		if slices.Contains(bare, e.Shortname) {
			continue
		}
		x := &emoji{file: e.Unicode, alt: e.Alternates, ascii: e.AliasesASCII,
			names: append([]string{e.Shortname}, e.Aliases...)}
		if tone, ok := strings.CutPrefix(e.Shortname, ":face_palm"); ok {
			x.names = append(x.names, ":facepalm"+tone)
		}
		set = append(set, x)
	}
	slices.SortFunc(set, func(a, b *emoji) int { return strings.Compare(a.file, b.file) })
	names := 0
	for _, e := range set {
		names += len(e.names)
	}
	if len(set) != 1820 || names != 2373 {
		return nil, fmt.Errorf("%d emoji and %d names, want 1820 and 2373", len(set), names)
	}
	return set, nil
}

// slackName is the form of name the scanner reads, as Bitrix's `:([-+\w]+):`.
var slackName = regexp.MustCompile(`^:[-+0-9A-Za-z_]+:$`)

// addExtraNames adds kyokomi's names (GitHub and Slack style) of emoji in the set that emojione does not
// use, and `:flag-xx:` for every two-letter flag.
func addExtraNames(set []*emoji) {
	taken := map[string]bool{}
	byForm := map[string]*emoji{} // code points, U+FE0F removed, as lower-case hex joined by "-"
	for _, e := range set {
		for _, n := range e.names {
			taken[n] = true
		}
		byForm[e.file] = e
		if e.alt != "" {
			byForm[strings.ReplaceAll(e.alt, "-fe0f", "")] = e
		}
	}
	add := func(e *emoji, name string) {
		if !taken[name] && slackName.MatchString(name) {
			taken[name] = true
			e.extra = append(e.extra, name)
		}
	}
	codeMap := kyokomi.CodeMap()
	for _, name := range slices.Sorted(maps.Keys(codeMap)) {
		if e := byForm[hexForm(codeMap[name])]; e != nil {
			add(e, name)
		}
	}
	for _, e := range set {
		if cps := strings.Split(e.file, "-"); len(cps) == 2 && isRI(cps[0]) && isRI(cps[1]) {
			add(e, ":flag-"+letter(cps[0])+letter(cps[1])+":")
		}
	}
	for _, e := range set {
		slices.Sort(e.extra)
	}
}

// hexForm writes s's code points, U+FE0F removed, the way emoji.json does: "0023-20e3".
func hexForm(s string) string {
	var parts []string
	for _, r := range s {
		if r != 0xFE0F {
			parts = append(parts, fmt.Sprintf("%04x", r))
		}
	}
	return strings.Join(parts, "-")
}

func isRI(cp string) bool { return cp >= "1f1e6" && cp <= "1f1ff" && len(cp) == 5 }

func letter(cp string) string {
	v, _ := strconv.ParseUint(cp, 16, 32)
	return string(rune('a' + v - 0x1f1e6))
}

// write renders set_gen.go: one line of setData per emoji.
func write(set []*emoji) []byte {
	var b bytes.Buffer
	b.WriteString(`// Code generated by "go run ./internal/gen"; DO NOT EDIT.

package emoji

// setData is the emoji set of docs/protocol.md §9.2: emojione 2.2.5 (npm emojione@2.2.5, emoji.json,
// sha256 ` + jsonSHA256[:16] + `…) as Bitrix's ruleset uses it: without the bare characters #, * and 0-9,
// with :facepalm: and its tones; plus names github.com/kyokomi/emoji/v2 (MIT) gives the same emoji. The
// emojione data is MIT-licensed, its artwork (not included) CC BY 4.0: testdata/emojione-2.2.5/LICENSE.md.
//
// One line per emoji, ordered by file, tab-separated: file (emojione's unicode value), emojione's
// unicode_alternates, its shortname and aliases, the extra names, its aliases_ascii; lists space-separated.
const setData = "" +
`)
	for _, e := range set {
		line := strings.Join([]string{e.file, e.alt, strings.Join(e.names, " "), strings.Join(e.extra, " "),
			strings.Join(e.ascii, " ")}, "\t")
		fmt.Fprintf(&b, "\t%s +\n", strconv.Quote(line+"\n"))
	}
	b.WriteString("\t\"\"\n")
	return b.Bytes()
}
