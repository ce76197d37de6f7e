package cloudevent

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsontest"
)

// sample is a small Omniverse-style event exercising every JSON type.
const sample = `{"specversion":"1.0","id":"e-1","source":"user@app (dev)","type":"com.example.app.featureUsed",` +
	`"time":"2025-03-04T05:06:07.123456Z","dataschema":"example.app-1.0","session":"42",` +
	`"data":{"featureName":"copy","durationMs":12.5,"count":3,"ok":true,"when":"2025-03-04T05:06:07Z",` +
	`"tags":["a","b"],"pos":{"x":1},"none":null},"appName":"omni.create"}`

func decode(t testing.TB, s string) plog.LogRecord {
	t.Helper()
	lr := plog.NewLogRecord()
	var d Decoder
	if err := d.Decode([]byte(s), lr); err != nil {
		t.Fatalf("Decode(%s): %v", s, err)
	}
	return lr
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.TrimSpace(string(b)))
}

func TestDecodeMapping(t *testing.T) {
	lr := decode(t, sample)
	if lr.EventName() != "com.example.app.featureUsed" {
		t.Errorf("EventName = %q", lr.EventName())
	}
	want := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
	if !lr.Timestamp().AsTime().Equal(want) {
		t.Errorf("Timestamp = %v, want %v", lr.Timestamp().AsTime(), want)
	}
	wantAttrs := map[string]any{
		AttrSpecVersion: "1.0", AttrID: "e-1", AttrSource: "user@app (dev)", AttrType: "com.example.app.featureUsed",
		AttrTime: "2025-03-04T05:06:07.123456Z", AttrDataSchema: "example.app-1.0",
		"cloudevents.event_session": "42", "cloudevents.event_appName": "omni.create",
	}
	if got := lr.Attributes().AsRaw(); !equalRaw(got, wantAttrs) {
		t.Errorf("attributes = %v, want %v", got, wantAttrs)
	}
	var keys []string
	for k := range lr.Attributes().All() {
		keys = append(keys, k)
	}
	if got := strings.Join(keys, " "); got != "cloudevents.event_spec_version cloudevents.event_id cloudevents.event_source cloudevents.event_type cloudevents.event_time cloudevents.event_dataschema cloudevents.event_session cloudevents.event_appName" {
		t.Errorf("attribute order = %s", got)
	}
	body := lr.Body()
	if body.Type() != pcommon.ValueTypeMap {
		t.Fatalf("Body type = %s", body.Type())
	}
	for k, typ := range map[string]pcommon.ValueType{
		"featureName": pcommon.ValueTypeStr, "durationMs": pcommon.ValueTypeDouble, "count": pcommon.ValueTypeInt,
		"ok": pcommon.ValueTypeBool, "tags": pcommon.ValueTypeSlice, "pos": pcommon.ValueTypeMap, "none": pcommon.ValueTypeEmpty,
	} {
		if v, ok := body.Map().Get(k); !ok || v.Type() != typ {
			t.Errorf("data.%s = %v (%s), want a %s", k, v.AsRaw(), v.Type(), typ)
		}
	}
}

func equalRaw(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestDecodeDataForms(t *testing.T) {
	head := `{"specversion":"1.0","id":"1","source":"s","type":"t"`
	for _, tc := range []struct {
		in   string
		typ  pcommon.ValueType
		want string
	}{
		{head + `}`, pcommon.ValueTypeEmpty, ""},
		{head + `,"data":null}`, pcommon.ValueTypeEmpty, ""},
		{head + `,"data":"text"}`, pcommon.ValueTypeStr, "text"},
		{head + `,"data":[1,"a"]}`, pcommon.ValueTypeSlice, `[1,"a"]`},
		{head + `,"data":7}`, pcommon.ValueTypeInt, "7"},
		{head + `,"data":18446744073709551615}`, pcommon.ValueTypeDouble, "18446744073709552000"},
		{head + `,"data_base64":"AAEC/w=="}`, pcommon.ValueTypeBytes, "AAEC/w=="},
	} {
		lr := decode(t, tc.in)
		if lr.Body().Type() != tc.typ || lr.Body().AsString() != tc.want {
			t.Errorf("%s: Body = %s %q, want %s %q", tc.in, lr.Body().Type(), lr.Body().AsString(), tc.typ, tc.want)
		}
	}
}

func TestDecodeNumericID(t *testing.T) {
	lr := decode(t, `{"specversion":"1.0","id":18446744073709551615,"source":"s","type":"t"}`)
	if v, _ := lr.Attributes().Get(AttrID); v.Str() != "18446744073709551615" {
		t.Fatalf("id = %v", v.AsRaw())
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		reason Reason
		msg    string
	}{
		{`not json`, ReasonNotJSON, "not JSON"},
		{`{"id":"1",`, ReasonNotJSON, "not JSON"},
		{`{"specversion":"1.0","id":"1","source":"s","type":"t"} trailing`, ReasonNotJSON, "not JSON"},
		{`[1,2]`, ReasonNotObject, "not a JSON object"},
		{`"string"`, ReasonNotObject, "not a JSON object"},
		{`{"id":"1","source":"s","type":"t"}`, ReasonMissingAttribute, "specversion"},
		{`{"specversion":"1.0","source":"s","type":"t"}`, ReasonMissingAttribute, "attribute id"},
		{`{"specversion":"1.0","id":"1","type":"t"}`, ReasonMissingAttribute, "attribute source"},
		{`{"specversion":"1.0","id":"1","source":"s"}`, ReasonMissingAttribute, "attribute type"},
		{`{"specversion":"1.0","id":"","source":"s","type":"t"}`, ReasonMissingAttribute, "attribute id"},
		{`{"specversion":"0.3","id":"1","source":"s","type":"t"}`, ReasonSpecVersion, `"0.3" is not supported`},
		{`{"specversion":1.0,"id":"1","source":"s","type":"t"}`, ReasonInvalidAttribute, "specversion must be a string"},
		{`{"specversion":"1.0","id":"1","source":"s","type":"t","data":{},"data_base64":"AA=="}`, ReasonDataConflict, "both"},
		{`{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"AA==","data":1}`, ReasonDataConflict, "both"},
		{`{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"!!"}`, ReasonInvalidBase64, "data_base64"},
		{`{"specversion":"1.0","id":"1","source":"s","type":"t","time":"yesterday"}`, ReasonInvalidAttribute, "RFC 3339"},
		{`{"specversion":"1.0","id":-1,"source":"s","type":"t"}`, ReasonInvalidAttribute, "non-negative integer"},
		{`{"specversion":"1.0","id":"1","source":{},"type":"t"}`, ReasonInvalidAttribute, "source must be a string"},
		{`{"specversion":"1.0","id":"1","source":"s","type":"t","spec_version":"x"}`, ReasonInvalidAttribute, "collide"},
	} {
		var d Decoder
		err := d.Decode([]byte(tc.in), plog.NewLogRecord())
		if err == nil {
			t.Errorf("%s: no error", tc.in)
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.Reason != tc.reason || ReasonOf(err) != tc.reason || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %q (reason %q), want reason %q and %q in the message", tc.in, err, ReasonOf(err), tc.reason, tc.msg)
		}
	}
}

const sampleData = `{"featureName":"copy","durationMs":12.5,"count":3,"ok":true,"when":"2025-03-04T05:06:07Z","tags":["a","b"],"pos":{"x":1},"none":null}`

func TestEncodeFormats(t *testing.T) {
	lr := decode(t, sample)
	head := `{"specversion":"1.0","id":"e-1","source":"user@app (dev)","type":"com.example.app.featureUsed",` +
		`"time":"2025-03-04T05:06:07.123456Z","dataschema":"example.app-1.0","session":"42","appName":"omni.create",`
	whenIsTime := func(plog.LogRecord) FieldTypes { return fieldTypes{"when": PrefixTimestamp} }
	for _, tc := range []struct {
		name   string
		format Format
		want   string
	}{
		{"structured", Structured{}, head + `"data":` + sampleData + `}`},
		{"stringified", Stringified{}, head + `"data":` + string(mustJSON(t, sampleData)) + `}`},
		{"nvdf", NVDF{}, `{"_id":"e-1","ts_created":1741064767123,"s_source":"user@app (dev)","s_type":"com.example.app.featureUsed",` +
			`"s_dataschema":"example.app-1.0","s_session":"42","s_appName":"omni.create","s_featureName":"copy","d_durationMs":12.5,` +
			`"l_count":3,"b_ok":true,"s_when":"2025-03-04T05:06:07Z","s_tags":["a","b"],"flat_pos":{"x":1}}`},
		{"nvdf with a schema hook", NVDF{Types: whenIsTime}, `{"_id":"e-1","ts_created":1741064767123,"s_source":"user@app (dev)",` +
			`"s_type":"com.example.app.featureUsed","s_dataschema":"example.app-1.0","s_session":"42","s_appName":"omni.create",` +
			`"s_featureName":"copy","d_durationMs":12.5,"l_count":3,"b_ok":true,"ts_when":1741064767000,"s_tags":["a","b"],"flat_pos":{"x":1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.format.AppendEvent([]byte("prefix:"), lr)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix:"+tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, "prefix:"+tc.want)
			}
		})
	}
}

// fieldTypes is a schema's NVDF prefixes by member name.
type fieldTypes map[string]string

func (f fieldTypes) NVDFPrefix(name string, _ pcommon.Value) string { return f[name] }

func mustJSON(t *testing.T, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncodeFromParts covers records not made by Decode: type only in
// EventName, time only in Timestamp, no specversion, foreign attributes.
func TestEncodeFromParts(t *testing.T) {
	lr := plog.NewLogRecord()
	lr.SetEventName("com.nvidia.nvsentinel.health.v1")
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 7, 14, 10, 30, 0, 123456789, time.UTC)))
	lr.Attributes().PutStr(AttrID, "abc")
	lr.Attributes().PutStr("log.file.path", "/var/log/x.log")
	lr.Attributes().PutStr(AttrSource, "nvsentinel://c/healthevents")
	lr.Body().SetEmptyMap().PutStr("k", "v")
	got, err := Structured{}.AppendEvent(nil, lr)
	want := `{"id":"abc","source":"nvsentinel://c/healthevents","specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1","time":"2026-07-14T10:30:00.123456789Z","data":{"k":"v"}}`
	if err != nil || string(got) != want {
		t.Fatalf("got %s, %v\nwant %s", got, err, want)
	}
	lr.Body().SetEmptyBytes().FromRaw([]byte{0xde, 0xad})
	got, _ = Structured{}.AppendEvent(nil, lr)
	if !strings.HasSuffix(string(got), `,"data_base64":"3q0="}`) {
		t.Fatalf("bytes body: %s", got)
	}
	_ = lr.Body().FromRaw(nil)
	for _, f := range []Format{Structured{}, Stringified{}} {
		got, _ = f.AppendEvent(nil, lr)
		if !strings.HasSuffix(string(got), `,"data":null}`) {
			t.Fatalf("%T with no data: %s", f, got)
		}
	}
	if got, _ = (NVDF{}).AppendEvent(nil, lr); string(got) != `{"_id":"abc","ts_created":1784025000123,"s_source":"nvsentinel://c/healthevents","s_type":"com.nvidia.nvsentinel.health.v1"}` {
		t.Fatalf("nvdf with no data: %s", got)
	}
}

func TestEncodeErrors(t *testing.T) {
	base := func() plog.LogRecord {
		return decode(t, `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"a":1}}`)
	}
	for _, tc := range []struct {
		name    string
		mutate  func(lr plog.LogRecord)
		formats []Format
		reason  Reason
	}{
		{"no id", func(lr plog.LogRecord) { lr.Attributes().Remove(AttrID) }, []Format{Structured{}, NVDF{}}, ReasonMissingAttribute},
		{"no source", func(lr plog.LogRecord) { lr.Attributes().Remove(AttrSource) }, []Format{Structured{}, NVDF{}}, ReasonMissingAttribute},
		{"no type", func(lr plog.LogRecord) { lr.Attributes().Remove(AttrType); lr.SetEventName("") }, []Format{Structured{}, Stringified{}, NVDF{}}, ReasonMissingAttribute},
		{"NaN", func(lr plog.LogRecord) { lr.Body().Map().PutDouble("a", nan()) }, []Format{Structured{}, Stringified{}, NVDF{}}, ReasonNotEncodable},
		{"nvdf collision", func(lr plog.LogRecord) { lr.Body().Map().PutStr("type", "x") }, []Format{NVDF{}}, ReasonNotEncodable},
		{"nvdf ts collision", func(lr plog.LogRecord) {
			lr.SetTimestamp(1)
			lr.Body().Map().PutStr("created", "2025-01-01T00:00:00Z")
		}, []Format{NVDF{Types: func(plog.LogRecord) FieldTypes { return fieldTypes{"created": PrefixTimestamp} }}}, ReasonNotEncodable},
		{"nvdf mixed array", func(lr plog.LogRecord) { _ = lr.Body().Map().PutEmptySlice("m").FromRaw([]any{1, "a"}) }, []Format{NVDF{}}, ReasonNotEncodable},
		{"nvdf scalar data", func(lr plog.LogRecord) { lr.Body().SetStr("x") }, []Format{NVDF{}}, ReasonNotEncodable},
	} {
		for _, f := range tc.formats {
			lr := base()
			tc.mutate(lr)
			out, err := f.AppendEvent([]byte("keep"), lr)
			if ReasonOf(err) != tc.reason || string(out) != "keep" {
				t.Errorf("%s, %T: %q, %v (reason %q), want reason %q and dst unchanged", tc.name, f, out, err, ReasonOf(err), tc.reason)
			}
		}
	}
}

func nan() float64 { var z float64; return z / z }

func TestBinary(t *testing.T) {
	lr := decode(t, `{"specversion":"1.0","id":"e-1","source":"user@app (dev)","type":"com.example.x","time":"2025-03-04T05:06:07.123456Z",`+
		`"dataschema":"example.app-1.0","subject":"100% \"done\" é","session":"42","count":7,"flag":true,"data":{"a":1}}`)
	h := http.Header{}
	body, err := AppendBinary(h, nil, lr)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{
		"Ce-Specversion": {"1.0"}, "Ce-Id": {"e-1"}, "Ce-Source": {"user@app%20(dev)"}, "Ce-Type": {"com.example.x"},
		"Ce-Time": {"2025-03-04T05:06:07.123456Z"}, "Ce-Dataschema": {"example.app-1.0"},
		"Ce-Subject": {"100%25%20%22done%22%20%C3%A9"}, "Ce-Session": {"42"}, "Ce-Count": {"7"}, "Ce-Flag": {"true"},
		"Content-Type": {"application/json"},
	}
	if !equalHeaders(h, want) || string(body) != `{"a":1}` {
		t.Fatalf("headers %v body %s\nwant %v", h, body, want)
	}

	lr = decode(t, `{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"text/plain","data":"hello"}`)
	h = http.Header{}
	if body, err = AppendBinary(h, nil, lr); err != nil || string(body) != "hello" || h.Get("Content-Type") != "text/plain" {
		t.Fatalf("text data: %q %v %v", body, err, h)
	}
	for _, bad := range []string{
		`{"specversion":"1.0","id":"1","source":"s","type":"t","appName":"x"}`,
		`{"specversion":"1.0","id":"1","source":"s","type":"t","obj":{}}`,
	} {
		if _, err := AppendBinary(http.Header{}, nil, decode(t, bad)); ReasonOf(err) != ReasonNotEncodable {
			t.Errorf("%s: %v, want a not_encodable error", bad, err)
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if len(a[k]) != 1 || a[k][0] != v[0] {
			return false
		}
	}
	return true
}

func TestBatch(t *testing.T) {
	one, _ := Structured{}.AppendEvent(nil, decode(t, sample))
	n := len(one)
	for _, tc := range []struct {
		name    string
		framing Framing
		limit   int
		events  int
		bodies  []int // events per body
	}{
		{"array, two per body", FramingArray, 2*n + 3, 5, []int{2, 2, 1}},
		{"array, exact fit", FramingArray, 3*n + 4, 6, []int{3, 3}},
		{"array, one byte short", FramingArray, 3*n + 3, 6, []int{2, 2, 2}},
		{"lines, three per body", FramingLines, 3 * (n + 1), 7, []int{3, 3, 1}},
		{"lines, no limit", FramingLines, 0, 7, []int{7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Batch{Format: Structured{}, Framing: tc.framing, Limit: tc.limit}
			var got []int
			flush := func() {
				body := b.Body()
				if tc.limit > 0 && len(body) > tc.limit {
					t.Fatalf("body of %d bytes over the limit %d", len(body), tc.limit)
				}
				checkFramed(t, body, tc.framing, b.Count())
				got = append(got, b.Count())
				b.Reset()
			}
			lr := decode(t, sample)
			for i := 0; i < tc.events; i++ {
				err := b.Add(lr)
				if errors.Is(err, ErrBatchFull) {
					flush()
					err = b.Add(lr)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			flush()
			if !equalInts(got, tc.bodies) {
				t.Fatalf("bodies of %v events, want %v", got, tc.bodies)
			}
		})
	}

	b := Batch{Format: Structured{}, Framing: FramingArray, Limit: n + 1}
	if err := b.Add(decode(t, sample)); ReasonOf(err) != ReasonTooLarge || b.Count() != 0 || string(b.Body()) != "[]" {
		t.Fatalf("too large: %v, count %d, body %s", err, b.Count(), b.Body())
	}
	b = Batch{Format: Structured{}, Framing: FramingArray, Limit: n + 1}
	small := decode(t, `{"specversion":"1.0","id":"1","source":"s","type":"t"}`)
	if err := b.Add(small); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(decode(t, sample)); ReasonOf(err) != ReasonTooLarge {
		t.Fatalf("an event that can never fit must be too_large even in a non-empty body: %v", err)
	}
	bad := decode(t, `{"specversion":"1.0","id":"1","source":"s","type":"t"}`)
	bad.Attributes().Remove(AttrID)
	if err := b.Add(bad); ReasonOf(err) != ReasonMissingAttribute || b.Count() != 1 {
		t.Fatalf("an invalid event must leave the body alone: %v, count %d", err, b.Count())
	}
	checkFramed(t, b.Body(), FramingArray, 1)
}

// checkFramed asserts that body is count sample-like events in framing f.
func checkFramed(t *testing.T, body []byte, f Framing, count int) {
	t.Helper()
	var items [][]byte
	if f == FramingArray {
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			t.Fatalf("array body %s: %v", body, err)
		}
		for _, a := range arr {
			items = append(items, a)
		}
	} else {
		s := string(body)
		if count > 0 && !strings.HasSuffix(s, "\n") {
			t.Fatalf("lines body does not end with a newline: %q", s)
		}
		for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
			if l != "" {
				items = append(items, []byte(l))
			}
		}
	}
	if len(items) != count {
		t.Fatalf("body holds %d events, want %d", len(items), count)
	}
	for _, it := range items {
		if _, err := jsontest.Canonical(it); err != nil {
			t.Fatalf("item %s: %v", it, err)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
