package cloudevent

import (
	"encoding/base64"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsonpdata"
)

// Encoding reasons, beside the decoding ones.
const (
	ReasonTooLarge     Reason = "too_large"
	ReasonNotEncodable Reason = "not_encodable"
)

// Format writes one event as one JSON object.
type Format interface {
	AppendEvent(dst []byte, lr plog.LogRecord) ([]byte, error)
}

// Structured is the CloudEvents JSON format (application/cloudevents+json),
// which is also the Omniverse "default" protocol's line.
type Structured struct{}

// AppendEvent appends lr as a CloudEvents JSON object.
func (Structured) AppendEvent(dst []byte, lr plog.LogRecord) ([]byte, error) {
	return appendEvent(dst, lr, false)
}

// Stringified is Structured with data replaced by its JSON text as a string
// (Omniverse defaultWithStringify). No data stays null.
type Stringified struct{}

// AppendEvent appends lr with its data stringified.
func (Stringified) AppendEvent(dst []byte, lr plog.LogRecord) ([]byte, error) {
	return appendEvent(dst, lr, true)
}

// eventHead is what every encoder needs to know of an event's attributes.
type eventHead struct {
	id, source, typ, time, specversion bool
}

func appendEvent(dst []byte, lr plog.LogRecord, stringify bool) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '{')
	var h eventHead
	var err error
	for k, v := range lr.Attributes().All() {
		name, ok := MemberName(k)
		if !ok {
			continue
		}
		h.note(name)
		if len(dst) > start+1 {
			dst = append(dst, ',')
		}
		dst = jsonpdata.AppendString(dst, name)
		dst = append(dst, ':')
		if dst, err = jsonpdata.AppendValue(dst, v); err != nil {
			return dst[:start], errorf(ReasonNotEncodable, err, "attribute %s: %v", name, err)
		}
	}
	if dst, err = h.complete(dst, lr); err != nil {
		return dst[:start], err
	}
	body := lr.Body()
	switch {
	case body.Type() == pcommon.ValueTypeBytes:
		dst = append(dst, `,"data_base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, body.Bytes().AsRaw())
		dst = append(dst, '"')
	case stringify && body.Type() != pcommon.ValueTypeEmpty:
		dst = append(dst, `,"data":`...)
		// Write the data's JSON after the event, then append it again as a
		// string and move that into place: no scratch buffer.
		mark := len(dst)
		if dst, err = jsonpdata.AppendValue(dst, body); err != nil {
			return dst[:start], errorf(ReasonNotEncodable, err, "data: %v", err)
		}
		textEnd := len(dst)
		dst = jsonpdata.AppendJSONText(dst, dst[mark:textEnd])
		n := copy(dst[mark:], dst[textEnd:])
		dst = dst[:mark+n]
	default:
		dst = append(dst, `,"data":`...)
		if dst, err = jsonpdata.AppendValue(dst, body); err != nil {
			return dst[:start], errorf(ReasonNotEncodable, err, "data: %v", err)
		}
	}
	return append(dst, '}'), nil
}

func (h *eventHead) note(name string) {
	switch name {
	case "id":
		h.id = true
	case "source":
		h.source = true
	case "type":
		h.typ = true
	case "time":
		h.time = true
	case "specversion":
		h.specversion = true
	}
}

// missing reports a required attribute the event lacks.
func (h *eventHead) missing(lr plog.LogRecord) error {
	switch {
	case !h.id:
		return errorf(ReasonMissingAttribute, nil, "missing required attribute id (%s)", AttrID)
	case !h.source:
		return errorf(ReasonMissingAttribute, nil, "missing required attribute source (%s)", AttrSource)
	case !h.typ && lr.EventName() == "":
		return errorf(ReasonMissingAttribute, nil, "missing required attribute type (%s or EventName)", AttrType)
	}
	return nil
}

// complete writes the attributes an event needs that lr keeps elsewhere
// (type in EventName, time in Timestamp, the implied specversion), after
// checking that none is missing.
func (h *eventHead) complete(dst []byte, lr plog.LogRecord) ([]byte, error) {
	if err := h.missing(lr); err != nil {
		return dst, err
	}
	if !h.specversion {
		dst = append(dst, `,"specversion":"`+SpecVersion+`"`...)
	}
	if !h.typ {
		dst = append(dst, `,"type":`...)
		dst = jsonpdata.AppendString(dst, lr.EventName())
	}
	if !h.time && lr.Timestamp() != 0 {
		dst = append(dst, `,"time":"`...)
		dst = lr.Timestamp().AsTime().UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	return dst, nil
}
