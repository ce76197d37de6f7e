package sink

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestLatency(t *testing.T) {
	const latency = 50 * time.Millisecond
	srv := httptest.NewServer(New(Config{Faults: Faults{Latency: latency}}))
	defer srv.Close()
	r := encode(t, "structured", "", events(t, "s", "1"))[0]
	start := time.Now()
	if status, _ := post(t, srv.URL, r); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if took := time.Since(start); took < latency {
		t.Errorf("answered after %v, before the %v of latency", took, latency)
	}
}

// About the configured share of requests is answered 503, and those are
// not recorded.
func TestUnavailableShare(t *testing.T) {
	s := New(Config{Seed: 1, Faults: Faults{UnavailableShare: 0.3}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	r := encode(t, "structured", "", events(t, "s", "1"))[0]
	n503 := 0
	for range 1000 {
		switch status, _ := post(t, srv.URL, r); status {
		case http.StatusServiceUnavailable:
			n503++
		case http.StatusOK:
		default:
			t.Fatalf("status %d", status)
		}
	}
	if n503 < 200 || n503 > 400 {
		t.Errorf("%d of 1000 answered 503 with a share of 0.3", n503)
	}
	st := s.Stats()
	if st.Requests["5xx"] != int64(n503) || st.Events != int64(1000-n503) {
		t.Errorf("stats %+v after %d 503s", st, n503)
	}
}

// The same seed gives the same answers to the same requests.
func TestSharesDeterministic(t *testing.T) {
	r := encode(t, "structured", "", events(t, "s", "1"))[0]
	run := func(seed uint64) []int {
		s := New(Config{Seed: seed, Faults: Faults{UnavailableShare: 0.3, TooManyShare: 0.3}})
		var statuses []int
		for range 200 {
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(r.body))
			req.Header = r.header.Clone()
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			statuses = append(statuses, w.Code)
		}
		return statuses
	}
	a, b, c := run(7), run(7), run(8)
	if !slices.Equal(a, b) {
		t.Error("seed 7 gave two different sequences")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 7 and 8 gave the same sequence")
	}
}

func TestTooManyRequestsRetryAfter(t *testing.T) {
	s := New(Config{Faults: Faults{TooManyShare: 1, RetryAfterSeconds: 3}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	status, h := post(t, srv.URL, encode(t, "structured", "", events(t, "s", "1"))[0])
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "3" {
		t.Errorf("status %d, Retry-After %q; want 429 and 3", status, h.Get("Retry-After"))
	}
	if st := s.Stats(); st.Events != 0 || st.Requests["4xx"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A request holding a refused id is refused whole; others go through.
func TestRejectIDs(t *testing.T) {
	s := New(Config{Faults: Faults{RejectIDs: []string{"2"}}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	if status, _ := post(t, srv.URL, encode(t, "batch", "", events(t, "s", "1", "2", "3"))[0]); status != http.StatusBadRequest {
		t.Errorf("batch with id 2: status %d", status)
	}
	if status, _ := post(t, srv.URL, encode(t, "nvdf", "application/json", events(t, "s", "2"))[0]); status != http.StatusBadRequest {
		t.Errorf("NVDF with _id 2: status %d", status)
	}
	if status, _ := post(t, srv.URL, encode(t, "batch", "", events(t, "s", "1", "3"))[0]); status != http.StatusOK {
		t.Errorf("batch without id 2: status %d", status)
	}
	if st := s.Stats(); st.Rejected != 2 || st.Events != 2 || len(st.ProtocolErrors) != 0 {
		t.Errorf("stats %+v", st)
	}
}

// tryPost is post that reports a network error instead of failing.
func tryPost(url string, r request) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(r.body))
	if err != nil {
		return 0, err
	}
	req.Header = r.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// waitDelivered posts r until it is accepted, within a bound.
func waitDelivered(t *testing.T, url string, r request) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, err := tryPost(url, r)
		if err == nil && status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not delivered after 10 s: status %d, %v", status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With Serve, refuse_for closes the listener (connecting fails) and opens
// it again on the same address.
func TestRefuseConnections(t *testing.T) {
	s := New(Config{})
	sv, err := Serve(s, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sv.Close() }()
	r := encode(t, "structured", "", events(t, "s", "1"))[0]
	if status, _ := post(t, sv.URL, r); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}

	if status, body := control(t, sv.URL, "/_sink/faults", `{"refuse_for":"300ms"}`); status != http.StatusOK {
		t.Fatalf("POST faults: %d %s", status, body)
	}
	// The listener is closed before the control request is answered.
	if c, err := net.Dial("tcp", sv.Addr); err == nil {
		_ = c.Close()
		t.Fatal("connected during the refusal")
	}
	if _, err := tryPost(sv.URL, r); err == nil {
		t.Fatal("delivered during the refusal")
	}
	waitDelivered(t, sv.URL, r)
	if err := sv.Err(); err != nil {
		t.Fatal(err)
	}
	if st := getStats(t, sv.URL); st.Events != 2 || st.Duplicates != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A refusal in Config starts with the server.
func TestRefuseAtStart(t *testing.T) {
	sv, err := Serve(New(Config{Faults: Faults{RefuseFor: 200 * time.Millisecond}}), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sv.Close() }()
	if c, err := net.Dial("tcp", sv.Addr); err == nil {
		_ = c.Close()
		t.Fatal("connected during the refusal")
	}
	waitDelivered(t, sv.URL, encode(t, "structured", "", events(t, "s", "1"))[0])
}

// As a bare handler the sink closes each connection unanswered instead.
func TestRefuseAsHandler(t *testing.T) {
	s := New(Config{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	if err := s.SetFaults(Faults{RefuseFor: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	r := encode(t, "structured", "", events(t, "s", "1"))[0]
	if _, err := tryPost(srv.URL, r); err == nil {
		t.Fatal("answered during the refusal")
	}
	waitDelivered(t, srv.URL, r)
	if st := s.Stats(); st.Refused == 0 || st.Events != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Shutdown during a refusal ends cleanly and the listener stays closed.
func TestShutdownWhileRefusing(t *testing.T) {
	sv, err := Serve(New(Config{}), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sv.refuse(50 * time.Millisecond)
	if err := sv.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if c, err := net.Dial("tcp", sv.Addr); err == nil {
		_ = c.Close()
		t.Error("listening again after Close")
	}
}
