package schemaregistryextension

import (
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// Registry serves the approved schemas. The schema_registry extension
// implements it; other components get it with [FromHost].
//
// Lookup never blocks and is safe for concurrent use: a refresh swaps the
// whole set at once, so a caller sees either the old or the new set. The
// returned *EventSchema is immutable and stays valid after a refresh.
type Registry interface {
	// Lookup finds the event type eventType of the schema named by
	// dataschema ("<clientName>-<schemaVersion>", the CloudEvent dataschema).
	// The *EventSchema is nil unless the result is Found.
	Lookup(dataschema, eventType string) (*EventSchema, LookupResult)
}

// LookupResult says whether, and why not, a Lookup found an event type.
type LookupResult uint8

// Lookup results. The String forms are stable: they label metrics.
const (
	Found LookupResult = iota
	UnknownSchema
	UnknownEventType
)

func (r LookupResult) String() string {
	switch r {
	case Found:
		return "found"
	case UnknownSchema:
		return "unknown_schema"
	case UnknownEventType:
		return "unknown_event_type"
	}
	return fmt.Sprintf("LookupResult(%d)", uint8(r))
}

// Category is the privacy category of an event (eventMeta.privacy.category).
type Category string

// The privacy categories a user consents to (SPEC.md B.4).
const (
	CategoryUsage           Category = "usage"
	CategoryPerformance     Category = "performance"
	CategoryPersonalization Category = "personalization"
)

// Flags are the omniverseFlags Courier acts on, from the schema's schemaMeta
// and the event's eventMeta together.
type Flags uint8

// The flags of SPEC.md B.4. Schema flags apply to every event of the schema.
const (
	FlagSchemaAnonymizeEvents       Flags = 1 << iota // fSchemaFlagAnonymizeEvents
	FlagSchemaIgnoreOldEvents                         // fSchemaFlagIgnoreOldEvents
	FlagSchemaPseudonymizeOldEvents                   // fSchemaFlagPseudonymizeOldEvents
	FlagEventIgnoreOldEvents                          // fEventFlagIgnoreOldEvents
	FlagEventPseudonymizeOldEvents                    // fEventFlagPseudonymizeOldEvents
)

// flagNames maps the omniverseFlags strings to Flags. Other flags (such as
// fEventFlagUseLocalLog, which only matters to the writer) are kept in
// EventSchema.SchemaFlags / EventFlags but have no bit.
var flagNames = map[string]Flags{
	"fSchemaFlagAnonymizeEvents":       FlagSchemaAnonymizeEvents,
	"fSchemaFlagIgnoreOldEvents":       FlagSchemaIgnoreOldEvents,
	"fSchemaFlagPseudonymizeOldEvents": FlagSchemaPseudonymizeOldEvents,
	"fEventFlagIgnoreOldEvents":        FlagEventIgnoreOldEvents,
	"fEventFlagPseudonymizeOldEvents":  FlagEventPseudonymizeOldEvents,
}

// Has reports whether every flag of x is set in f.
func (f Flags) Has(x Flags) bool { return f&x == x }

// Any reports whether at least one flag of x is set in f.
func (f Flags) Any(x Flags) bool { return f&x != 0 }

// EventSchema is one event type of one approved schema: what Courier needs
// to validate, filter and encode its events.
type EventSchema struct {
	DataSchema    string   // "<clientName>-<schemaVersion>"
	ClientName    string   // schemaMeta.clientName
	SchemaVersion string   // schemaMeta.schemaVersion
	Type          string   // the event type, a key of definitions.events
	Category      Category // eventMeta.privacy.category, lower-cased; "" when the schema names none
	Flags         Flags    // schema and event flags Courier acts on
	SchemaFlags   []string // schemaMeta.omniverseFlags as written
	EventFlags    []string // eventMeta.omniverseFlags as written

	// Old-event thresholds in days (0 = none), each the smallest non-zero
	// oldEventsThreshold found at its level: the schema root or schemaMeta,
	// the event definition's root or eventMeta.
	SchemaOldEventsThreshold int
	EventOldEventsThreshold  int

	// Properties are the data members the event definition declares, with
	// their JSON type and format ($refs resolved).
	Properties map[string]Property

	validator *jsonschema.Schema
	fast      *fnode // nil: always use the validator
}

// Property is the declared type of one data member.
type Property struct {
	Type   string    // JSON schema type; "" unless exactly one non-null type is declared
	Format string    // "date-time", "uuid", …; "" when none
	Items  *Property // element type of an array; nil when not declared
}

// Validate checks data, an event's Body, against the event's definition.
// An empty Body (data absent or null) is validated as an empty object. The
// error is a *ValidationError.
func (e *EventSchema) Validate(data pcommon.Value) error {
	var v any
	if data.Type() == pcommon.ValueTypeEmpty {
		v = emptyObject
	} else {
		if e.fast != nil && e.fast.validateFast(data) == vValid {
			return nil
		}
		v = jsonValue(data)
	}
	if err := e.validator.Validate(v); err != nil {
		return newValidationError(e, err)
	}
	return nil
}

// Schema returns the event definition as compiled by jsonschema/v6, for
// uses beyond Validate. It must not be modified.
func (e *EventSchema) Schema() *jsonschema.Schema { return e.validator }

// OldEventsThreshold is the smallest non-zero of the schema and event
// thresholds, in days; 0 when neither sets one.
func (e *EventSchema) OldEventsThreshold() int {
	return MinThreshold(e.SchemaOldEventsThreshold, e.EventOldEventsThreshold)
}

// MinThreshold returns the smallest non-zero value, or 0 when all are 0
// (SPEC.md B.5: the threshold is the smallest non-zero of transmitter,
// schema and event).
func MinThreshold(days ...int) int {
	m := 0
	for _, d := range days {
		if d > 0 && (m == 0 || d < m) {
			m = d
		}
	}
	return m
}

// NVDFPrefix chooses the NVDF prefix of data member name from its declared
// type, so that a member keeps one column type whatever its value looks like:
// a date-time string is a timestamp (ts_), a number declared "number" is a
// float (d_) even when the value happens to be integral, and so on for the
// elements of arrays. It returns "" (prefix of the value's JSON type) when
// the member is not declared or the value does not have the declared type.
func (e *EventSchema) NVDFPrefix(name string, v pcommon.Value) string {
	p, ok := e.Properties[name]
	if !ok {
		return ""
	}
	if v.Type() == pcommon.ValueTypeSlice {
		if p.Type != "array" || p.Items == nil {
			return ""
		}
		s := v.Slice()
		prefix := ""
		for i := 0; i < s.Len(); i++ {
			ep := p.Items.prefix(s.At(i))
			if ep == "" || (prefix != "" && ep != prefix) {
				return ""
			}
			prefix = ep
		}
		return prefix
	}
	return p.prefix(v)
}

// prefix is the NVDF prefix of a scalar or object value of this declared type.
func (p *Property) prefix(v pcommon.Value) string {
	t := v.Type()
	switch p.Type {
	case "string":
		if t == pcommon.ValueTypeStr {
			if p.Format == "date-time" {
				return cloudevent.PrefixTimestamp
			}
			return cloudevent.PrefixString
		}
	case "number":
		if t == pcommon.ValueTypeDouble || t == pcommon.ValueTypeInt {
			return cloudevent.PrefixFloat
		}
	case "integer":
		if t == pcommon.ValueTypeInt {
			return cloudevent.PrefixInt
		}
	case "boolean":
		if t == pcommon.ValueTypeBool {
			return cloudevent.PrefixBool
		}
	case "object":
		if t == pcommon.ValueTypeMap {
			return cloudevent.PrefixObject
		}
	}
	return ""
}

// NVDFTypes returns the hook of cloudevent.NVDF that types data members by
// the schema of each event: ts_ for date-time strings, d_ for "number"
// members even when a value is integral, … Events the registry does not know
// keep the prefixes of their JSON types.
func NVDFTypes(r Registry) func(plog.LogRecord) cloudevent.FieldTypes {
	return func(lr plog.LogRecord) cloudevent.FieldTypes {
		if es := LookupRecord(r, lr); es != nil {
			return es
		}
		return nil // not a typed nil *EventSchema
	}
}

// LookupRecord looks up the event type of lr: its dataschema attribute and
// its type attribute (or EventName). It returns nil when the registry does
// not know it.
func LookupRecord(r Registry, lr plog.LogRecord) *EventSchema {
	es, _ := r.Lookup(RecordKey(lr))
	return es
}

// RecordKey returns the dataschema and event type of lr, reading its
// attributes in one pass. The type falls back to EventName.
func RecordKey(lr plog.LogRecord) (dataschema, eventType string) {
	for k, v := range lr.Attributes().All() {
		switch k {
		case cloudevent.AttrDataSchema:
			dataschema = v.Str()
		case cloudevent.AttrType:
			eventType = v.Str()
		}
	}
	if eventType == "" {
		eventType = lr.EventName()
	}
	return dataschema, eventType
}

// FromHost returns the Registry of the extension id, for components that
// name a schema_registry in their config.
func FromHost(host component.Host, id component.ID) (Registry, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("extension %s not found: add it to service::extensions", id)
	}
	r, ok := ext.(Registry)
	if !ok {
		return nil, fmt.Errorf("extension %s is not a schema_registry", id)
	}
	return r, nil
}
