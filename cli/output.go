package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
)

// Table is tabular output: a header and rows of cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// Append adds a row.
func (t *Table) Append(cells ...string) { t.Rows = append(t.Rows, cells) }

// writeTable writes t for people on a terminal (a tablewriter table) or, when tty is false, as stable plain
// text: the header and one line per row, cells separated by tabs, tabs and newlines inside cells turned into
// spaces.
func writeTable(w io.Writer, t *Table, tty bool) error {
	if !tty {
		var b strings.Builder
		writeTSVLine(&b, t.Header)
		for _, r := range t.Rows {
			writeTSVLine(&b, r)
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	tw := tablewriter.NewTable(w)
	header := make([]any, len(t.Header))
	for i, h := range t.Header {
		header[i] = h
	}
	tw.Header(header...)
	for _, r := range t.Rows {
		row := make([]any, len(r))
		for i, c := range r {
			row[i] = tsvReplacer.Replace(c)
		}
		if err := tw.Append(row...); err != nil {
			return err
		}
	}
	return tw.Render()
}

var tsvReplacer = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

func writeTSVLine(b *strings.Builder, cells []string) {
	for i, c := range cells {
		if i > 0 {
			b.WriteByte('\t')
		}
		b.WriteString(tsvReplacer.Replace(c))
	}
	b.WriteByte('\n')
}

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding JSON output: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// printer writes a command's result in the configured format.
type printer struct {
	out  io.Writer
	tty  bool
	json bool
}

// newPrinter returns the printer of cfg's output format on ios.Out.
func newPrinter(ios IO, cfg *Config) printer {
	return printer{out: ios.Out, tty: ios.OutTTY, json: cfg.JSON()}
}

// print writes data as JSON, or the table tbl builds.
func (p printer) print(data any, tbl func() *Table) error {
	if p.json {
		return writeJSON(p.out, data)
	}
	return writeTable(p.out, tbl(), p.tty)
}
