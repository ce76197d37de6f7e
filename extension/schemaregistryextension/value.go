package schemaregistryextension

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/courier-otel/courier/internal/jsonpdata"
)

// emptyObject stands for absent or null data. The validator never writes
// to its input, so one shared map serves every call.
var emptyObject = map[string]any{}

// jsonValue converts a pcommon value into the Go value jsonschema validates:
// map[string]any, []any, string, bool, nil and numbers. It walks pcommon
// directly instead of encoding JSON and decoding it again. Integers become
// int64 and doubles float64, which the validator accepts next to the
// json.Number its own decoder produces; a number beyond int64 (kept by
// jsonpdata as its exact text in a Bytes value) becomes a json.Number so
// its value is checked exactly. Other bytes are base64 text, as they are on
// the wire.
func jsonValue(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return v.Double()
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeMap:
		m := v.Map()
		out := make(map[string]any, m.Len())
		for k, e := range m.All() {
			out[k] = jsonValue(e)
		}
		return out
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		out := make([]any, s.Len())
		for i := range out {
			out[i] = jsonValue(s.At(i))
		}
		return out
	case pcommon.ValueTypeBytes:
		b := v.Bytes().AsRaw()
		if jsonpdata.IsNumber(b) {
			return json.Number(b)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	return nil
}

// ValidationError is data that does not validate against its event
// definition. Its message is the first failing keyword, for example
// "data at '/fps': must be >= 0 but found -1"; Unwrap returns the
// validator's full report.
type ValidationError struct {
	DataSchema string
	Type       string
	Location   string // JSON pointer into data of the first failure ("" = data itself)
	Message    string // what is wrong there
	err        *jsonschema.ValidationError
}

func (e *ValidationError) Error() string {
	if e.Location == "" {
		return "data: " + e.Message
	}
	return "data at '" + e.Location + "': " + e.Message
}

func (e *ValidationError) Unwrap() error {
	if e.err == nil {
		return nil
	}
	return e.err
}

func newValidationError(es *EventSchema, err error) *ValidationError {
	ve := &ValidationError{DataSchema: es.DataSchema, Type: es.Type, Message: err.Error()}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return ve
	}
	ve.err = verr
	// The report is a tree; its first leaf is the first keyword that failed.
	leaf := verr
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	ve.Location = jsonPointer(leaf.InstanceLocation)
	ve.Message = leaf.ErrorKind.LocalizedString(printer)
	return ve
}

// jsonPointer joins instance location tokens into a JSON pointer.
func jsonPointer(tokens []string) string {
	if len(tokens) == 0 {
		return ""
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
