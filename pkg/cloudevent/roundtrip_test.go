package cloudevent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsontest"
)

// gen writes random JSON text that stresses the codec: integer and float
// extremes, unicode and escapes, nested arrays, nulls.
type gen struct{ r *rand.Rand }

var extremes = []string{
	"0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
	"18446744073709551615", "18446744073709551616", "-9223372036854775809", "9007199254740993",
	"123456789012345678901234567890", "0.1", "-2.5e-8", "1.7976931348623157e308", "5e-324", "1e400",
	"3.0", "1E3", "4.9406564584124654e-324", "2.2250738585072014e-308",
}

var texts = []string{
	"", "plain", "é中😀", `quote " backslash \ slash /`, "ctl \x00\x01\x1f\t\n\r\b\f", "\u2028\u2029",
	"<html>&amp;</html>", "\U0010FFFF", "tab\there",
}

func (g gen) str(b *bytes.Buffer) {
	s := texts[g.r.IntN(len(texts))]
	if g.r.IntN(3) == 0 {
		// \u escapes, including a surrogate pair, as other writers emit them.
		b.WriteString(`"\u00e9\ud83d\ude00\u0041` + strconv.Itoa(g.r.IntN(100)) + `"`)
		return
	}
	q, _ := json.Marshal(s)
	b.Write(q)
}

func (g gen) value(b *bytes.Buffer, depth int) {
	n := 8
	if depth > 3 {
		n = 5 // scalars only
	}
	switch g.r.IntN(n) {
	case 0:
		b.WriteString("null")
	case 1:
		b.WriteString([]string{"true", "false"}[g.r.IntN(2)])
	case 2:
		b.WriteString(extremes[g.r.IntN(len(extremes))])
	case 3:
		b.WriteString(strconv.FormatFloat(g.r.NormFloat64()*1e6, 'g', -1, 64))
	case 4:
		g.str(b)
	case 5, 6:
		g.object(b, depth+1)
	default:
		b.WriteByte('[')
		for i := range g.r.IntN(4) {
			if i > 0 {
				b.WriteByte(',')
			}
			g.value(b, depth+1)
		}
		b.WriteByte(']')
	}
}

func (g gen) object(b *bytes.Buffer, depth int) {
	b.WriteByte('{')
	for i := range g.r.IntN(5) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, `"k%d":`, i)
		g.value(b, depth)
	}
	b.WriteByte('}')
}

// event writes a random CloudEvent: the required attributes, some optional
// ones, extensions of every JSON type and data of every form.
func (g gen) event(b *bytes.Buffer) {
	b.WriteString(`{"specversion":"1.0","id":`)
	g.str(b)
	b.Truncate(b.Len() - 1)
	b.WriteString(`-id"`) // never empty
	b.WriteString(`,"source":"s\u00e9","type":"com.example.t"`)
	if g.r.IntN(2) == 0 {
		b.WriteString(`,"time":"2025-03-04T05:06:07.123456+01:00"`)
	}
	if g.r.IntN(2) == 0 {
		b.WriteString(`,"subject":`)
		g.str(b)
	}
	for i := range g.r.IntN(3) {
		fmt.Fprintf(b, `,"ext%d":`, i)
		g.value(b, 1)
	}
	switch g.r.IntN(4) {
	case 0:
		b.WriteString(`,"data":null`)
	case 1:
		b.WriteString(`,"data_base64":"AP8Q"`)
	case 2:
		b.WriteString(`,"data":`)
		g.value(b, 4) // a scalar (bare big integers excepted below)
	default:
		b.WriteString(`,"data":`)
		g.object(b, 0)
	}
	b.WriteByte('}')
}

// TestRoundTrip: decode → encode → decode gives the same JSON value and the
// same log record, for every encoding that carries the whole event.
func TestRoundTrip(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	var d Decoder
	for i := 0; i < 3000; i++ {
		var in bytes.Buffer
		g.event(&in)
		if strings.Contains(in.String(), `"data":18446744073709551615`) || strings.Contains(in.String(), `"data":1844674407370955161`) ||
			strings.Contains(in.String(), `"data":9223372036854775808`) || strings.Contains(in.String(), `"data":-9223372036854775809`) ||
			strings.Contains(in.String(), `"data":123456789012345678901234567890`) || strings.Contains(in.String(), `"data":1e400`) {
			continue // the documented exception: a bare data number beyond int64
		}
		lr := plog.NewLogRecord()
		if err := d.Decode(in.Bytes(), lr); err != nil {
			t.Fatalf("Decode(%s): %v", in.Bytes(), err)
		}
		out, err := Structured{}.AppendEvent(nil, lr)
		if err != nil {
			t.Fatalf("encode %s: %v", in.Bytes(), err)
		}
		if eq, err := jsontest.Equal(in.Bytes(), out); err != nil || !eq {
			t.Fatalf("round trip changed the JSON value (%v)\n in: %s\nout: %s", err, in.Bytes(), out)
		}
		again := plog.NewLogRecord()
		if err := d.Decode(out, again); err != nil {
			t.Fatalf("Decode(%s): %v", out, err)
		}
		if !reflect.DeepEqual(recordView(lr), recordView(again)) {
			t.Fatalf("round trip changed the record\n in: %v\nout: %v", recordView(lr), recordView(again))
		}

		// Batch and JSON lines carry the same objects.
		for _, f := range []Framing{FramingArray, FramingLines} {
			b := Batch{Format: Structured{}, Framing: f}
			if err := b.Add(lr); err != nil {
				t.Fatal(err)
			}
			body := b.Body()
			var item []byte
			if f == FramingArray {
				var arr []json.RawMessage
				if err := json.Unmarshal(body, &arr); err != nil || len(arr) != 1 {
					t.Fatalf("batch body %s: %v", body, err)
				}
				item = arr[0]
			} else {
				item = bytes.TrimSuffix(body, []byte("\n"))
			}
			if !bytes.Equal(item, out) {
				t.Fatalf("framed event differs from the structured one:\n%s\n%s", item, out)
			}
		}
	}
}

// recordView is what a record holds, in a comparable form.
func recordView(lr plog.LogRecord) map[string]any {
	return map[string]any{
		"attrs": lr.Attributes().AsRaw(), "body": lr.Body().AsRaw(), "bodyType": lr.Body().Type().String(),
		"name": lr.EventName(), "ts": lr.Timestamp(),
	}
}

// TestSDKConformance parses Courier's structured, binary and batch encodings
// with the CloudEvents SDK's own HTTP binding, over a real loopback server.
func TestSDKConformance(t *testing.T) {
	type received struct {
		header http.Header
		body   []byte
	}
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), body}
	}))
	defer srv.Close()
	post := func(h http.Header, body []byte) received {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, bytes.NewReader(body))
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return <-got
	}
	toRequest := func(r received) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(r.body))
		req.Header = r.header
		return req
	}

	events := [][]byte{fixture(t, "nvsentinel.json"), fixture(t, "omniverse.json")}
	var d Decoder
	for _, in := range events {
		lr := plog.NewLogRecord()
		if err := d.Decode(in, lr); err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		_ = json.Unmarshal(in, &want)

		// Structured mode.
		body, err := Structured{}.AppendEvent(nil, lr)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := cehttp.NewEventFromHTTPRequest(toRequest(post(http.Header{"Content-Type": {ContentTypeStructured}}, body)))
		if err != nil {
			t.Fatalf("SDK rejected structured %s: %v", body, err)
		}
		checkSDKEvent(t, "structured", ev.ID(), ev.Source(), ev.Type(), ev.Time().Format("2006-01-02T15:04:05.999999999Z07:00"), ev.Data(), ev.Extensions(), want)

		// Binary mode.
		h := http.Header{}
		body, err = AppendBinary(h, nil, lr)
		if err != nil {
			t.Fatal(err)
		}
		ev, err = cehttp.NewEventFromHTTPRequest(toRequest(post(h, body)))
		if err != nil {
			t.Fatalf("SDK rejected binary %v %s: %v", h, body, err)
		}
		checkSDKEvent(t, "binary", ev.ID(), ev.Source(), ev.Type(), ev.Time().Format("2006-01-02T15:04:05.999999999Z07:00"), ev.Data(), ev.Extensions(), want)
	}

	// Batch mode: both events in one body.
	b := Batch{Format: Structured{}, Framing: FramingArray}
	for _, in := range events {
		lr := plog.NewLogRecord()
		_ = d.Decode(in, lr)
		if err := b.Add(lr); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := cehttp.NewEventsFromHTTPRequest(toRequest(post(http.Header{"Content-Type": {ContentTypeBatch}}, b.Body())))
	if err != nil || len(evs) != 2 {
		t.Fatalf("SDK batch: %d events, %v", len(evs), err)
	}
	for i, in := range events {
		var want map[string]any
		_ = json.Unmarshal(in, &want)
		ev := evs[i]
		checkSDKEvent(t, "batch", ev.ID(), ev.Source(), ev.Type(), ev.Time().Format("2006-01-02T15:04:05.999999999Z07:00"), ev.Data(), ev.Extensions(), want)
	}
}

func checkSDKEvent(t *testing.T, mode, id, source, typ, tm string, data []byte, ext map[string]any, want map[string]any) {
	t.Helper()
	if id != want["id"] || source != want["source"] || typ != want["type"] {
		t.Errorf("%s: id/source/type = %s %s %s, want %v %v %v", mode, id, source, typ, want["id"], want["source"], want["type"])
	}
	if wt, _ := want["time"].(string); tm != wt {
		t.Errorf("%s: time = %s, want %s", mode, tm, wt)
	}
	wantData, _ := json.Marshal(want["data"])
	if eq, err := jsontest.Equal(data, wantData); err != nil || !eq {
		t.Errorf("%s: data = %s, want %s", mode, data, wantData)
	}
	for k, v := range want {
		switch k {
		case "id", "source", "type", "time", "data", "specversion", "dataschema":
			continue
		}
		if fmt.Sprint(ext[k]) != fmt.Sprint(v) {
			t.Errorf("%s: extension %s = %v, want %v", mode, k, ext[k], v)
		}
	}
}
