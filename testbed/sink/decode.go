package sink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsonpdata"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// Protocol error reasons of the sink's own, beside the cloudevent.Reason
// strings of the events it decodes (not_json, not_object,
// missing_attribute, unsupported_specversion, …). They label
// Stats.ProtocolErrors.
const (
	ReasonContentType  = "content_type"  // a media type no encoding uses
	ReasonShape        = "shape"         // the body's shape does not fit its content type
	ReasonEmptyBody    = "empty_body"    // nothing to decode where events are expected
	ReasonBinaryHeader = "binary_header" // a ce- header that is not percent-encoded text
	ReasonTooLarge     = "too_large"     // a body over Config.MaxBodyBytes
	ReasonNotFound     = "not_found"     // a path other than Config.Path
	ReasonMethod       = "method"        // not a POST
)

// event is what the sink keeps of a delivered event.
type event struct{ source, id string }

// protocolError is a refused request: the reason counts, the message is
// the answer's body.
type protocolError struct{ reason, msg string }

func (e *protocolError) Error() string { return e.reason + ": " + e.msg }

func protoErr(reason, format string, args ...any) *protocolError {
	return &protocolError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// decoder turns one request into the events it carries, per encoding of the
// Courier exporter. CloudEvents objects go through cloudevent.Decoder, so
// the sink checks every event as strictly as Courier reads them; NVDF lines
// are flattened and only their _id and s_source are read. A decoder keeps
// scratch state: one per goroutine.
type decoder struct {
	ce cloudevent.Decoder
	p  jsonpdata.Parser
}

// decode returns the events of a request, or why it is refused.
func (d *decoder) decode(h http.Header, body []byte) ([]event, *protocolError) {
	ct := h.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil && ct != "" {
		return nil, protoErr(ReasonContentType, "Content-Type %q: %v", ct, err)
	}
	if mt != cloudevent.ContentTypeStructured && mt != cloudevent.ContentTypeBatch && h.Get("Ce-Id") != "" {
		return d.binary(h, mt, body)
	}
	first := firstByte(body)
	switch mt {
	case cloudevent.ContentTypeStructured:
		if first == '[' {
			return nil, protoErr(ReasonShape, "a JSON array under %s (batches are %s)", mt, cloudevent.ContentTypeBatch)
		}
		ev, perr := d.event(body)
		if perr != nil {
			return nil, perr
		}
		return []event{ev}, nil
	case cloudevent.ContentTypeBatch:
		return d.array(body, mt)
	case cloudevent.ContentTypeJSON, cloudevent.ContentTypeNDJSON:
		switch first {
		case '[':
			if mt != cloudevent.ContentTypeJSON {
				return nil, protoErr(ReasonShape, "a JSON array under %s (json_list is %s)", mt, cloudevent.ContentTypeJSON)
			}
			return d.array(body, mt)
		case '{':
			return d.lines(body)
		case 0:
			return nil, protoErr(ReasonEmptyBody, "empty body under %s", mt)
		}
		return nil, protoErr(string(cloudevent.ReasonNotJSON), "the body is neither JSON lines nor a JSON array")
	}
	return nil, protoErr(ReasonContentType, "Content-Type %q is none of the exporter's encodings (and there is no ce-id header)", ct)
}

// binary reads the ce- headers of binary mode; the body is the data, which
// must parse when its content type says JSON.
func (d *decoder) binary(h http.Header, mt string, body []byte) ([]event, *protocolError) {
	var attrs [4]string
	for i, name := range [...]string{"Ce-Specversion", "Ce-Id", "Ce-Source", "Ce-Type"} {
		v, err := url.PathUnescape(h.Get(name))
		if err != nil {
			return nil, protoErr(ReasonBinaryHeader, "%s: %v", name, err)
		}
		if v == "" {
			return nil, protoErr(string(cloudevent.ReasonMissingAttribute), "missing header %s", name)
		}
		attrs[i] = v
	}
	if attrs[0] != cloudevent.SpecVersion {
		return nil, protoErr(string(cloudevent.ReasonSpecVersion), "ce-specversion %q (want %q)", attrs[0], cloudevent.SpecVersion)
	}
	isJSON := mt == cloudevent.ContentTypeJSON || strings.HasSuffix(mt, "+json")
	if isJSON && firstByte(body) != 0 && !json.Valid(body) {
		return nil, protoErr(string(cloudevent.ReasonNotJSON), "binary-mode data of type %s is not JSON", mt)
	}
	return []event{{source: attrs[2], id: attrs[1]}}, nil
}

// array reads a JSON array of CloudEvents (batch mode, json_list). An empty
// batch is allowed.
func (d *decoder) array(body []byte, mt string) ([]event, *protocolError) {
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		if json.Valid(body) {
			return nil, protoErr(ReasonShape, "%s wants a JSON array", mt)
		}
		return nil, protoErr(string(cloudevent.ReasonNotJSON), "not JSON: %v", err)
	}
	evs := make([]event, 0, len(items))
	for i, item := range items {
		ev, perr := d.event(item)
		if perr != nil {
			perr.msg = fmt.Sprintf("event %d: %s", i, perr.msg)
			return nil, perr
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// lines reads JSON lines: CloudEvents (jsonl, jsonl_stringify) or, when the
// first object has an _id and no id, NVDF lines.
func (d *decoder) lines(body []byte) ([]event, *protocolError) {
	var evs []event
	nvdf, decided := false, false
	for n := 1; len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !decided {
			nvdf, decided = d.isNVDF(line), true
		}
		var ev event
		var perr *protocolError
		if nvdf {
			ev, perr = d.nvdfLine(line)
		} else {
			ev, perr = d.event(line)
		}
		if perr != nil {
			perr.msg = fmt.Sprintf("line %d: %s", n, perr.msg)
			return nil, perr
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil, protoErr(ReasonEmptyBody, "no JSON lines")
	}
	return evs, nil
}

// event decodes one CloudEvents JSON object.
func (d *decoder) event(b []byte) (event, *protocolError) {
	lr := plog.NewLogRecord()
	if err := d.ce.Decode(b, lr); err != nil {
		return event{}, protoErr(string(cloudevent.ReasonOf(err)), "%v", err)
	}
	id, _ := lr.Attributes().Get(cloudevent.AttrID)
	src, _ := lr.Attributes().Get(cloudevent.AttrSource)
	return event{source: src.AsString(), id: id.AsString()}, nil
}

func (d *decoder) isNVDF(line []byte) bool {
	root, err := d.p.Parse(line)
	if err != nil || root.Kind() != jsonpdata.Object {
		return false
	}
	var uid, id bool
	for name := range root.Members() {
		uid = uid || name == "_id"
		id = id || name == "id"
	}
	return uid && !id
}

// nvdfLine reads the _id and s_source of a flattened NVDF line.
func (d *decoder) nvdfLine(line []byte) (event, *protocolError) {
	root, err := d.p.Parse(line)
	if err != nil {
		return event{}, protoErr(string(cloudevent.ReasonNotJSON), "not JSON: %v", err)
	}
	if root.Kind() != jsonpdata.Object {
		return event{}, protoErr(string(cloudevent.ReasonNotObject), "not a JSON object")
	}
	var ev event
	for name, v := range root.Members() {
		switch {
		case name == "_id" && v.Kind() == jsonpdata.String:
			ev.id = v.Str()
		case name == "s_source" && v.Kind() == jsonpdata.String:
			ev.source = v.Str()
		}
	}
	if ev.id == "" {
		return event{}, protoErr(string(cloudevent.ReasonMissingAttribute), "NVDF line without a string _id")
	}
	return ev, nil
}

// firstByte is the first non-space byte of b, or 0.
func firstByte(b []byte) byte {
	if b = bytes.TrimLeft(b, " \t\r\n"); len(b) > 0 {
		return b[0]
	}
	return 0
}
