package cli

import (
	"strings"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// defaultWidth is the width tables are fitted to on a terminal of unknown size.
const defaultWidth = 80

// wordCap bounds the minimum a column keeps for its longest word: longer words are cut.
const wordCap = 24

// fitTable returns t with its cells wrapped (at spaces, else inside a word) so that the table drawn with
// borders and one space of padding each side is at most width columns wide (80 when width is 0). A table that
// fits is returned as it is.
func fitTable(t *Table, width int) *Table {
	if width <= 0 {
		width = defaultWidth
	}
	n := len(t.Header)
	for _, r := range t.Rows {
		n = max(n, len(r))
	}
	if n == 0 {
		return t
	}
	cols := make([]column, n)
	for i, h := range t.Header {
		cols[i].header = twwidth.Width(h)
		cols[i].natural = cols[i].header
	}
	for _, r := range t.Rows {
		for i, c := range r {
			for _, line := range strings.Split(c, "\n") {
				cols[i].natural = max(cols[i].natural, twwidth.Width(line))
				for _, word := range strings.Fields(line) {
					cols[i].word = max(cols[i].word, twwidth.Width(word))
				}
			}
		}
	}
	budget := width - (3*n + 1) // "│ " before each cell, " " after it, and the closing "│"
	limits := shareWidth(cols, budget)
	if limits == nil {
		return t
	}
	out := &Table{Header: t.Header, Rows: make([][]string, len(t.Rows))}
	for ri, r := range t.Rows {
		row := make([]string, len(r))
		for i, c := range r {
			row[i] = wrapCell(c, limits[i])
		}
		out.Rows[ri] = row
	}
	return out
}

// column is what fitTable measured of a column: its header's width (headers are not wrapped), its widest
// line and its longest word.
type column struct{ header, natural, word int }

// shareWidth returns the width of each column so that they sum to at most budget, or nil when the natural
// widths fit. Each column first gets its minimum: its header, and its longest word up to wordCap; what is
// left goes to the columns in proportion to how much wider they are than their minimum. When the minimums
// alone overflow the budget, they are the widths.
func shareWidth(cols []column, budget int) []int {
	total := 0
	for _, c := range cols {
		total += c.natural
	}
	if total <= budget {
		return nil
	}
	limits := make([]int, len(cols))
	used, excess := 0, 0
	for i, c := range cols {
		limits[i] = min(c.natural, max(c.header, min(c.word, wordCap), 1))
		used += limits[i]
		excess += c.natural - limits[i]
	}
	left := budget - used
	if left <= 0 || excess == 0 {
		return limits
	}
	given := 0
	for i, c := range cols {
		extra := left * (c.natural - limits[i]) / excess
		limits[i] += extra
		given += extra
	}
	for i := 0; given < left; i = (i + 1) % len(cols) { // the rounding's remainder, a column at a time
		if limits[i] < cols[i].natural {
			limits[i]++
			given++
		}
	}
	return limits
}

// wrapCell breaks each line of s into lines of at most limit columns, at spaces where it can and inside a
// word that is longer than limit.
func wrapCell(s string, limit int) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		out = append(out, wrapLine(line, limit)...)
	}
	return strings.Join(out, "\n")
}

func wrapLine(line string, limit int) []string {
	if twwidth.Width(line) <= limit {
		return []string{line}
	}
	var lines []string
	var cur strings.Builder
	curW := 0
	flush := func() {
		lines = append(lines, cur.String())
		cur.Reset()
		curW = 0
	}
	for _, word := range strings.Fields(line) {
		w := twwidth.Width(word)
		if curW > 0 && curW+1+w <= limit {
			cur.WriteByte(' ')
			cur.WriteString(word)
			curW += 1 + w
			continue
		}
		if curW > 0 {
			flush()
		}
		for w > limit { // a word longer than a line is cut
			head, hw := cutWidth(word, limit)
			lines = append(lines, head)
			word, w = word[len(head):], w-hw
		}
		cur.WriteString(word)
		curW = w
	}
	if curW > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

// cutWidth returns the longest prefix of s (whole runes, at least one) at most limit columns wide, and its
// width.
func cutWidth(s string, limit int) (string, int) {
	w := 0
	for i, r := range s {
		rw := twwidth.Width(string(r))
		if w+rw > limit && i > 0 {
			return s[:i], w
		}
		w += rw
	}
	return s, w
}
