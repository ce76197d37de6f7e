package cloudevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsontest"
)

// addSeeds gives every fuzz target the fixtures, the sample, and the inputs
// of the error table as its seed corpus.
func addSeeds(f *testing.F) {
	for _, name := range []string{"omniverse.json", "nvsentinel.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.TrimSpace(b))
	}
	for _, s := range []string{
		sample,
		`{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"AAEC/w=="}`,
		`{"specversion":"1.0","id":18446744073709551615,"source":"s","type":"t","data":[1.5e300,-0.0,"\ud83d\ude00"]}`,
		`{"specversion":"1.0","id":"1","source":"s","type":"t","ext":{"a":[null]},"data":null}`,
		`{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"text/plain","data":"x y"}`,
		`{"specversion":"1.0","id":"1","source":"s","type":"t","time":"2025-03-04T05:06:07+05:30","data":{"type":"x"}}`,
		`{"specversion":"0.3"}`, `[1]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
}

// decodeFuzz decodes in, or reports false for an input the decoder rejects
// (checking that the rejection is classified).
func decodeFuzz(t *testing.T, in []byte) (plog.LogRecord, bool) {
	lr := plog.NewLogRecord()
	var d Decoder
	if err := d.Decode(in, lr); err != nil {
		if ReasonOf(err) == "" {
			t.Fatalf("Decode(%q) error without a reason: %v", in, err)
		}
		return lr, false
	}
	return lr, true
}

func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		lr, ok := decodeFuzz(t, in)
		if !ok {
			return
		}
		if !json.Valid(in) {
			t.Fatalf("Decode accepted invalid JSON %q", in)
		}
		out, err := Structured{}.AppendEvent(nil, lr)
		if err != nil {
			t.Fatalf("a decoded event must encode: %q: %v", in, err)
		}
		again, ok := decodeFuzz(t, out)
		if !ok || !reflect.DeepEqual(recordView(lr), recordView(again)) {
			t.Fatalf("decode(encode(decode(x))) differs for %q:\n%v\n%v", in, recordView(lr), recordView(again))
		}
	})
}

func FuzzStructured(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		lr, ok := decodeFuzz(t, in)
		if !ok {
			return
		}
		out, err := Structured{}.AppendEvent(nil, lr)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("structured output %q: %v", out, err)
		}
		if string(m["specversion"]) != `"1.0"` || m["id"] == nil || m["source"] == nil || m["type"] == nil {
			t.Fatalf("structured output lacks a required attribute: %s", out)
		}
	})
}

func FuzzStringified(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		lr, ok := decodeFuzz(t, in)
		if !ok {
			return
		}
		plain, _ := Structured{}.AppendEvent(nil, lr)
		out, err := Stringified{}.AppendEvent(nil, lr)
		if err != nil {
			t.Fatal(err)
		}
		var p, s map[string]json.RawMessage
		if json.Unmarshal(plain, &p) != nil || json.Unmarshal(out, &s) != nil {
			t.Fatalf("invalid output %s / %s", plain, out)
		}
		if string(p["data"]) == "null" || p["data"] == nil {
			if string(s["data"]) != string(p["data"]) {
				t.Fatalf("no data must stay as it is: %s", out)
			}
			return
		}
		var text string
		if err := json.Unmarshal(s["data"], &text); err != nil {
			t.Fatalf("data is not a string: %s", out)
		}
		if eq, err := jsontest.Equal([]byte(text), p["data"]); err != nil || !eq {
			t.Fatalf("stringified data %q differs from %s", text, p["data"])
		}
	})
}

func FuzzNVDF(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		lr, ok := decodeFuzz(t, in)
		if !ok {
			return
		}
		out, err := NVDF{}.AppendEvent(nil, lr)
		if err != nil {
			if ReasonOf(err) != ReasonNotEncodable {
				t.Fatalf("NVDF error without the not_encodable reason: %v", err)
			}
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("NVDF output %q: %v", out, err)
		}
		id, _ := lr.Attributes().Get(AttrID)
		var gotID string
		if json.Unmarshal(m["_id"], &gotID) != nil || gotID != id.Str() {
			t.Fatalf("_id %s, want %q", m["_id"], id.Str())
		}
		for k := range m {
			if k != "_id" && k != "ts_created" && !strings.Contains(k, "_") {
				t.Fatalf("member %q has no type prefix: %s", k, out)
			}
		}
	})
}

func FuzzBinary(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		lr, ok := decodeFuzz(t, in)
		if !ok {
			return
		}
		h := http.Header{}
		if _, err := AppendBinary(h, nil, lr); err != nil {
			if ReasonOf(err) != ReasonNotEncodable {
				t.Fatalf("binary error without the not_encodable reason: %v", err)
			}
			return
		}
		for k, vs := range h {
			for _, v := range vs {
				if strings.ContainsAny(v, " \"\r\n\x00") || strings.IndexFunc(v, func(r rune) bool { return r > 0x7e }) >= 0 {
					t.Fatalf("header %s: %q is not percent-encoded", k, v)
				}
			}
		}
		for _, a := range []struct{ key, header string }{{AttrID, "Ce-Id"}, {AttrSource, "Ce-Source"}, {AttrType, "Ce-Type"}} {
			v, _ := lr.Attributes().Get(a.key)
			if got, err := url.PathUnescape(h.Get(a.header)); err != nil || got != v.Str() {
				t.Fatalf("%s = %q (%v), want %q", a.header, h.Get(a.header), err, v.Str())
			}
		}
	})
}

func FuzzBatch(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		lr, ok := decodeFuzz(t, in)
		if !ok {
			return
		}
		one, _ := Structured{}.AppendEvent(nil, lr)
		for _, fr := range []Framing{FramingArray, FramingLines} {
			b := Batch{Format: Structured{}, Framing: fr, Limit: 2*len(one) + 4}
			added := 0
			for range 3 {
				err := b.Add(lr)
				if errors.Is(err, ErrBatchFull) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				added++
			}
			if added != 2 || len(b.Body()) > b.Limit {
				t.Fatalf("%d events in a body of %d bytes (limit %d)", added, len(b.Body()), b.Limit)
			}
			checkFramed(t, b.Body(), fr, added)
		}
	})
}
