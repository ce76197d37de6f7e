// Package healthevent turns one stored NVSentinel health event into one log
// record holding the CloudEvent NVSentinel's event-exporter sends for it
// (SPEC.md A.3), in Courier's CloudEvent model (pkg/cloudevent).
//
// Events are stored in two shapes: PostgreSQL keeps a JSON document (the
// protobuf's camelCase names, encoding/json's omitempty, enums as numbers),
// MongoDB a BSON document written by the driver's default codec (lowercase
// names, nulls for empty lists and messages). Each shape is read into one
// plain event value, and one writer builds the record from it, so both
// shapes give the same record for the same event.
//
// Field names are matched without regard to case, as NVSentinel's own readers
// (encoding/json, the BSON struct codec) match them; unknown fields are
// ignored, so newer documents still decode. A document that does not hold a
// usable health event gives an *Error with a stable Reason.
package healthevent

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsonpdata"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// Type is the CloudEvent type of health events.
const Type = "com.nvidia.nvsentinel.health.v1"

// Reasons a document is rejected. The strings are stable: they label metrics.
const (
	ReasonNotDocument    = "not_document"     // not a JSON object / not valid BSON
	ReasonNotHealthEvent = "not_health_event" // no healthevent object in it
	ReasonMissingField   = "missing_field"    // no id, or no time at all
	ReasonBadField       = "bad_field"        // a field of the wrong type or out of range
	ReasonUnknownEnum    = "unknown_enum"     // an enum value not in the table of SPEC.md A.1
)

// Error is a rejected document.
type Error struct {
	Reason string
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// ReasonOf returns the Reason of an error from this package, or "".
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func errorf(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// badType is the error of a field holding a value of the wrong type.
func badType(field, want string) *Error {
	return errorf(ReasonBadField, "healthevent.%s: not %s", field, want)
}

// Decoder decodes stored health events. It keeps scratch space between
// calls: use one per goroutine.
type Decoder struct {
	// Source is the CloudEvent source given to every event. Leave it empty
	// when an event_metadata processor renders the source: with its default
	// overwrite: false, that processor keeps a source the record already has.
	Source string

	ev         event
	parser     jsonpdata.Parser
	scratch    pcommon.Value // JSON arrays, see Decoder.array
	hasScratch bool
}

// event is one health event as the writer needs it, whatever its shape.
type event struct {
	version                  int64
	agent, componentClass    string
	checkName, message       string
	nodeName, customAction   string
	action, strategy         string // enum names
	isFatal, isHealthy       bool
	errorCode                []string
	entities                 []entity
	metadata                 []pair // sorted by key by sortMetadata
	quarantine, drain        overrides
	generated, created       time.Time // generatedTimestamp; the record's createdAt
	hasGenerated, hasCreated bool
}

type entity struct{ typ, value string }

type pair struct{ key, value string }

type overrides struct{ set, force, skip bool }

// reset makes e the event of an empty document (every field at its zero
// value, enums at the value numbered 0), keeping the capacity of its lists.
func (e *event) reset() {
	*e = event{action: "NONE", strategy: "UNSPECIFIED",
		errorCode: e.errorCode[:0], entities: e.entities[:0], metadata: e.metadata[:0]}
}

// sortMetadata orders the metadata by key, the last of equal keys winning.
// Both stores lose the order (JSONB sorts keys its own way, a Go map has
// none), so sorted is the one stable order; encoding/json, which wrote the
// upstream exporter's events, also sorts map keys.
func (e *event) sortMetadata() {
	slices.SortStableFunc(e.metadata, func(a, b pair) int { return strings.Compare(a.key, b.key) })
	out := e.metadata[:0]
	for i, p := range e.metadata {
		if i+1 < len(e.metadata) && e.metadata[i+1].key == p.key {
			continue
		}
		out = append(out, p)
	}
	e.metadata = out
}

// The fields of HealthEvent (SPEC.md A.1), by protobuf field number.
type field uint8

const (
	fUnknown field = iota
	fVersion
	fAgent
	fComponentClass
	fCheckName
	fIsFatal
	fIsHealthy
	fMessage
	fRecommendedAction
	fErrorCode
	fEntitiesImpacted
	fMetadata
	fGeneratedTimestamp
	fNodeName
	fQuarantineOverrides
	fDrainOverrides
	fProcessingStrategy
	fID
	fCustomRecommendedAction
)

// names are the JSON names of the fields, used in messages.
var names = [...]string{"", "version", "agent", "componentClass", "checkName", "isFatal", "isHealthy", "message",
	"recommendedAction", "errorCode", "entitiesImpacted", "metadata", "generatedTimestamp", "nodeName",
	"quarantineOverrides", "drainOverrides", "processingStrategy", "id", "customRecommendedAction"}

func (f field) String() string { return names[f] }

// lookupField returns the field of a key, matched without regard to case.
func lookupField[S string | []byte](key S) field {
	var buf [32]byte
	switch string(fold(&buf, key)) {
	case "version":
		return fVersion
	case "agent":
		return fAgent
	case "componentclass":
		return fComponentClass
	case "checkname":
		return fCheckName
	case "isfatal":
		return fIsFatal
	case "ishealthy":
		return fIsHealthy
	case "message":
		return fMessage
	case "recommendedaction":
		return fRecommendedAction
	case "errorcode":
		return fErrorCode
	case "entitiesimpacted":
		return fEntitiesImpacted
	case "metadata":
		return fMetadata
	case "generatedtimestamp":
		return fGeneratedTimestamp
	case "nodename":
		return fNodeName
	case "quarantineoverrides":
		return fQuarantineOverrides
	case "drainoverrides":
		return fDrainOverrides
	case "processingstrategy":
		return fProcessingStrategy
	case "id":
		return fID
	case "customrecommendedaction":
		return fCustomRecommendedAction
	}
	return fUnknown
}

// fold lowercases an ASCII key into buf so that a switch on it matches
// without regard to case (the conversion to string in a switch does not
// allocate). A key too long for buf matches nothing.
func fold[S string | []byte](buf *[32]byte, key S) []byte {
	if len(key) > len(buf) {
		return nil
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:len(key)]
}

// Enum values of SPEC.md A.1.
var (
	recommendedActions = []enumValue{{0, "NONE"}, {2, "COMPONENT_RESET"}, {5, "CONTACT_SUPPORT"},
		{6, "RUN_FIELDDIAG"}, {15, "RESTART_VM"}, {24, "RESTART_BM"}, {25, "REPLACE_VM"},
		{26, "RUN_DCGMEUD"}, {27, "CUSTOM"}, {99, "UNKNOWN"}}
	processingStrategies = []enumValue{{0, "UNSPECIFIED"}, {1, "EXECUTE_REMEDIATION"}, {2, "STORE_ONLY"},
		{3, "STORE_AND_ANALYSE"}}
)

type enumValue struct {
	number int64
	name   string
}

// setEnum stores an enum value given by its number. An unknown number is an
// error rather than its digits (what protobuf's String would give): it means
// NVSentinel has a value the table lacks, which a sink should not have to
// guess at.
func (e *event) setEnum(f field, n int64) error {
	values, dst := e.enumField(f)
	for _, v := range values {
		if v.number == n {
			*dst = v.name
			return nil
		}
	}
	return errorf(ReasonUnknownEnum, "healthevent.%s: %d is not a known value", f, n)
}

// setEnumName stores an enum value given by its name (protojson writes enums
// by name), keeping the table's copy of the name.
func (e *event) setEnumName(f field, s string) error {
	values, dst := e.enumField(f)
	for _, v := range values {
		if v.name == s {
			*dst = v.name
			return nil
		}
	}
	return errorf(ReasonUnknownEnum, "healthevent.%s: %q is not a known value", f, s)
}

// enumField returns the values of an enum field and where e keeps it.
func (e *event) enumField(f field) ([]enumValue, *string) {
	if f == fRecommendedAction {
		return recommendedActions, &e.action
	}
	return processingStrategies, &e.strategy
}

// Protobuf Timestamp range: 0001-01-01 to 9999-12-31, which RFC 3339 can write.
const (
	minSeconds = -62135596800
	maxSeconds = 253402300799
)

// setTimestamp stores a protobuf Timestamp in e. The zero Timestamp counts as
// missing: it is what an unset field reads as after a round trip.
func (e *event) setTimestamp(seconds, nanos int64) error {
	if seconds < minSeconds || seconds > maxSeconds || nanos < 0 || nanos >= 1e9 {
		return errorf(ReasonBadField, "healthevent.generatedTimestamp: {seconds: %d, nanos: %d} is out of range", seconds, nanos)
	}
	if seconds == 0 && nanos == 0 {
		e.hasGenerated = false
		return nil
	}
	e.generated, e.hasGenerated = time.Unix(seconds, nanos), true
	return nil
}

// inRange reports whether RFC 3339 can write t.
func inRange(t time.Time) bool {
	s := t.Unix()
	return minSeconds <= s && s <= maxSeconds
}

// write builds the record: the context attributes, then the body.
func (d *Decoder) write(id string, lr plog.LogRecord) error {
	e := &d.ev
	if id == "" {
		return errorf(ReasonMissingField, "the record has no id")
	}
	at := e.generated
	if !e.hasGenerated {
		// Upstream falls back to the time of sending, which changes on every
		// redelivery; the record's creation time is as close and stable.
		if !e.hasCreated {
			return errorf(ReasonMissingField, "healthevent.generatedTimestamp and createdAt are both missing")
		}
		at = e.created
	}
	if !inRange(at) {
		return errorf(ReasonBadField, "time %v is out of the RFC 3339 range", at)
	}
	cloudevent.SetContext(lr, id, d.Source, Type, at)
	timeText, _ := lr.Attributes().Get(cloudevent.AttrTime)

	// Members in protobuf field order, which is the order of SPEC.md A.3.
	body := lr.Body().SetEmptyMap()
	body.EnsureCapacity(2) // room for the metadata event_metadata adds
	he := body.PutEmptyMap("healthEvent")
	he.EnsureCapacity(17)
	he.PutInt("version", e.version)
	he.PutStr("agent", e.agent)
	he.PutStr("componentClass", e.componentClass)
	he.PutStr("checkName", e.checkName)
	he.PutBool("isFatal", e.isFatal)
	he.PutBool("isHealthy", e.isHealthy)
	he.PutStr("message", e.message)
	he.PutStr("recommendedAction", e.action)
	codes := he.PutEmptySlice("errorCode")
	codes.EnsureCapacity(len(e.errorCode))
	for _, c := range e.errorCode {
		codes.AppendEmpty().SetStr(c)
	}
	entities := he.PutEmptySlice("entitiesImpacted")
	entities.EnsureCapacity(len(e.entities))
	for _, en := range e.entities {
		m := entities.AppendEmpty().SetEmptyMap()
		m.EnsureCapacity(2)
		m.PutStr("entityType", en.typ)
		m.PutStr("entityValue", en.value)
	}
	if len(e.metadata) > 0 {
		m := he.PutEmptyMap("metadata")
		m.EnsureCapacity(len(e.metadata))
		for _, p := range e.metadata {
			m.PutStr(p.key, p.value)
		}
	}
	he.PutStr("generatedTimestamp", timeText.Str())
	he.PutStr("nodeName", e.nodeName)
	putOverrides(he, "quarantineOverrides", e.quarantine)
	putOverrides(he, "drainOverrides", e.drain)
	he.PutStr("processingStrategy", e.strategy)
	if e.customAction != "" {
		he.PutStr("customRecommendedAction", e.customAction)
	}
	return nil
}

func putOverrides(m pcommon.Map, key string, o overrides) {
	if !o.set {
		return
	}
	om := m.PutEmptyMap(key)
	om.EnsureCapacity(2)
	om.PutBool("force", o.force)
	om.PutBool("skip", o.skip)
}
