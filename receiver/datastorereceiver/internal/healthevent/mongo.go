package healthevent

import (
	"encoding/binary"
	"iter"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
	"go.opentelemetry.io/collector/pdata/plog"
)

// FromMongo decodes one document of the HealthEvents collection (a change
// event's fullDocument, or a document a query returned) into lr, which should
// be empty. The event's CloudEvent id is the hex of its _id. On error lr
// holds a partial record and should be discarded; the error is an *Error.
//
// NVSentinel writes the document with the driver's default codec:
//
//	{_id: ObjectId, createdAt: DateTime, healthevent: {...}, healtheventstatus: {...}}
//
// with lowercase names inside healthevent, every field present, null for
// empty lists, maps and messages, integers as int32 or int64, and
// generatedtimestamp as {seconds: int64, nanos: int32}. null is read as the
// zero value, as the driver reads it.
func (d *Decoder) FromMongo(doc bson.Raw, lr plog.LogRecord) error {
	if err := doc.Validate(); err != nil {
		return errorf(ReasonNotDocument, "document is not valid BSON: %v", err)
	}
	e := &d.ev
	e.reset()
	var id string
	var he bson.Raw
	var found bool
	var buf [32]byte
	for key, v := range elements(doc) {
		switch string(fold(&buf, key)) {
		case "_id":
			if oid, ok := v.ObjectIDOK(); ok {
				id = oid.Hex()
			} else if id, ok = v.StringValueOK(); !ok {
				return errorf(ReasonBadField, "_id: not an ObjectId or a string")
			}
		case "createdat":
			// Only the fallback time: one of another type is left out.
			if t, ok := v.TimeOK(); ok && !t.IsZero() {
				e.created, e.hasCreated = t, true
			}
		case "healthevent":
			he, found = v.DocumentOK()
		}
	}
	if !found {
		return errorf(ReasonNotHealthEvent, "document has no healthevent document")
	}
	for key, v := range elements(he) {
		if err := d.bsonField(lookupField(key), v); err != nil {
			return err
		}
	}
	e.sortMetadata()
	return d.write(id, lr)
}

// elements yields the key and value of each element of a document (an
// array is a document keyed "0", "1", ...) in place, where Raw.Elements
// would copy them into a new slice. It stops at the first malformed element,
// which cannot occur in a document Validate has accepted.
func elements[S ~[]byte](doc S) iter.Seq2[[]byte, bson.RawValue] {
	return func(yield func([]byte, bson.RawValue) bool) {
		if len(doc) < 5 {
			return
		}
		n := binary.LittleEndian.Uint32(doc)
		if n < 5 || uint64(n) > uint64(len(doc)) {
			return
		}
		rest := []byte(doc[4 : n-1])
		for len(rest) > 0 {
			el, next, ok := bsoncore.ReadElement(rest)
			if !ok {
				return
			}
			v, err := el.ValueErr()
			if err != nil {
				return
			}
			if !yield(el.KeyBytes(), bson.RawValue{Type: bson.Type(v.Type), Value: v.Data}) {
				return
			}
			rest = next
		}
	}
}

// bsonField stores one element of healthevent in d.ev.
func (d *Decoder) bsonField(f field, v bson.RawValue) error {
	e := &d.ev
	if v.Type == bson.TypeNull || v.Type == bson.TypeUndefined {
		return nil
	}
	switch f {
	case fVersion:
		n, ok := bsonInt(v)
		if !ok || n < 0 || n > math.MaxUint32 {
			return badType(f.String(), "a uint32")
		}
		e.version = n
	case fAgent:
		return bsonStr(f, v, &e.agent)
	case fComponentClass:
		return bsonStr(f, v, &e.componentClass)
	case fCheckName:
		return bsonStr(f, v, &e.checkName)
	case fMessage:
		return bsonStr(f, v, &e.message)
	case fNodeName:
		return bsonStr(f, v, &e.nodeName)
	case fCustomRecommendedAction:
		return bsonStr(f, v, &e.customAction)
	case fIsFatal:
		return bsonBool(f, v, &e.isFatal)
	case fIsHealthy:
		return bsonBool(f, v, &e.isHealthy)
	case fRecommendedAction, fProcessingStrategy:
		if s, ok := v.StringValueOK(); ok {
			return e.setEnumName(f, s)
		}
		n, ok := bsonInt(v)
		if !ok {
			return badType(f.String(), "an enum number or name")
		}
		return e.setEnum(f, n)
	case fErrorCode:
		return bsonErrorCode(e, v)
	case fEntitiesImpacted:
		return bsonEntities(e, v)
	case fMetadata:
		m, ok := v.DocumentOK()
		if !ok {
			return badType(f.String(), "a document")
		}
		for key, s := range elements(m) {
			var value string
			if err := bsonStr(f, s, &value); err != nil {
				return err
			}
			e.metadata = append(e.metadata, pair{string(key), value})
		}
	case fGeneratedTimestamp:
		return bsonTimestamp(e, v)
	case fQuarantineOverrides:
		return bsonOverrides(f, v, &e.quarantine)
	case fDrainOverrides:
		return bsonOverrides(f, v, &e.drain)
	}
	return nil
}

func bsonErrorCode(e *event, v bson.RawValue) error {
	arr, ok := v.ArrayOK()
	if !ok {
		return badType(fErrorCode.String(), "a list of strings")
	}
	for _, c := range elements(arr) {
		var s string
		if err := bsonStr(fErrorCode, c, &s); err != nil {
			return badType(fErrorCode.String(), "a list of strings")
		}
		e.errorCode = append(e.errorCode, s)
	}
	return nil
}

func bsonEntities(e *event, v bson.RawValue) error {
	arr, ok := v.ArrayOK()
	if !ok {
		return badType(fEntitiesImpacted.String(), "a list of entities")
	}
	var buf [32]byte
	for _, item := range elements(arr) {
		doc, ok := item.DocumentOK()
		if !ok {
			return badType(fEntitiesImpacted.String(), "a list of entities")
		}
		var en entity
		for key, s := range elements(doc) {
			var dst *string
			switch string(fold(&buf, key)) {
			case "entitytype":
				dst = &en.typ
			case "entityvalue":
				dst = &en.value
			default:
				continue
			}
			if err := bsonStr(fEntitiesImpacted, s, dst); err != nil {
				return badType(fEntitiesImpacted.String(), "a list of entities with string members")
			}
		}
		e.entities = append(e.entities, en)
	}
	return nil
}

// bsonTimestamp reads {seconds, nanos} (a protobuf Timestamp by the default
// codec), and also a DateTime or an RFC 3339 string.
func bsonTimestamp(e *event, v bson.RawValue) error {
	switch v.Type {
	case bson.TypeDateTime:
		t, _ := v.TimeOK()
		return e.setTimestamp(t.Unix(), int64(t.Nanosecond()))
	case bson.TypeString:
		s, _ := v.StringValueOK()
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return badType(fGeneratedTimestamp.String(), "an RFC 3339 time")
		}
		return e.setTimestamp(t.Unix(), int64(t.Nanosecond()))
	case bson.TypeEmbeddedDocument:
		doc, _ := v.DocumentOK()
		var seconds, nanos int64
		var buf [32]byte
		for key, n := range elements(doc) {
			var dst *int64
			switch string(fold(&buf, key)) {
			case "seconds":
				dst = &seconds
			case "nanos":
				dst = &nanos
			default:
				continue
			}
			if n.Type == bson.TypeNull {
				continue
			}
			i, ok := bsonInt(n)
			if !ok {
				return badType(fGeneratedTimestamp.String(), "a {seconds, nanos} document of integers")
			}
			*dst = i
		}
		return e.setTimestamp(seconds, nanos)
	}
	return badType(fGeneratedTimestamp.String(), "a {seconds, nanos} document")
}

// bsonOverrides reads a BehaviourOverrides document; elements left out are false.
func bsonOverrides(f field, v bson.RawValue, o *overrides) error {
	doc, ok := v.DocumentOK()
	if !ok {
		return badType(f.String(), "a {force, skip} document")
	}
	*o = overrides{set: true}
	var buf [32]byte
	for key, b := range elements(doc) {
		switch string(fold(&buf, key)) {
		case "force":
			if err := bsonBool(f, b, &o.force); err != nil {
				return err
			}
		case "skip":
			if err := bsonBool(f, b, &o.skip); err != nil {
				return err
			}
		}
	}
	return nil
}

func bsonStr(f field, v bson.RawValue, dst *string) error {
	if v.Type == bson.TypeNull {
		return nil
	}
	s, ok := v.StringValueOK()
	if !ok {
		return badType(f.String(), "a string")
	}
	*dst = s
	return nil
}

func bsonBool(f field, v bson.RawValue, dst *bool) error {
	if v.Type == bson.TypeNull {
		return nil
	}
	b, ok := v.BooleanOK()
	if !ok {
		return badType(f.String(), "a boolean")
	}
	*dst = b
	return nil
}

// bsonInt reads an integer of any BSON number type (the codec writes uint32
// as int64, enums as int32; other writers may use a double).
func bsonInt(v bson.RawValue) (int64, bool) {
	switch v.Type {
	case bson.TypeInt32:
		n, ok := v.Int32OK()
		return int64(n), ok
	case bson.TypeInt64:
		return v.Int64OK()
	case bson.TypeDouble:
		f, ok := v.DoubleOK()
		if !ok {
			return 0, false
		}
		return floatInt(f)
	}
	return 0, false
}
