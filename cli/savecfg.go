package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// saveConfig sets keys (key, value pairs, in order) in the YAML config file at path, keeping its other keys,
// their order and its comments, and writes it with mode 0600 (it holds a licence key), its directory made
// 0700 when missing. The file is replaced whole (written beside it, then renamed), so a reader never sees
// half of it.
func saveConfig(path string, keys [][2]string) error {
	if ext := strings.ToLower(filepath.Ext(path)); ext != "" && ext != ".yaml" && ext != ".yml" {
		return fmt.Errorf("%s is not a YAML file: --save writes YAML", path)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(bytes.TrimSpace(b)) > 0:
		if err := yaml.Unmarshal(b, doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(doc.Content) == 0 {
		doc.Content = []*yaml.Node{{Kind: yaml.MappingNode}}
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: not a mapping of keys", path)
	}
	for _, kv := range keys {
		setYAMLKey(m, kv[0], kv[1])
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(out.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// setYAMLKey sets key of mapping m to the string value, in place (with its comments) when it is there, else
// at the end.
func setYAMLKey(m *yaml.Node, key, value string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1] // its comments stay
			v.Kind, v.Tag, v.Value, v.Style, v.Content, v.Alias = yaml.ScalarNode, "!!str", value, 0, nil, nil
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}
