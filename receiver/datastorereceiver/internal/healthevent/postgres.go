package healthevent

import (
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsonpdata"
)

// FromPostgres decodes the document of one health_events row into lr, which
// should be empty. id is the row's id (the event's CloudEvent id), createdAt
// its created_at, the time of last resort when the document has neither
// generatedTimestamp nor createdAt. On error lr holds a partial record and
// should be discarded; the error is an *Error.
//
// NVSentinel writes the document with encoding/json:
//
//	{"createdAt": RFC 3339, "healthevent": {...}, "healtheventstatus": {...}}
//
// with the protobuf's camelCase names inside healthevent, zero values left
// out, enums as numbers (names, as protojson writes them, are accepted too)
// and generatedTimestamp as {"seconds": N, "nanos": N} (or an RFC 3339
// string). null is read as the zero value, as encoding/json reads it.
func (d *Decoder) FromPostgres(id string, createdAt time.Time, document []byte, lr plog.LogRecord) error {
	root, err := d.parser.Parse(document)
	if err != nil {
		return errorf(ReasonNotDocument, "document is not JSON: %v", err)
	}
	if root.Kind() != jsonpdata.Object {
		return errorf(ReasonNotDocument, "document is not a JSON object")
	}
	e := &d.ev
	e.reset()
	var he jsonpdata.Node
	var found bool
	var buf [32]byte
	for name, v := range root.Members() {
		switch string(fold(&buf, name)) {
		case "healthevent":
			he, found = v, true
		case "createdat":
			// Only the fallback time: one that does not parse is left out
			// rather than failing an otherwise good event.
			if v.Kind() == jsonpdata.String {
				if t, err := time.Parse(time.RFC3339Nano, v.Str()); err == nil && !t.IsZero() {
					e.created, e.hasCreated = t, true
				}
			}
		}
	}
	if !found || he.Kind() != jsonpdata.Object {
		return errorf(ReasonNotHealthEvent, "document has no healthevent object")
	}
	if !e.hasCreated && !createdAt.IsZero() {
		e.created, e.hasCreated = createdAt, true
	}
	for name, v := range he.Members() {
		if err := d.jsonField(lookupField(name), v); err != nil {
			return err
		}
	}
	e.sortMetadata()
	return d.write(id, lr)
}

// jsonField stores one member of healthevent in d.ev.
func (d *Decoder) jsonField(f field, v jsonpdata.Node) error {
	e := &d.ev
	if v.Kind() == jsonpdata.Null {
		return nil
	}
	switch f {
	case fVersion:
		n, ok := jsonInt(v)
		if !ok || n < 0 || n > math.MaxUint32 {
			return badType(f.String(), "a uint32")
		}
		e.version = n
	case fAgent:
		return jsonStr(f, v, &e.agent)
	case fComponentClass:
		return jsonStr(f, v, &e.componentClass)
	case fCheckName:
		return jsonStr(f, v, &e.checkName)
	case fMessage:
		return jsonStr(f, v, &e.message)
	case fNodeName:
		return jsonStr(f, v, &e.nodeName)
	case fCustomRecommendedAction:
		return jsonStr(f, v, &e.customAction)
	case fIsFatal:
		return jsonBool(f, v, &e.isFatal)
	case fIsHealthy:
		return jsonBool(f, v, &e.isHealthy)
	case fRecommendedAction, fProcessingStrategy:
		if v.Kind() == jsonpdata.String {
			return e.setEnumName(f, v.Str())
		}
		n, ok := jsonInt(v)
		if !ok {
			return badType(f.String(), "an enum number or name")
		}
		return e.setEnum(f, n)
	case fErrorCode:
		return d.jsonErrorCode(v)
	case fEntitiesImpacted:
		return d.jsonEntities(v)
	case fMetadata:
		if v.Kind() != jsonpdata.Object {
			return badType(f.String(), "an object")
		}
		for k, s := range v.Members() {
			var value string
			if err := jsonStr(f, s, &value); err != nil {
				return err
			}
			e.metadata = append(e.metadata, pair{k, value})
		}
	case fGeneratedTimestamp:
		return jsonTimestamp(e, v)
	case fQuarantineOverrides:
		return jsonOverrides(f, v, &e.quarantine)
	case fDrainOverrides:
		return jsonOverrides(f, v, &e.drain)
	}
	return nil
}

// jsonErrorCode reads a list of strings. jsonpdata walks arrays only by
// building them, so the list is built in scratch space and read from there.
func (d *Decoder) jsonErrorCode(v jsonpdata.Node) error {
	if v.Kind() != jsonpdata.Array {
		return badType(fErrorCode.String(), "a list of strings")
	}
	for _, c := range d.array(v).All() {
		switch c.Type() {
		case pcommon.ValueTypeStr:
			d.ev.errorCode = append(d.ev.errorCode, c.Str())
		case pcommon.ValueTypeEmpty: // null
			d.ev.errorCode = append(d.ev.errorCode, "")
		default:
			return badType(fErrorCode.String(), "a list of strings")
		}
	}
	return nil
}

// array builds a JSON array in the decoder's scratch value and returns it.
func (d *Decoder) array(v jsonpdata.Node) pcommon.Slice {
	if !d.hasScratch {
		d.scratch, d.hasScratch = pcommon.NewValueEmpty(), true
	}
	v.CopyTo(d.scratch)
	return d.scratch.Slice()
}

// jsonEntities reads a list of {entityType, entityValue} objects.
func (d *Decoder) jsonEntities(v jsonpdata.Node) error {
	if v.Kind() != jsonpdata.Array {
		return badType(fEntitiesImpacted.String(), "a list of entities")
	}
	var buf [32]byte
	for _, el := range d.array(v).All() {
		if el.Type() != pcommon.ValueTypeMap {
			return badType(fEntitiesImpacted.String(), "a list of entities")
		}
		var en entity
		for k, s := range el.Map().All() {
			var dst *string
			switch string(fold(&buf, k)) {
			case "entitytype":
				dst = &en.typ
			case "entityvalue":
				dst = &en.value
			default:
				continue
			}
			switch s.Type() {
			case pcommon.ValueTypeStr:
				*dst = s.Str()
			case pcommon.ValueTypeEmpty:
			default:
				return badType(fEntitiesImpacted.String(), "a list of entities with string members")
			}
		}
		d.ev.entities = append(d.ev.entities, en)
	}
	return nil
}

// jsonTimestamp reads {"seconds": N, "nanos": N} (encoding/json of a
// protobuf Timestamp) or an RFC 3339 string (protojson's form).
func jsonTimestamp(e *event, v jsonpdata.Node) error {
	switch v.Kind() {
	case jsonpdata.String:
		t, err := time.Parse(time.RFC3339Nano, v.Str())
		if err != nil {
			return badType(fGeneratedTimestamp.String(), "an RFC 3339 time")
		}
		return e.setTimestamp(t.Unix(), int64(t.Nanosecond()))
	case jsonpdata.Object:
		var seconds, nanos int64
		var buf [32]byte
		for k, n := range v.Members() {
			var dst *int64
			switch string(fold(&buf, k)) {
			case "seconds":
				dst = &seconds
			case "nanos":
				dst = &nanos
			default:
				continue
			}
			if n.Kind() == jsonpdata.Null {
				continue
			}
			i, ok := jsonInt(n)
			if !ok {
				return badType(fGeneratedTimestamp.String(), "a {seconds, nanos} object of integers")
			}
			*dst = i
		}
		return e.setTimestamp(seconds, nanos)
	}
	return badType(fGeneratedTimestamp.String(), "a {seconds, nanos} object or an RFC 3339 time")
}

// jsonOverrides reads a BehaviourOverrides object; members left out are false.
func jsonOverrides(f field, v jsonpdata.Node, o *overrides) error {
	if v.Kind() != jsonpdata.Object {
		return badType(f.String(), "a {force, skip} object")
	}
	*o = overrides{set: true}
	var buf [32]byte
	for k, b := range v.Members() {
		switch string(fold(&buf, k)) {
		case "force":
			if err := jsonBool(f, b, &o.force); err != nil {
				return err
			}
		case "skip":
			if err := jsonBool(f, b, &o.skip); err != nil {
				return err
			}
		}
	}
	return nil
}

func jsonStr(f field, v jsonpdata.Node, dst *string) error {
	switch v.Kind() {
	case jsonpdata.String:
		*dst = v.Str()
	case jsonpdata.Null:
	default:
		return badType(f.String(), "a string")
	}
	return nil
}

func jsonBool(f field, v jsonpdata.Node, dst *bool) error {
	switch v.Kind() {
	case jsonpdata.Bool:
		*dst = v.Text() == "true"
	case jsonpdata.Null:
	default:
		return badType(f.String(), "a boolean")
	}
	return nil
}

// jsonInt reads an integer, also one written as a number with a zero
// fraction or an exponent (a float64 on its way through a Go map).
func jsonInt(v jsonpdata.Node) (int64, bool) {
	if v.Kind() != jsonpdata.Number {
		return 0, false
	}
	if v.IsInteger() {
		n, err := strconv.ParseInt(v.Text(), 10, 64)
		return n, err == nil
	}
	f, err := strconv.ParseFloat(v.Text(), 64)
	if err != nil {
		return 0, false
	}
	return floatInt(f)
}

// floatInt returns f as an int64 if it is one.
func floatInt(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}
