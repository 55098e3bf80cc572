package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// flattenJSON turns a JSON document into FIELD/VALUE rows, keeping the order of object keys as received:
// nested keys are joined with ".", list elements are indexed as [i]. Scalars are shown as JSON strings
// unquoted, numbers and booleans as written, null as "". An empty object or list is one row "{}"/"[]".
func flattenJSON(raw []byte) ([][]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var rows [][]string
	if err := flattenValue(dec, "", &rows); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, fmt.Errorf("reading DATA: %w", err)
	}
	return rows, nil
}

func flattenValue(dec *json.Decoder, path string, rows *[][]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	show := func(v string) {
		p := path
		if p == "" {
			p = "."
		}
		*rows = append(*rows, []string{p, v})
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := 0
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := kt.(string)
				sub := key
				if path != "" {
					sub = path + "." + key
				}
				if err := flattenValue(dec, sub, rows); err != nil {
					return err
				}
				n++
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			if n == 0 {
				show("{}")
			}
		case '[':
			n := 0
			for dec.More() {
				if err := flattenValue(dec, path+"["+strconv.Itoa(n)+"]", rows); err != nil {
					return err
				}
				n++
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			if n == 0 {
				show("[]")
			}
		}
	case string:
		show(t)
	case json.Number:
		show(t.String())
	case bool:
		show(strconv.FormatBool(t))
	case nil:
		show("")
	}
	return nil
}

// rawOrNull returns raw, or the JSON null when it is empty.
func rawOrNull(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null")
	}
	return raw
}
