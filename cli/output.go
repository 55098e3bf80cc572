package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// Table is tabular output: a header and rows of cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// Append adds a row.
func (t *Table) Append(cells ...string) { t.Rows = append(t.Rows, cells) }

// writeTable writes t on ios.Out: for people on a terminal, a tablewriter table fitted to the terminal's
// width (ios.Width, else 80 columns) by wrapping its cells (a cell's own lines kept); else as stable plain text, the header and one line
// per row, cells separated by tabs, tabs and newlines inside cells turned into spaces.
func writeTable(ios IO, t *Table) error {
	w := ios.Out
	if !ios.OutTTY {
		var b strings.Builder
		writeTSVLine(&b, t.Header)
		for _, r := range t.Rows {
			writeTSVLine(&b, r)
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	clean := &Table{Header: t.Header, Rows: make([][]string, len(t.Rows))}
	for i, r := range t.Rows {
		row := make([]string, len(r))
		for j, c := range r {
			row[j] = ttyReplacer.Replace(c)
		}
		clean.Rows[i] = row
	}
	fitted := fitTable(clean, ios.Width)
	tw := tablewriter.NewTable(w, tablewriter.WithRowAutoWrap(twNoWrap), tablewriter.WithHeaderAutoWrap(twNoWrap))
	header := make([]any, len(fitted.Header))
	for i, h := range fitted.Header {
		header[i] = h
	}
	tw.Header(header...)
	for _, r := range fitted.Rows {
		row := make([]any, len(r))
		for i, c := range r {
			row[i] = c
		}
		if err := tw.Append(row...); err != nil {
			return err
		}
	}
	return tw.Render()
}

// twNoWrap leaves the wrapping to fitTable.
const twNoWrap = tw.WrapNone

var (
	tsvReplacer = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")
	ttyReplacer = strings.NewReplacer("\t", " ", "\r\n", "\n", "\r", "\n") // a cell's lines stay lines on a terminal
)

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
	ios  IO
	json bool
}

// newPrinter returns the printer of cfg's output format on ios.Out.
func newPrinter(ios IO, cfg *Config) printer {
	return printer{ios: ios, json: cfg.JSON()}
}

// print writes data as JSON, or the table tbl builds.
func (p printer) print(data any, tbl func() *Table) error {
	if p.json {
		return writeJSON(p.ios.Out, data)
	}
	return writeTable(p.ios, tbl())
}
