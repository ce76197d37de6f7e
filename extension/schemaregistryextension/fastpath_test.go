package schemaregistryextension

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/courier-otel/courier/internal/jsonpdata"
)

// keywordSchema uses every keyword the fast path evaluates, and a few it
// leaves to the library.
const keywordSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "schemaMeta": {"clientName": "kw", "schemaVersion": "1"},
  "definitions": {
    "pos": {"type": "number", "minimum": 0},
    "tree": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/definitions/tree"}}}},
    "events": {
      "all": {
        "type": "object",
        "required": ["s"],
        "minProperties": 1,
        "maxProperties": 20,
        "additionalProperties": false,
        "properties": {
          "s": {"type": "string", "minLength": 2, "maxLength": 8, "pattern": "^[a-zé]+$"},
          "e": {"enum": ["a", 1, 2.5, true, null, [1], {"a": 1}]},
          "c": {"const": 0.1},
          "i": {"type": "integer", "minimum": -5, "exclusiveMaximum": 100, "multipleOf": 5},
          "n": {"type": ["number", "null"], "exclusiveMinimum": 0.1, "maximum": 1e3},
          "big": {"type": "number", "maximum": 9007199254740993},
          "f": {"type": "string", "format": "date-time"},
          "u": {"type": "array", "uniqueItems": true, "maxItems": 5, "items": {"type": ["string", "number", "boolean", "null", "object"]}},
          "t": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false},
          "t2": {"type": "array", "items": [{"type": "integer"}], "additionalItems": {"type": "boolean"}},
          "o": {"type": "object", "patternProperties": {"^x_": {"type": "integer"}}, "additionalProperties": {"type": "string"}},
          "r": {"$ref": "#/definitions/pos"},
          "not": {"not": {"type": "string"}},
          "any": {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 10}]},
          "one": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]},
          "all": {"allOf": [{"type": "number"}, {"maximum": 5}]},
          "cond": {"if": {"type": "string"}, "then": {"minLength": 3}, "else": {"type": "integer"}},
          "tree": {"$ref": "#/definitions/tree"},
          "yes": true,
          "no": false,
          "half": {"multipleOf": 0.5},
          "dep": {"type": "object", "dependencies": {"a": ["b"]}},
          "cont": {"type": "array", "contains": {"type": "integer"}}
        }
      }
    }
  }
}`

// Instances of keywordSchema; sure marks those the fast path must decide.
var keywordCases = []struct {
	data string
	sure bool
}{
	{`{"s": "ab"}`, true},
	{`{"s": "abcdefgh"}`, true},
	{`{"s": "abcdefghi"}`, true},
	{`{"s": "a"}`, true},
	{`{"s": "éé"}`, true},
	{`{"s": "AB"}`, true},
	{`{"s": 12}`, true},
	{`{}`, true},
	{`{"s": "ab", "zz": 1}`, true},
	{`{"s": "ab", "e": "a"}`, true},
	{`{"s": "ab", "e": "b"}`, true},
	{`{"s": "ab", "e": 1}`, true},
	{`{"s": "ab", "e": 1.0}`, true},
	{`{"s": "ab", "e": 2.5}`, true},
	{`{"s": "ab", "e": 2.50}`, true},
	{`{"s": "ab", "e": true}`, true},
	{`{"s": "ab", "e": false}`, true},
	{`{"s": "ab", "e": null}`, true},
	{`{"s": "ab", "e": [1]}`, false},
	{`{"s": "ab", "c": 0.1}`, true},
	{`{"s": "ab", "c": 0.10}`, true},
	{`{"s": "ab", "c": 0.1000000000000001}`, true},
	{`{"s": "ab", "c": 1}`, true},
	{`{"s": "ab", "i": 95}`, true},
	{`{"s": "ab", "i": 100}`, true},
	{`{"s": "ab", "i": -5}`, true},
	{`{"s": "ab", "i": -10}`, true},
	{`{"s": "ab", "i": 7}`, true},
	{`{"s": "ab", "i": 10.0}`, true},
	{`{"s": "ab", "i": 10.5}`, true},
	{`{"s": "ab", "i": 1e2}`, true},
	{`{"s": "ab", "n": 0.1}`, true},
	{`{"s": "ab", "n": 0.10000000000000002}`, true},
	{`{"s": "ab", "n": 1000}`, true},
	{`{"s": "ab", "n": 1000.0000000000001}`, true},
	{`{"s": "ab", "n": null}`, true},
	{`{"s": "ab", "n": "1"}`, true},
	{`{"s": "ab", "big": 9007199254740993}`, true},
	{`{"s": "ab", "big": 9007199254740994}`, true},
	{`{"s": "ab", "big": 9007199254740992.0}`, true},
	{`{"s": "ab", "big": 9007199254740994.0}`, true},
	{`{"s": "ab", "big": 18446744073709551616}`, false},
	{`{"s": "ab", "f": "2026-07-14T10:30:00.123456Z"}`, true},
	{`{"s": "ab", "f": "2026-07-14 10:30:00"}`, true},
	{`{"s": "ab", "f": 5}`, true},
	{`{"s": "ab", "u": ["a", "b", 1, 1.5, true, null]}`, true},
	{`{"s": "ab", "u": ["a", "a"]}`, true},
	{`{"s": "ab", "u": [1, 1.0]}`, true},
	{`{"s": "ab", "u": [1, 2]}`, true},
	{`{"s": "ab", "u": [true, false, null]}`, true},
	{`{"s": "ab", "u": [{"a": 1}, {"a": 1}]}`, false},
	{`{"s": "ab", "t": ["a", 1]}`, true},
	{`{"s": "ab", "t": ["a"]}`, true},
	{`{"s": "ab", "t": ["a", 1, 2]}`, true},
	{`{"s": "ab", "t": [1, "a"]}`, true},
	{`{"s": "ab", "t2": [1, true, false]}`, true},
	{`{"s": "ab", "t2": [1, true, 1]}`, true},
	{`{"s": "ab", "o": {"x_a": 1, "b": "c"}}`, true},
	{`{"s": "ab", "o": {"x_a": "1"}}`, true},
	{`{"s": "ab", "o": {"b": 1}}`, true},
	{`{"s": "ab", "r": 3}`, true},
	{`{"s": "ab", "r": -3}`, true},
	{`{"s": "ab", "not": 3}`, true},
	{`{"s": "ab", "not": "x"}`, true},
	{`{"s": "ab", "any": "x"}`, true},
	{`{"s": "ab", "any": 11}`, true},
	{`{"s": "ab", "any": 9}`, true},
	{`{"s": "ab", "one": -1}`, true},
	{`{"s": "ab", "one": 1}`, true},
	{`{"s": "ab", "one": 1.5}`, true},
	{`{"s": "ab", "one": -1.5}`, true},
	{`{"s": "ab", "all": 4}`, true},
	{`{"s": "ab", "all": 6}`, true},
	{`{"s": "ab", "cond": "abc"}`, true},
	{`{"s": "ab", "cond": "ab"}`, true},
	{`{"s": "ab", "cond": 3}`, true},
	{`{"s": "ab", "cond": 3.5}`, true},
	{`{"s": "ab", "tree": {"children": [{"children": []}, {}]}}`, true},
	{`{"s": "ab", "tree": {"children": [{"children": 1}]}}`, true},
	{`{"s": "ab", "yes": {"any": [1]}}`, true},
	{`{"s": "ab", "no": 1}`, true},
	{`{"s": "ab", "half": 1.5}`, false},
	{`{"s": "ab", "dep": {"a": 1}}`, false},
	{`{"s": "ab", "cont": [1]}`, false},
}

func compileKeywordSchema(t testing.TB) *EventSchema {
	t.Helper()
	events, err := compileDocument("kw.json", []byte(keywordSchema))
	require.NoError(t, err)
	require.Len(t, events, 1)
	return events[0]
}

// libraryVerdict is what jsonschema/v6 alone says.
func libraryVerdict(es *EventSchema, v pcommon.Value) verdict {
	if es.validator.Validate(jsonValue(v)) != nil {
		return vInvalid
	}
	return vValid
}

func decodeValue(t testing.TB, data string) pcommon.Value {
	t.Helper()
	v := pcommon.NewValueEmpty()
	require.NoError(t, jsonpdata.Decode([]byte(data), v))
	return v
}

func TestFastPathMatchesLibrary(t *testing.T) {
	es := compileKeywordSchema(t)
	for _, tc := range keywordCases {
		v := decodeValue(t, tc.data)
		fast := es.fast.validateFast(v)
		lib := libraryVerdict(es, v)
		if tc.sure {
			assert.NotEqual(t, vUnsure, fast, "fast path should decide %s", tc.data)
		}
		if fast != vUnsure {
			assert.Equal(t, lib, fast, "%s: library says %v, fast path %v", tc.data, lib, fast)
		}
		// Validate always agrees with the library.
		assert.Equal(t, lib == vValid, es.Validate(v) == nil, tc.data)
	}
}

func TestFastPathFixtureEvents(t *testing.T) {
	events := map[string]*EventSchema{}
	for _, f := range []string{isaacFile, exampleFile, kitFile} {
		list, err := compileDocument(f, fixture(t, f))
		require.NoError(t, err)
		for _, es := range list {
			events[es.Type] = es
		}
	}
	for _, line := range eventLines(t) {
		lr := event(t, line)
		es := events[lr.EventName()]
		require.NotNil(t, es, lr.EventName())
		assert.Equal(t, vValid, es.fast.validateFast(lr.Body()), "%s", line)
		assert.Equal(t, vValid, libraryVerdict(es, lr.Body()), "%s", line)
	}
}

func TestValidationError(t *testing.T) {
	es := compileKeywordSchema(t)
	err := es.Validate(decodeValue(t, `{"s": "ab", "o": {"x_a": "1"}}`))
	require.Error(t, err)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "/o/x_a", ve.Location)
	assert.Equal(t, "kw-1", ve.DataSchema)
	assert.Equal(t, "all", ve.Type)
	assert.Equal(t, "data at '/o/x_a': got string, want integer", err.Error())
	assert.NotNil(t, ve.Unwrap())

	// data absent or null is an empty object.
	assert.EqualError(t, es.Validate(pcommon.NewValueEmpty()), "data: minProperties: got 0, want 1")
}

// FuzzFastPath checks that whenever the fast path decides, the library
// agrees. The input is the data of an event of keywordSchema or of the
// Isaac Sim fixture.
func FuzzFastPath(f *testing.F) {
	for _, tc := range keywordCases {
		f.Add([]byte(tc.data))
	}
	b, err := readEventsFile()
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		lr := event(f, line)
		data, _ := jsonpdata.AppendValue(nil, lr.Body())
		f.Add(data)
	}
	schemas := []*EventSchema{compileKeywordSchema(f)}
	list, err := compileDocument(isaacFile, fixture(f, isaacFile))
	if err != nil {
		f.Fatal(err)
	}
	schemas = append(schemas, list...)
	f.Fuzz(func(t *testing.T, data []byte) {
		v := pcommon.NewValueEmpty()
		if jsonpdata.Decode(data, v) != nil {
			return
		}
		for _, es := range schemas {
			fast := es.fast.validateFast(v)
			if fast == vUnsure {
				continue
			}
			if lib := libraryVerdict(es, v); lib != fast {
				t.Fatalf("%s %s: library says %v, fast path %v", es.Type, data, lib, fast)
			}
		}
	})
}

// FuzzCompileDocument feeds schema documents to the compiler: it must skip
// bad ones with an error, never panic, and every event it accepts must
// validate without panicking.
func FuzzCompileDocument(f *testing.F) {
	for _, name := range []string{isaacFile, exampleFile, kitFile} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(keywordSchema))
	f.Add([]byte(brokenSchema("c", `"anyOf": [{"$ref": "#/definitions/events/missing"}],`, `{"type": "object"}`)))
	f.Add([]byte(brokenSchema("g", `"oldEventsThreshold": 7.5,`, `{"$ref": "#"}`)))
	f.Add([]byte(`{"schemaMeta": {"clientName": "x", "schemaVersion": "1"}, "definitions": {"events": {"e": {"items": {"$ref": "#/definitions/events/e"}}}}}`))
	data := decodeValue(f, `{"a": [1, 2.5, "x", null, {"b": true}], "s": "ab"}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		events, err := compileDocument("fuzz.json", b)
		if err != nil {
			return
		}
		for _, es := range events {
			_ = es.Validate(data)
			_ = es.Validate(pcommon.NewValueEmpty())
		}
	})
}

// A recursive schema with combinators would take the fast path exponential
// time; its budget hands such events to the library, which reports the
// cycle.
func TestFastPathBudget(t *testing.T) {
	events, err := compileDocument("cycle.json", []byte(`{"schemaMeta": {"clientName": "c", "schemaVersion": "1"},
		"definitions": {"events": {"e": {"anyOf": [
			{"type": "string"},
			{"allOf": [{"$ref": "#/definitions/events/e"}, {"$ref": "#/definitions/events/e"}]},
			{"anyOf": [{"$ref": "#/definitions/events/e"}, {"$ref": "#/definitions/events/e"}]}]}}}}`))
	require.NoError(t, err)
	v := decodeValue(t, `{"a": 1}`)
	assert.Equal(t, vUnsure, events[0].fast.validateFast(v))
	assert.Error(t, events[0].Validate(v))
}
