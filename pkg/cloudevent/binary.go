package cloudevent

import (
	"encoding/base64"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsonpdata"
)

// Canonical header keys of the common attributes, so that encoding an event
// does not canonicalize (and allocate) them each time.
var binaryHeaderKeys = map[string]string{
	"id": "Ce-Id", "source": "Ce-Source", "specversion": "Ce-Specversion", "type": "Ce-Type",
	"subject": "Ce-Subject", "time": "Ce-Time", "dataschema": "Ce-Dataschema",
}

// AppendBinary encodes lr in the CloudEvents HTTP binary content mode: each
// attribute becomes a ce- header in h (percent-encoded as the HTTP binding
// requires), datacontenttype becomes Content-Type, and the data, appended to
// body, is the HTTP body. Extension attributes must be scalars with names
// that survive HTTP's case folding (lower-case letters and digits).
func AppendBinary(h http.Header, body []byte, lr plog.LogRecord) ([]byte, error) {
	var eh eventHead
	contentType := ""
	var val []byte
	for k, v := range lr.Attributes().All() {
		name, ok := MemberName(k)
		if !ok {
			continue
		}
		if name == "datacontenttype" {
			contentType = v.AsString()
			continue
		}
		eh.note(name)
		key, ok := binaryHeaderKeys[name]
		if !ok {
			if !isAttributeName(name) {
				return body, errorf(ReasonNotEncodable, nil, "attribute %q cannot be an HTTP header: CloudEvents names are lower-case letters and digits", name)
			}
			key = "Ce-" + strings.ToUpper(name[:1]) + name[1:]
		}
		var err error
		if val, err = appendHeaderValue(val[:0], v); err != nil {
			return body, errorf(ReasonNotEncodable, err, "attribute %s: %v", name, err)
		}
		h[key] = []string{string(val)}
	}
	if err := eh.missing(lr); err != nil {
		return body, err
	}
	if !eh.specversion {
		h["Ce-Specversion"] = []string{SpecVersion}
	}
	if !eh.typ {
		h["Ce-Type"] = []string{string(percentEncode(nil, lr.EventName()))}
	}
	if !eh.time && lr.Timestamp() != 0 {
		h["Ce-Time"] = []string{lr.Timestamp().AsTime().UTC().Format(time.RFC3339Nano)}
	}

	data := lr.Body()
	switch data.Type() {
	case pcommon.ValueTypeEmpty:
		if contentType != "" {
			h["Content-Type"] = []string{contentType}
		}
		return body, nil
	case pcommon.ValueTypeBytes:
		if contentType == "" {
			contentType = "application/octet-stream"
		}
		h["Content-Type"] = []string{contentType}
		return append(body, data.Bytes().AsRaw()...), nil
	}
	if contentType == "" {
		contentType = ContentTypeJSON
	}
	h["Content-Type"] = []string{contentType}
	if data.Type() == pcommon.ValueTypeStr && !isJSONContentType(contentType) {
		return append(body, data.Str()...), nil
	}
	out, err := jsonpdata.AppendValue(body, data)
	if err != nil {
		return body, errorf(ReasonNotEncodable, err, "data: %v", err)
	}
	return out, nil
}

// appendHeaderValue writes the canonical string form of a scalar attribute,
// percent-encoded.
func appendHeaderValue(dst []byte, v pcommon.Value) ([]byte, error) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return percentEncode(dst, v.Str()), nil
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(dst, v.Bool()), nil
	case pcommon.ValueTypeDouble:
		return jsonpdata.AppendDouble(dst, v.Double())
	case pcommon.ValueTypeBytes:
		if b := v.Bytes().AsRaw(); jsonpdata.IsNumber(b) {
			return append(dst, b...), nil
		}
		return base64.StdEncoding.AppendEncode(dst, v.Bytes().AsRaw()), nil
	case pcommon.ValueTypeEmpty:
		return dst, nil
	}
	return dst, errorf(ReasonNotEncodable, nil, "a %s is not a CloudEvents attribute type", v.Type())
}

// percentEncode encodes space, '"', '%' and every byte outside printable
// ASCII, as the CloudEvents HTTP binding requires for header values.
func percentEncode(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '%' {
			dst = append(dst, '%', hex[c>>4], hex[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func isAttributeName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// isJSONContentType reports whether data of this media type is JSON text.
func isJSONContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = ct
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}
