package cloudevent

import (
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsonpdata"
)

// NVDF type prefixes.
const (
	PrefixString    = "s_"
	PrefixInt       = "l_"
	PrefixFloat     = "d_"
	PrefixBool      = "b_"
	PrefixTimestamp = "ts_"
	PrefixObject    = "flat_"
)

// FieldTypes chooses the NVDF prefixes of the data members of one event
// type, for example PrefixTimestamp for a string its schema declares as a
// date-time. NVDFPrefix returns "" to keep the prefix of the value's JSON
// type.
type FieldTypes interface {
	NVDFPrefix(name string, v pcommon.Value) string
}

// NVDF is the flattened Omniverse NVDF line (SPEC.md B.6): id → _id, time →
// ts_created (epoch ms), specversion dropped, every other attribute and every
// data member under a type-prefixed name (type → s_type, session →
// s_session, …). Null members are omitted. A data member whose prefixed name
// is taken by the envelope is an error.
type NVDF struct {
	// Types, when set, returns the field types of an event (its schema), or
	// nil when it has none; it is called once per event.
	Types func(lr plog.LogRecord) FieldTypes
}

// AppendEvent appends lr as one NVDF object.
func (n NVDF) AppendEvent(dst []byte, lr plog.LogRecord) ([]byte, error) {
	start := len(dst)
	out, err := n.appendEvent(dst, lr)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

func (n NVDF) appendEvent(dst []byte, lr plog.LogRecord) ([]byte, error) {
	attrs := lr.Attributes()
	var h eventHead
	// Envelope keys written so far, to detect data members that collide.
	var envelope [16]envKey
	keys := envelope[:0]

	dst = append(dst, '{')
	id, ok := attrs.Get(AttrID)
	if !ok {
		return dst, h.missing(lr)
	}
	h.id = true
	dst = append(dst, `"_id":`...)
	dst = jsonpdata.AppendString(dst, id.AsString())
	keys = append(keys, envKey{"", "_id"})
	if ts := lr.Timestamp(); ts != 0 {
		dst = append(dst, `,"ts_created":`...)
		dst = strconv.AppendInt(dst, ts.AsTime().UnixMilli(), 10)
		keys = append(keys, envKey{"", "ts_created"})
	}
	for k, v := range attrs.All() {
		name, ok := MemberName(k)
		if !ok {
			continue
		}
		h.note(name)
		if name == "id" || name == "time" || name == "specversion" || v.Type() == pcommon.ValueTypeEmpty {
			continue
		}
		p, err := typePrefix(v)
		if err != nil {
			return dst, errorf(ReasonNotEncodable, err, "attribute %s: %v", name, err)
		}
		keys = append(keys, envKey{p, name})
		if dst, err = appendMember(dst, p, name, v); err != nil {
			return dst, errorf(ReasonNotEncodable, err, "attribute %s: %v", name, err)
		}
	}
	if err := h.missing(lr); err != nil {
		return dst, err
	}
	if !h.typ {
		dst = append(dst, `,"s_type":`...)
		dst = jsonpdata.AppendString(dst, lr.EventName())
		keys = append(keys, envKey{PrefixString, "type"})
	}

	switch body := lr.Body(); body.Type() {
	case pcommon.ValueTypeEmpty:
	case pcommon.ValueTypeMap:
		var types FieldTypes
		if n.Types != nil {
			types = n.Types(lr)
		}
		for name, v := range body.Map().All() {
			if v.Type() == pcommon.ValueTypeEmpty {
				continue
			}
			p := ""
			if types != nil {
				p = types.NVDFPrefix(name, v)
			}
			var err error
			if p == "" {
				if p, err = typePrefix(v); err != nil {
					return dst, errorf(ReasonNotEncodable, err, "data.%s: %v", name, err)
				}
			}
			for _, e := range keys {
				if e.is(p, name) {
					return dst, errorf(ReasonNotEncodable, nil, "data.%s: NVDF name %s%s collides with the envelope", name, p, name)
				}
			}
			if dst, err = appendMember(dst, p, name, v); err != nil {
				return dst, errorf(ReasonNotEncodable, err, "data.%s: %v", name, err)
			}
		}
	default:
		return dst, errorf(ReasonNotEncodable, nil, "NVDF needs data to be an object, not a %s", body.Type())
	}
	return append(dst, '}'), nil
}

// envKey is a member name written as prefix+name.
type envKey struct{ prefix, name string }

// is reports whether e and prefix+name are the same string.
func (e envKey) is(prefix, name string) bool {
	n := len(e.prefix)
	if n+len(e.name) != len(prefix)+len(name) {
		return false
	}
	full := func(i int) byte { // byte i of e.prefix+e.name
		if i < n {
			return e.prefix[i]
		}
		return e.name[i-n]
	}
	for i := 0; i < len(prefix); i++ {
		if full(i) != prefix[i] {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		if full(len(prefix)+i) != name[i] {
			return false
		}
	}
	return true
}

func appendMember(dst []byte, prefix, name string, v pcommon.Value) ([]byte, error) {
	dst = append(dst, ',')
	dst = jsonpdata.AppendKey(dst, prefix, name)
	dst = append(dst, ':')
	if prefix == PrefixTimestamp {
		return appendEpochMillis(dst, v)
	}
	return jsonpdata.AppendValue(dst, v)
}

// appendEpochMillis writes a timestamp member: RFC 3339 text or epoch
// milliseconds already, or an array of them.
func appendEpochMillis(dst []byte, v pcommon.Value) ([]byte, error) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case pcommon.ValueTypeStr:
		t, err := time.Parse(time.RFC3339Nano, v.Str())
		if err != nil {
			return dst, errorf(ReasonNotEncodable, err, "timestamp %q is not RFC 3339", v.Str())
		}
		return strconv.AppendInt(dst, t.UnixMilli(), 10), nil
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		dst = append(dst, '[')
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendEpochMillis(dst, s.At(i)); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case pcommon.ValueTypeEmpty:
		return append(dst, "null"...), nil
	}
	return dst, errorf(ReasonNotEncodable, nil, "a %s is not a timestamp", v.Type())
}

// typePrefix is the NVDF prefix of a value's JSON type. An array takes the
// prefix of its elements (integers and floats together make floats); empty
// arrays are strings; arrays mixing other types cannot be typed.
func typePrefix(v pcommon.Value) (string, error) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return PrefixString, nil
	case pcommon.ValueTypeInt:
		return PrefixInt, nil
	case pcommon.ValueTypeDouble:
		return PrefixFloat, nil
	case pcommon.ValueTypeBool:
		return PrefixBool, nil
	case pcommon.ValueTypeMap:
		return PrefixObject, nil
	case pcommon.ValueTypeBytes:
		if jsonpdata.IsNumber(v.Bytes().AsRaw()) {
			return PrefixFloat, nil // beyond int64: only a double holds it
		}
		return PrefixString, nil // written as base64
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		p := ""
		for i := 0; i < s.Len(); i++ {
			e := s.At(i)
			if e.Type() == pcommon.ValueTypeEmpty {
				continue
			}
			ep, err := typePrefix(e)
			if err != nil {
				return "", err
			}
			switch {
			case p == "" || p == ep:
				p = ep
			case (p == PrefixInt || p == PrefixFloat) && (ep == PrefixInt || ep == PrefixFloat):
				p = PrefixFloat
			default:
				return "", errorf(ReasonNotEncodable, nil, "array mixes %s and %s values", strings.TrimSuffix(p, "_"), strings.TrimSuffix(ep, "_"))
			}
		}
		if p == "" {
			p = PrefixString
		}
		return p, nil
	}
	return "", errorf(ReasonNotEncodable, nil, "no NVDF type for %s", v.Type())
}
