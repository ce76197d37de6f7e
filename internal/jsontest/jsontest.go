// Package jsontest compares JSON texts by value in tests: member order and
// white space aside, numbers compared as numbers without losing precision.
package jsontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
)

// Canonical decodes one JSON text into plain Go values in which numbers are
// int64 when they are integers that fit, float64 when they are other numbers
// that fit, and the string "n:<text>" otherwise, so that equal JSON values
// give reflect.DeepEqual results.
func Canonical(b []byte) (any, error) {
	if !json.Valid(b) {
		return nil, errors.New("not valid JSON")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return canonical(v), nil
}

func canonical(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = canonical(e)
		}
	case []any:
		for i, e := range t {
			t[i] = canonical(e)
		}
	case json.Number:
		return Number(string(t))
	}
	return v
}

// Number is the canonical form of a JSON number's text.
func Number(text string) any {
	if !strings.ContainsAny(text, ".eE") {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n
		}
		return "n:" + text
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return "n:" + text
	}
	return f
}

// Equal reports whether two JSON texts hold the same value.
func Equal(a, b []byte) (bool, error) {
	va, err := Canonical(a)
	if err != nil {
		return false, err
	}
	vb, err := Canonical(b)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(va, vb), nil
}
