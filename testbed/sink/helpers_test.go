package sink

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// request is one HTTP request of an encoding: headers and body.
type request struct {
	header http.Header
	body   []byte
}

// events decodes pkg/cloudevent's Omniverse sample once per id, with that
// id and, when not empty, that source.
func events(t testing.TB, source string, ids ...string) []plog.LogRecord {
	t.Helper()
	b, err := os.ReadFile("../../pkg/cloudevent/testdata/omniverse.json")
	if err != nil {
		t.Fatal(err)
	}
	var d cloudevent.Decoder
	out := make([]plog.LogRecord, len(ids))
	for i, id := range ids {
		lr := plog.NewLogRecord()
		if err := d.Decode(b, lr); err != nil {
			t.Fatal(err)
		}
		lr.Attributes().PutStr(cloudevent.AttrID, id)
		if source != "" {
			lr.Attributes().PutStr(cloudevent.AttrSource, source)
		}
		out[i] = lr
	}
	return out
}

// encode builds the requests the exporter sends for evs in encoding enc,
// with pkg/cloudevent's encoders; ct is the content_type of the batching
// Omniverse encodings.
func encode(t testing.TB, enc, ct string, evs []plog.LogRecord) []request {
	t.Helper()
	var reqs []request
	switch enc {
	case "structured":
		for _, lr := range evs {
			b, err := cloudevent.Structured{}.AppendEvent(nil, lr)
			if err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, request{http.Header{"Content-Type": {cloudevent.ContentTypeStructured}}, b})
		}
		return reqs
	case "binary":
		for _, lr := range evs {
			h := http.Header{}
			b, err := cloudevent.AppendBinary(h, nil, lr)
			if err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, request{h, b})
		}
		return reqs
	}
	batch := cloudevent.Batch{Format: cloudevent.Structured{}, Framing: cloudevent.FramingLines}
	switch enc {
	case "batch":
		batch.Framing, ct = cloudevent.FramingArray, cloudevent.ContentTypeBatch
	case "json_list":
		batch.Framing = cloudevent.FramingArray
	case "jsonl_stringify":
		batch.Format = cloudevent.Stringified{}
	case "nvdf":
		batch.Format = cloudevent.NVDF{}
	case "jsonl":
	default:
		t.Fatalf("unknown encoding %q", enc)
	}
	for _, lr := range evs {
		if err := batch.Add(lr); err != nil {
			t.Fatal(err)
		}
	}
	body := append([]byte(nil), batch.Body()...)
	return append(reqs, request{http.Header{"Content-Type": {ct}}, body})
}

// post sends one request and returns the answer's status and headers.
func post(t testing.TB, url string, r request) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// raw is a request with a content type and a literal body.
func raw(ct, body string) request {
	return request{http.Header{"Content-Type": {ct}}, []byte(body)}
}

// getStats reads the counts through the control API.
func getStats(t testing.TB, base string) Stats {
	t.Helper()
	resp, err := http.Get(base + "/_sink/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// control POSTs a JSON body to a control path and returns the status and
// the answer.
func control(t testing.TB, base, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
