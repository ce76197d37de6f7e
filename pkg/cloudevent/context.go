package cloudevent

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// SetContext sets the context attributes of an event that a receiver builds
// from something other than CloudEvent JSON (a database record, say): the
// record then holds what Decode would have made of
//
//	{"specversion":"1.0","type":eventType,"source":source,"id":id,"time":<t>, ...}
//
// with the attributes in that order, so encoders write them first and in
// that order. type also goes to EventName, t to Timestamp and, as RFC 3339
// text in UTC with the nanoseconds it has, to the time attribute. An empty
// source or a zero t is left unset (a processor may set the source later);
// attributes lr already has are replaced in place.
func SetContext(lr plog.LogRecord, id, source, eventType string, t time.Time) {
	attrs := lr.Attributes()
	attrs.EnsureCapacity(5)
	attrs.PutStr(AttrSpecVersion, SpecVersion)
	attrs.PutStr(AttrType, eventType)
	lr.SetEventName(eventType)
	if source != "" {
		attrs.PutStr(AttrSource, source)
	}
	attrs.PutStr(AttrID, id)
	if !t.IsZero() {
		attrs.PutStr(AttrTime, t.UTC().Format(time.RFC3339Nano))
		lr.SetTimestamp(pcommon.NewTimestampFromTime(t))
	}
}
