package sjson

import (
	"encoding/json"
	"fmt"
)

// A small scanner over well-formed JSON (PostgreSQL's jsonb output): it
// splits objects and arrays into their members without decoding them,
// which is most of the work of a document, instead of encoding/json's
// maps.

type member struct {
	key []byte // decoded
	val []byte
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just after the value starting at b[i].
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("unexpected end of JSON")
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, fmt.Errorf("unterminated string")
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := valueEnd(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unterminated object or array")
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' {
		j++
	}
	return j, nil
}

// unquote decodes a JSON string literal.
func unquote(raw []byte) (string, error) {
	b, err := unquoteBytes(raw)
	return string(b), err
}

// unquoteBytes decodes a JSON string literal; without escapes (nearly
// always) the result is raw's own bytes, not a copy.
func unquoteBytes(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, fmt.Errorf("not a string: %.20s", raw)
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' {
			var s string
			err := json.Unmarshal(raw, &s)
			return []byte(s), err
		}
	}
	return raw[1 : len(raw)-1], nil
}

// objectMembers splits a JSON object into its members.
func objectMembers(b []byte, out []member) ([]member, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, fmt.Errorf("not an object: %.20s", b)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, nil
	}
	for {
		end, err := valueEnd(b, i)
		if err != nil {
			return nil, err
		}
		key, err := unquoteBytes(b[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, fmt.Errorf("object key %q without a value", key)
		}
		i = skipSpace(b, i+1)
		end, err = valueEnd(b, i)
		if err != nil {
			return nil, err
		}
		out = append(out, member{key: key, val: b[i:end]})
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return out, nil
		}
		return nil, fmt.Errorf("malformed object")
	}
}

// arrayItems splits a JSON array into its items.
func arrayItems(b []byte, out [][]byte) ([][]byte, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, fmt.Errorf("not an array: %.20s", b)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, nil
	}
	for {
		end, err := valueEnd(b, i)
		if err != nil {
			return nil, err
		}
		out = append(out, b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return out, nil
		}
		return nil, fmt.Errorf("malformed array")
	}
}

func find(ms []member, key string) ([]byte, bool) {
	for _, m := range ms {
		if string(m.key) == key {
			return m.val, true
		}
	}
	return nil, false
}
