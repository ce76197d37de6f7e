package configtranslate

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// node is a YAML mapping built key by key, so the output keeps the order of
// a hand-written collector config and can carry comments that say where each
// value came from.
type node struct{ n *yaml.Node }

func newNode() node { return node{&yaml.Node{Kind: yaml.MappingNode}} }

// set appends key: value. value is a string, bool, int, int64, float64,
// []string (written inline) or node. comment, when not empty, ends the
// key's line.
func (m node) set(key string, value any, comment string) {
	k, v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, toYAML(value)
	if comment != "" {
		// yaml.v3 moves a key's line comment past an inline sequence.
		if v.Kind == yaml.SequenceNode {
			v.LineComment = "# " + comment
		} else {
			k.LineComment = "# " + comment
		}
	}
	m.n.Content = append(m.n.Content, k, v)
}

// child returns the mapping under key, adding it empty if needed.
func (m node) child(key string) node {
	for i := 0; i < len(m.n.Content); i += 2 {
		if m.n.Content[i].Value == key {
			return node{m.n.Content[i+1]}
		}
	}
	c := newNode()
	m.set(key, c, "")
	return c
}

// comment puts a comment above key (which must be set).
func (m node) comment(key, text string) {
	for i := 0; i < len(m.n.Content); i += 2 {
		if m.n.Content[i].Value == key {
			m.n.Content[i].HeadComment = commentLines(text)
			return
		}
	}
	panic("configtranslate: comment on a missing key " + key)
}

func (m node) empty() bool { return len(m.n.Content) == 0 }

func toYAML(v any) *yaml.Node {
	scalar := func(tag, s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s} }
	switch x := v.(type) {
	case node:
		return x.n
	case string:
		return scalar("!!str", x)
	case bool:
		return scalar("!!bool", strconv.FormatBool(x))
	case int:
		return scalar("!!int", strconv.Itoa(x))
	case int64:
		return scalar("!!int", strconv.FormatInt(x, 10))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return scalar("!!int", strconv.FormatInt(int64(x), 10)) // 2.0 reads better as 2
		}
		return scalar("!!float", strconv.FormatFloat(x, 'g', -1, 64))
	case []string:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, s := range x {
			seq.Content = append(seq.Content, scalar("!!str", s))
		}
		return seq
	}
	panic(fmt.Sprintf("configtranslate: no YAML form for %T", v))
}

// commentLines prefixes every line of text with "# ".
func commentLines(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight("# "+l, " ")
	}
	return strings.Join(lines, "\n")
}

// render writes the document with a header comment.
func render(header string, root node) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: commentLines(header), Content: []*yaml.Node{root.n}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	return buf.Bytes(), nil
}
