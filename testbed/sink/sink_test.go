package sink

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// Every encoding of the exporter, built by pkg/cloudevent's encoders, is
// accepted and its events counted.
func TestEncodingsAccepted(t *testing.T) {
	for _, tc := range []struct{ enc, ct string }{
		{"structured", ""},
		{"binary", ""},
		{"batch", ""},
		{"jsonl", cloudevent.ContentTypeJSON},
		{"jsonl", cloudevent.ContentTypeNDJSON},
		{"jsonl_stringify", cloudevent.ContentTypeJSON},
		{"jsonl_stringify", cloudevent.ContentTypeNDJSON},
		{"json_list", cloudevent.ContentTypeJSON},
		{"nvdf", cloudevent.ContentTypeJSON},
		{"nvdf", cloudevent.ContentTypeNDJSON + "; charset=utf-8"},
	} {
		t.Run(tc.enc+" "+tc.ct, func(t *testing.T) {
			srv := httptest.NewServer(New(Config{}))
			defer srv.Close()
			reqs := encode(t, tc.enc, tc.ct, events(t, "app@host", "1", "2", "3"))
			for _, r := range reqs {
				if status, _ := post(t, srv.URL+"/events", r); status != http.StatusOK {
					t.Fatalf("status %d for %s", status, r.body)
				}
			}
			st := getStats(t, srv.URL)
			want := Stats{
				Requests: map[string]int64{"2xx": int64(len(reqs))}, Events: 3, Distinct: 3,
				ProtocolErrors: map[string]int64{},
			}
			if !reflect.DeepEqual(st, want) {
				t.Errorf("stats %+v, want %+v", st, want)
			}
		})
	}
}

// An empty batch is a valid batched-mode request.
func TestEmptyBatch(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	if status, _ := post(t, srv.URL, raw(cloudevent.ContentTypeBatch, " [ ] ")); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
}

// Bodies that do not parse or do not fit their content type are answered
// 400 and counted by reason; nothing of them is recorded.
func TestProtocolErrors(t *testing.T) {
	one := encode(t, "structured", "", events(t, "s", "1"))[0]
	batch := encode(t, "batch", "", events(t, "s", "1", "2"))[0]
	list := encode(t, "json_list", cloudevent.ContentTypeJSON, events(t, "s", "1", "2"))[0]
	lines := encode(t, "jsonl", cloudevent.ContentTypeJSON, events(t, "s", "1", "2"))[0]
	binary := encode(t, "binary", "", events(t, "s", "1"))[0]
	noSource := binary.header.Clone()
	noSource.Del("Ce-Source")
	badEscape := binary.header.Clone()
	badEscape.Set("Ce-Id", "a%zz")
	badData := binary.header.Clone()

	for _, tc := range []struct {
		name   string
		r      request
		reason string
	}{
		{"jsonl as text/plain", raw("text/plain", string(lines.body)), ReasonContentType},
		{"no content type", request{http.Header{}, one.body}, ReasonContentType},
		{"batch as structured", raw(cloudevent.ContentTypeStructured, string(batch.body)), ReasonShape},
		{"structured as batch", raw(cloudevent.ContentTypeBatch, string(one.body)), ReasonShape},
		{"json_list as ndjson", raw(cloudevent.ContentTypeNDJSON, string(list.body)), ReasonShape},
		{"jsonl as structured", raw(cloudevent.ContentTypeStructured, string(lines.body)), string(cloudevent.ReasonNotJSON)},
		{"bad structured JSON", raw(cloudevent.ContentTypeStructured, `{"id":"1",`), string(cloudevent.ReasonNotJSON)},
		{"bad batch JSON", raw(cloudevent.ContentTypeBatch, `[{"id":"1"}`), string(cloudevent.ReasonNotJSON)},
		{"bad second line", raw(cloudevent.ContentTypeJSON, string(lines.body)+"{oops}\n"), string(cloudevent.ReasonNotJSON)},
		{"not JSON at all", raw(cloudevent.ContentTypeJSON, "hello"), string(cloudevent.ReasonNotJSON)},
		{"empty jsonl", raw(cloudevent.ContentTypeNDJSON, "\n\n"), ReasonEmptyBody},
		{"event without id", raw(cloudevent.ContentTypeStructured, `{"specversion":"1.0","source":"s","type":"t"}`), string(cloudevent.ReasonMissingAttribute)},
		{"specversion 0.3", raw(cloudevent.ContentTypeStructured, `{"specversion":"0.3","id":"1","source":"s","type":"t"}`), string(cloudevent.ReasonSpecVersion)},
		{"NVDF line without _id", raw(cloudevent.ContentTypeNDJSON, `{"_id":"1","s_source":"s"}`+"\n"+`{"s_source":"s"}`+"\n"), string(cloudevent.ReasonMissingAttribute)},
		{"binary without ce-source", request{noSource, binary.body}, string(cloudevent.ReasonMissingAttribute)},
		{"binary bad escape", request{badEscape, binary.body}, ReasonBinaryHeader},
		{"binary data not JSON", request{badData, []byte("{not json")}, string(cloudevent.ReasonNotJSON)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(New(Config{}))
			defer srv.Close()
			if status, _ := post(t, srv.URL, tc.r); status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", status)
			}
			st := getStats(t, srv.URL)
			if st.ProtocolErrors[tc.reason] != 1 || len(st.ProtocolErrors) != 1 {
				t.Errorf("protocol errors %v, want one %q", st.ProtocolErrors, tc.reason)
			}
			if st.Events != 0 || st.Requests["4xx"] != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// Wrong path, wrong method and an oversized body are refused and counted.
func TestPathMethodSize(t *testing.T) {
	srv := httptest.NewServer(New(Config{Path: "/events", MaxBodyBytes: 100}))
	defer srv.Close()
	body := encode(t, "structured", "", events(t, "s", "1"))[0]
	if status, _ := post(t, srv.URL+"/other", body); status != http.StatusNotFound {
		t.Errorf("wrong path: status %d", status)
	}
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d", resp.StatusCode)
	}
	if status, _ := post(t, srv.URL+"/events", body); status != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: status %d", status)
	}
	st := getStats(t, srv.URL)
	want := map[string]int64{ReasonNotFound: 1, ReasonMethod: 1, ReasonTooLarge: 1}
	if !reflect.DeepEqual(st.ProtocolErrors, want) || st.Requests["4xx"] != 3 {
		t.Errorf("stats %+v", st)
	}
}

// Redeliveries count as duplicates; per source, a numeric id lower than the
// previous one counts as an order violation; other ids are not checked.
func TestDuplicatesAndOrder(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	send := func(enc, source string, ids ...string) {
		t.Helper()
		ct := cloudevent.ContentTypeJSON
		for _, r := range encode(t, enc, ct, events(t, source, ids...)) {
			if status, _ := post(t, srv.URL, r); status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
		}
	}
	send("batch", "a", "1", "2", "3")
	send("structured", "a", "2")           // duplicate, and 2 < 3
	send("jsonl", "b", "1", "5", "4")      // another source: 4 < 5
	send("nvdf", "b", "5")                 // duplicate via NVDF (_id, s_source), 5 > 4
	send("binary", "c", "x", "y", "x")     // not numeric: a duplicate, no order
	send("json_list", "a", "10", "9", "9") // 9 < 10; the second 9 is no violation

	st := getStats(t, srv.URL)
	if st.Events != 14 || st.Distinct != 10 || st.Duplicates != 4 || st.OrderViolations != 3 {
		t.Errorf("events %d distinct %d duplicates %d order violations %d, want 14 10 4 3",
			st.Events, st.Distinct, st.Duplicates, st.OrderViolations)
	}
}

// The same id from two sources is two events (CloudEvents identity is
// source + id).
func TestIdentityIsSourceAndID(t *testing.T) {
	s := New(Config{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	post(t, srv.URL, encode(t, "structured", "", events(t, "a", "1"))[0])
	post(t, srv.URL, encode(t, "structured", "", events(t, "b", "1"))[0])
	if st := s.Stats(); st.Distinct != 2 || st.Duplicates != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestToken(t *testing.T) {
	srv := httptest.NewServer(New(Config{Token: "s3cret"}))
	defer srv.Close()
	r := encode(t, "structured", "", events(t, "s", "1"))[0]
	for _, auth := range []string{"", "Bearer wrong", "s3cret", "Basic s3cret"} {
		r.header.Set("Authorization", auth)
		if status, _ := post(t, srv.URL, r); status != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d", auth, status)
		}
	}
	r.header.Set("Authorization", "Bearer s3cret")
	if status, _ := post(t, srv.URL, r); status != http.StatusOK {
		t.Errorf("right token: status %d", status)
	}
	// The control API needs no token.
	st := getStats(t, srv.URL)
	if st.Unauthorized != 4 || st.Events != 1 || st.Requests["4xx"] != 4 || st.Requests["2xx"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestControlAPI(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()

	status, body := control(t, srv.URL, "/_sink/faults",
		`{"latency":"1ms","unavailable_share":0.25,"too_many_share":0.5,"retry_after_seconds":7,"reject_ids":["a","b"]}`)
	if status != http.StatusOK {
		t.Fatalf("POST faults: %d %s", status, body)
	}
	want := `{"latency":"1ms","unavailable_share":0.25,"too_many_share":0.5,"retry_after_seconds":7,"reject_ids":["a","b"]}`
	if strings.TrimSpace(body) != want {
		t.Errorf("POST faults answered %s, want %s", body, want)
	}
	resp, err := http.Get(srv.URL + "/_sink/faults")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET faults: %d", resp.StatusCode)
	}

	for _, bad := range []string{
		`{"latency":"soon"}`, `{"unavailable_share":1.5}`, `{"unavailable_share":0.6,"too_many_share":0.6}`,
		`{"refuse_for":"-1s"}`, `{"latencyy":"1s"}`, `not json`,
	} {
		if status, body := control(t, srv.URL, "/_sink/faults", bad); status != http.StatusBadRequest {
			t.Errorf("POST faults %s: %d %s", bad, status, body)
		}
	}
	if status, _ := control(t, srv.URL, "/_sink/nothing", ""); status != http.StatusNotFound {
		t.Errorf("unknown control path: %d", status)
	}
	// Replacing with {} clears every fault.
	if status, body := control(t, srv.URL, "/_sink/faults", `{}`); status != http.StatusOK || strings.TrimSpace(body) != "{}" {
		t.Errorf("clear faults: %d %s", status, body)
	}

	// Control requests are not deliveries.
	if st := getStats(t, srv.URL); len(st.Requests) != 0 || len(st.ProtocolErrors) != 0 {
		t.Errorf("control requests counted: %+v", st)
	}

	post(t, srv.URL, encode(t, "structured", "", events(t, "s", "1"))[0])
	if st := getStats(t, srv.URL); st.Events != 1 {
		t.Fatalf("stats %+v", st)
	}
	if status, _ := control(t, srv.URL, "/_sink/reset", ""); status != http.StatusNoContent {
		t.Errorf("reset: %d", status)
	}
	post(t, srv.URL, encode(t, "structured", "", events(t, "s", "1"))[0])
	if st := getStats(t, srv.URL); st.Events != 1 || st.Duplicates != 0 || st.Requests["2xx"] != 1 {
		t.Errorf("after reset: %+v", st)
	}
}

func TestAuthorizeAndOnEvent(t *testing.T) {
	type seen struct {
		id  string
		dup bool
	}
	var got []seen
	srv := httptest.NewServer(New(Config{
		Token:     "ignored when Authorize is set",
		Authorize: func(token string) bool { return token == "live" },
		OnEvent:   func(_, id string, dup bool) { got = append(got, seen{id, dup}) },
	}))
	defer srv.Close()
	r := encode(t, "batch", "", events(t, "s", "1", "2"))[0]
	for auth, want := range map[string]int{"Bearer expired": 401, "live": 401, "Bearer live": 200} {
		r.header.Set("Authorization", auth)
		if status, _ := post(t, srv.URL, r); status != want {
			t.Errorf("Authorization %q: status %d, want %d", auth, status, want)
		}
	}
	r.header.Set("Authorization", "Bearer live")
	if status, _ := post(t, srv.URL, r); status != http.StatusOK {
		t.Fatalf("second delivery: %d", status)
	}
	want := []seen{{"1", false}, {"2", false}, {"1", true}, {"2", true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("OnEvent calls %v, want %v", got, want)
	}
}
