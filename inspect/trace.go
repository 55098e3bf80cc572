package inspect

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// traceTime is how a trace writes times: UTC, to the millisecond.
const traceTime = "2006-01-02T15:04:05.000Z07:00"

// trace writes the packet rec to Options.Trace, masked as the page shows it; r.mu is held, so that the
// blocks come in the order of their ids and a packet's notes are the ones it had when it was recorded.
func (r *Recorder) trace(rec *record) {
	var b strings.Builder
	writeTrace(&b, r.view(rec))
	_, _ = io.WriteString(r.opt.Trace, b.String())
}

// writeTrace formats one packet for a person: a head line (direction, id, time, command, connector and
// line, the signature's verdict, the answer's code, the duration), then the URL, each field in order, DATA
// decoded as JSON, the answer and the notes, indented.
func writeTrace(b *strings.Builder, d detailView) {
	arrow := "<--"
	if d.Direction == Out {
		arrow = "-->"
	}
	fmt.Fprintf(b, "%s %s #%d %s %s", arrow, d.Direction, d.ID, d.Time.UTC().Format(traceTime), d.Command)
	if d.Connector != "" || d.Line != "" {
		fmt.Fprintf(b, " connector=%s line=%s", orDash(d.Connector), orDash(d.Line))
	}
	fmt.Fprintf(b, " %s %s %s\n", d.Signature, orDash(d.Code), formatMS(d.DurationMS))

	method := d.Method
	if method == "" {
		method = "POST"
	}
	rows := [][2]string{{"url", method + " " + d.URL}}
	for _, f := range d.Fields {
		rows = append(rows, [2]string{f.Name, f.Value})
	}
	switch {
	case d.Data != nil:
		rows = append(rows, [2]string{"data", string(d.Data)})
	case d.DataError != "":
		rows = append(rows, [2]string{"data", "not decoded: " + d.DataError})
	}
	if d.Body != "" {
		rows = append(rows, [2]string{"body", d.Body})
	}
	if d.Truncated {
		rows = append(rows, [2]string{"body", "over the recorder's limit: not read"})
	}
	switch {
	case d.Detail != "":
		rows = append(rows, [2]string{"answer", "none: " + d.Detail})
	case d.Status != 0:
		rows = append(rows, [2]string{"answer", "HTTP " + strconv.Itoa(d.Status) + " " + d.Answer})
	}
	for _, n := range d.Notes {
		rows = append(rows, [2]string{"note", noteText(n)})
	}
	width := 0
	for _, row := range rows {
		width = max(width, len(row[0]))
	}
	for _, row := range rows {
		fmt.Fprintf(b, "    %-*s  %s\n", width, row[0], oneLine(row[1]))
	}
}

// noteText is a note on one line: its item, attempt, result, event and detail.
func noteText(n Note) string {
	parts := []string{}
	if n.Item >= 0 {
		parts = append(parts, "item "+strconv.Itoa(n.Item))
	}
	if n.ItemID != 0 {
		parts = append(parts, "id "+strconv.FormatInt(n.ItemID, 10))
	}
	if n.Attempt != 0 {
		parts = append(parts, "attempt "+strconv.Itoa(n.Attempt))
	}
	parts = append(parts, n.Result)
	if n.Event != "" {
		parts = append(parts, n.Event)
	}
	s := strings.Join(parts, " ")
	if n.Detail != "" {
		s += ": " + n.Detail
	}
	return s
}

func formatMS(ms float64) string {
	return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a value on its line: line breaks become spaces.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
