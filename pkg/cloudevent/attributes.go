// Package cloudevent is the one mapping between CloudEvents and pdata log
// records, and the wire encodings Courier sends.
//
// One CloudEvent is one plog.LogRecord:
//
//	CloudEvent                      LogRecord
//	type                            EventName and attribute cloudevents.event_type
//	id, source, specversion,        attributes cloudevents.event_id, cloudevents.event_source,
//	subject                         cloudevents.event_spec_version, cloudevents.event_subject
//	time                            Timestamp, and the original text in cloudevents.event_time
//	dataschema, datacontenttype     attributes cloudevents.event_dataschema, cloudevents.event_datacontenttype
//	any other member (extension)    attribute cloudevents.event_<name>, keeping its JSON type
//	data                            Body (a map for an object, the matching value otherwise)
//	data_base64                     Body bytes
//
// Attributes keep the order of the members in the input, and encoders write
// them in attribute order, so an event read and written again keeps its member
// order (data is written last). Attributes without the cloudevents.event_
// prefix (log.file.path, …) are Courier's own and are never encoded.
//
// data absent and "data": null are the same CloudEvent (no data, an empty
// Body); encoders write "data":null for it because Omniverse messages always
// carry data. A bare top-level data number beyond int64 is kept as a Double:
// the one JSON value that does not round-trip exactly (nested ones do, see
// internal/jsonpdata).
package cloudevent

// Attribute keys of the OpenTelemetry semantic conventions for CloudEvents.
const (
	AttrPrefix          = "cloudevents.event_"
	AttrID              = AttrPrefix + "id"
	AttrSource          = AttrPrefix + "source"
	AttrSpecVersion     = AttrPrefix + "spec_version"
	AttrType            = AttrPrefix + "type"
	AttrSubject         = AttrPrefix + "subject"
	AttrTime            = AttrPrefix + "time"
	AttrDataSchema      = AttrPrefix + "dataschema"
	AttrDataContentType = AttrPrefix + "datacontenttype"
)

// ResourceAttrPlaceholderSource marks a ResourceLogs whose records carry a
// receiver's placeholder source (the datastore receiver's default
// nvsentinel://unknown/healthevents) rather than one read from the data or
// configured. Its value is the receiver's component ID. event_metadata
// replaces such a source with its own whatever its overwrite setting, and
// removes the mark; the cloudevents exporter warns about marked records it
// is asked to send. It is a resource attribute, so it costs nothing per
// record and is never encoded.
const ResourceAttrPlaceholderSource = "courier.source.placeholder"

// SpecVersion is the only CloudEvents version Courier reads and writes.
const SpecVersion = "1.0"

// Content types of the HTTP encodings.
const (
	ContentTypeStructured = "application/cloudevents+json"
	ContentTypeBatch      = "application/cloudevents-batch+json"
	ContentTypeJSON       = "application/json"
	ContentTypeNDJSON     = "application/x-ndjson"
)

// AttributeKey returns the attribute key of a CloudEvent member name.
func AttributeKey(member string) string {
	switch member {
	case "id":
		return AttrID
	case "source":
		return AttrSource
	case "specversion":
		return AttrSpecVersion
	case "type":
		return AttrType
	case "subject":
		return AttrSubject
	case "time":
		return AttrTime
	case "dataschema":
		return AttrDataSchema
	case "datacontenttype":
		return AttrDataContentType
	}
	return AttrPrefix + member
}

// MemberName returns the CloudEvent member name of an attribute key, and
// false for attributes that are not part of the event.
func MemberName(key string) (string, bool) {
	if len(key) < len(AttrPrefix) || key[:len(AttrPrefix)] != AttrPrefix {
		return "", false
	}
	if key == AttrSpecVersion {
		return "specversion", true
	}
	return key[len(AttrPrefix):], true
}
