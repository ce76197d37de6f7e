package cloudeventsexporter

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// eventID reads the id of a structured-mode request.
func eventID(t *testing.T, r sinkRequest) string {
	var ev struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(r.body, &ev))
	return ev.ID
}

// TestPermanentFailureDeadLettered: a 400 is not retried, the event goes to
// the dead-letter file with reason and status, and the next events are
// still delivered.
func TestPermanentFailureDeadLettered(t *testing.T) {
	s := newSink(t, func(w http.ResponseWriter, _ int, r sinkRequest) {
		if strings.Contains(string(r.body), `"id":"poison"`) {
			http.Error(w, `{"error":"schema mismatch"}`, http.StatusBadRequest)
		}
	})
	cfg := withQueue(testConfig(s.URL))
	cfg.DeadLetter.Directory = t.TempDir()
	exp := startExporter(t, cfg, nil)

	consume(t, exp, makeLogs(t, "before", "poison"))
	consume(t, exp, makeLogs(t, "after-1", "after-2"))
	eventually(t, "the good events", func() bool {
		return exp.counter(t, "events.sent") == 3 && exp.counter(t, "events.dead_lettered") == 1
	})

	attempts := 0
	for _, r := range s.requests() {
		if eventID(t, r) == "poison" {
			attempts++
		}
	}
	assert.Equal(t, 1, attempts, "a 400 is not retried")
	assert.EqualValues(t, 1, exp.counter(t, "events.dead_lettered", attribute.String("reason", "rejected")))

	lines := readDeadLetters(t, cfg.DeadLetter.Directory)
	require.Len(t, lines, 1)
	l := lines[0]
	assert.Equal(t, "poison", l.eventID(t))
	assert.Equal(t, "rejected", l.Reason)
	assert.Equal(t, http.StatusBadRequest, l.Status)
	assert.Equal(t, s.URL, l.Endpoint)
	assert.Contains(t, l.Error, "400 Bad Request")
	assert.Contains(t, l.Error, "schema mismatch", "the sink's answer helps the operator")
	assert.WithinDuration(t, time.Now(), l.Time, time.Minute)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(l.Event, &ev), "event is the structured CloudEvent")
	assert.Equal(t, "com.nvidia.omni.kit.internal.generic", ev["type"])
}

// TestRetryAfterSeconds: a 503 with Retry-After: 1 makes the next attempt
// wait at least a second, although the backoff is 5 ms.
func TestRetryAfterSeconds(t *testing.T) {
	s := newSink(t, func(w http.ResponseWriter, n int, _ sinkRequest) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	cfg := testConfig(s.URL)
	cfg.RetryConfig.MaxInterval = time.Minute
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "a"))

	reqs := s.requests()
	require.Len(t, reqs, 2)
	assert.GreaterOrEqual(t, reqs[1].at.Sub(reqs[0].at), time.Second)
	assert.EqualValues(t, 1, exp.counter(t, "retries", attribute.String("reason", "status_5xx")))
	assert.EqualValues(t, 1, exp.counter(t, "events.sent"))
}

// TestRetryAfterDate: the HTTP-date form of Retry-After.
func TestRetryAfterDate(t *testing.T) {
	s := newSink(t, func(w http.ResponseWriter, n int, _ sinkRequest) {
		if n == 0 {
			// HTTP dates have whole seconds: now+2s truncated is ≥ 1 s away.
			w.Header().Set("Retry-After", time.Now().Add(2*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	cfg := testConfig(s.URL)
	cfg.RetryConfig.MaxInterval = time.Minute
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "a"))

	reqs := s.requests()
	require.Len(t, reqs, 2)
	assert.GreaterOrEqual(t, reqs[1].at.Sub(reqs[0].at), 900*time.Millisecond)
}

// TestTooManyRequests: 429 (and 408) are retried until accepted.
func TestTooManyRequests(t *testing.T) {
	s := newSink(t, func(w http.ResponseWriter, n int, _ sinkRequest) {
		switch n {
		case 0, 1:
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusRequestTimeout)
		}
	})
	exp := startExporter(t, testConfig(s.URL), nil)
	consume(t, exp, makeLogs(t, "a"))
	assert.Equal(t, 4, s.count())
	assert.EqualValues(t, 2, exp.counter(t, "retries", attribute.String("reason", "status_429")))
	assert.EqualValues(t, 1, exp.counter(t, "retries", attribute.String("reason", "status_408")))
	assert.EqualValues(t, 1, exp.counter(t, "events.sent"))
	assert.EqualValues(t, 3, exp.counter(t, "requests", attribute.String("status_class", "4xx")))
}

// TestMaxRetriesExact: a sink that always fails gets exactly max_retries+1
// attempts, then the event is dead-lettered as retries_exhausted.
func TestMaxRetriesExact(t *testing.T) {
	for _, maxRetries := range []int{0, 3, 17} {
		t.Run(fmt.Sprint(maxRetries), func(t *testing.T) {
			s := newSink(t, status(http.StatusInternalServerError))
			cfg := testConfig(s.URL)
			cfg.RetryConfig.InitialInterval = time.Millisecond
			cfg.RetryConfig.MaxInterval = 2 * time.Millisecond
			cfg.RetryConfig.MaxRetries = maxRetries
			cfg.DeadLetter.Directory = t.TempDir()
			exp := startExporter(t, cfg, nil)
			consume(t, exp, makeLogs(t, "a"))

			assert.Equal(t, maxRetries+1, s.count())
			assert.EqualValues(t, maxRetries, exp.counter(t, "retries"))
			lines := readDeadLetters(t, cfg.DeadLetter.Directory)
			require.Len(t, lines, 1)
			assert.Equal(t, "retries_exhausted", lines[0].Reason)
			assert.Equal(t, http.StatusInternalServerError, lines[0].Status)
			assert.Contains(t, lines[0].Error, fmt.Sprintf("gave up after %d retries", maxRetries))
		})
	}
}

// TestSeedBackoffGivesSeventeenRetries: the NVSentinel seed (17 retries, 1 s
// to 5 m, ×2) waits 17 times, it is not cut to 9 by the cap.
func TestSeedBackoffGivesSeventeenRetries(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.RetryConfig.RandomizationFactor = 0
	e := &ceExporter{cfg: cfg}
	var waits []time.Duration
	for n := 0; n < cfg.RetryConfig.MaxRetries; n++ {
		waits = append(waits, e.backoff(n))
	}
	require.Len(t, waits, 17)
	assert.Equal(t, time.Second, waits[0])
	assert.Equal(t, 256*time.Second, waits[8])
	for _, w := range waits[9:] {
		assert.Equal(t, 5*time.Minute, w)
	}
}

func TestRetryWait(t *testing.T) {
	const maxInterval = 5 * time.Minute
	// The time the failed attempt took counts towards the wait (SPEC B.7).
	assert.Equal(t, time.Second, retryWait(4*time.Second, 3*time.Second, -1, maxInterval))
	assert.Equal(t, time.Duration(0), retryWait(time.Second, 3*time.Second, -1, maxInterval))
	// Retry-After is a lower bound, not shortened by the attempt's time.
	assert.Equal(t, 10*time.Second, retryWait(time.Second, 3*time.Second, 10*time.Second, maxInterval))
	assert.Equal(t, 4*time.Second, retryWait(4*time.Second, 0, time.Second, maxInterval))
	// A far-off Retry-After is capped.
	assert.Equal(t, maxInterval, retryWait(time.Second, 0, 24*time.Hour, maxInterval))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 7, 14, 10, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"Tue, 14 Jul 2026 10:30:30 GMT", 30 * time.Second, true},
		{"Tue, 14 Jul 2026 10:29:00 GMT", 0, true}, // in the past: now
		{"99999999999999999999", 0, false},
		{"9223372036854775807", time.Duration(1<<63 - 1).Truncate(time.Second), true},
	} {
		got, ok := parseRetryAfter(tt.in, now)
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

// TestNetworkErrorRetried: a closed port is a network error, retried and
// counted; when the retries run out the event is dead-lettered.
func TestNetworkErrorRetried(t *testing.T) {
	cfg := testConfig(closedURL(t))
	cfg.RetryConfig.MaxRetries = 3
	cfg.DeadLetter.Directory = t.TempDir()
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "a"))

	assert.EqualValues(t, 4, exp.counter(t, "requests", attribute.String("status_class", "network_error")))
	assert.EqualValues(t, 3, exp.counter(t, "retries", attribute.String("reason", "network_error")))
	lines := readDeadLetters(t, cfg.DeadLetter.Directory)
	require.Len(t, lines, 1)
	assert.Equal(t, "retries_exhausted", lines[0].Reason)
	assert.Zero(t, lines[0].Status, "no answer, no status")
	assert.Contains(t, lines[0].Error, "connection refused")
}

// TestNetworkErrorThenUp: the endpoint comes up while the exporter retries
// and the event is delivered.
func TestNetworkErrorThenUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	cfg := testConfig("http://" + addr + "/events")
	cfg.RetryConfig.InitialInterval = 20 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 20 * time.Millisecond
	cfg.RetryConfig.MaxRetries = -1
	exp := startExporter(t, cfg, nil)
	done := make(chan error, 1)
	go func() { done <- exp.ConsumeLogs(t.Context(), makeLogs(t, "a")) }()
	eventually(t, "a failed attempt", func() bool {
		return exp.counter(t, "requests", attribute.String("status_class", "network_error")) > 0
	})

	ln, err = net.Listen("tcp", addr)
	require.NoError(t, err, "listen again on %s", addr)
	s := newSinkOn(t, ln, nil)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("not delivered after the endpoint came up")
	}
	assert.Equal(t, 1, s.count())
	assert.EqualValues(t, 1, exp.counter(t, "events.sent"))
}

// TestFailover: after retry_limit retries on the first endpoint the
// exporter moves to the second, and stays there for the next events.
func TestFailover(t *testing.T) {
	primary := newSink(t, status(http.StatusBadGateway))
	secondary := newSink(t, nil)
	cfg := testConfig(primary.URL, secondary.URL)
	cfg.Failover.RetryLimit = 2
	exp := startExporter(t, cfg, nil)

	consume(t, exp, makeLogs(t, "first"))
	assert.Equal(t, 3, primary.count(), "retry_limit 2: three attempts on the first endpoint")
	assert.Equal(t, 1, secondary.count())
	assert.EqualValues(t, 1, exp.counter(t, "failovers"))

	consume(t, exp, makeLogs(t, "second"))
	assert.Equal(t, 3, primary.count(), "the exporter stays on the working endpoint")
	assert.Equal(t, 2, secondary.count())
	assert.EqualValues(t, 2, exp.counter(t, "events.sent", attribute.String("endpoint", secondary.URL)))
}

// TestFailoverCycles: with both endpoints down the exporter cycles through
// them; max_retries bounds the total.
func TestFailoverCycles(t *testing.T) {
	a := newSink(t, status(http.StatusServiceUnavailable))
	b := newSink(t, status(http.StatusServiceUnavailable))
	cfg := testConfig(a.URL, b.URL)
	cfg.Failover.RetryLimit = 1
	cfg.RetryConfig.MaxRetries = 6
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "x"))
	// a a b b a a b: 7 attempts.
	assert.Equal(t, 4, a.count())
	assert.Equal(t, 3, b.count())
	assert.EqualValues(t, 3, exp.counter(t, "failovers"))
	assert.EqualValues(t, 1, exp.counter(t, "events.dead_lettered", attribute.String("reason", "retries_exhausted")))
}

// TestMaxElapsedTime bounds the time spent on one event.
func TestMaxElapsedTime(t *testing.T) {
	s := newSink(t, status(http.StatusInternalServerError))
	cfg := testConfig(s.URL)
	cfg.RetryConfig.InitialInterval = 100 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 100 * time.Millisecond
	cfg.RetryConfig.MaxElapsedTime = 250 * time.Millisecond
	cfg.RetryConfig.MaxRetries = -1
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "a"))
	assert.LessOrEqual(t, s.count(), 3)
	assert.EqualValues(t, 1, exp.counter(t, "events.dead_lettered", attribute.String("reason", "retries_exhausted")))
}

// TestRetryDisabled: one attempt only.
func TestRetryDisabled(t *testing.T) {
	s := newSink(t, status(http.StatusInternalServerError))
	cfg := testConfig(s.URL)
	cfg.RetryConfig.Enabled = false
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "a"))
	assert.Equal(t, 1, s.count())
	assert.EqualValues(t, 1, exp.counter(t, "events.dead_lettered", attribute.String("reason", "retries_exhausted")))
}

// TestMaxEventSize: an event over max_event_size is dead-lettered with
// reason too_large and never sent; the others are.
func TestMaxEventSize(t *testing.T) {
	for _, enc := range []Encoding{EncodingStructured, EncodingBinary, EncodingJSONL, EncodingJSONList} {
		t.Run(string(enc), func(t *testing.T) {
			s := newSink(t, nil)
			cfg := testConfig(s.URL)
			cfg.Encoding = enc
			cfg.MaxEventSize = 1500
			cfg.DeadLetter.Directory = t.TempDir()
			exp := startExporter(t, cfg, nil)
			ld := makeLogs(t, "small-1", "big", "small-2")
			big := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(1)
			big.Body().Map().PutStr("message", strings.Repeat("x", 2000))
			consume(t, exp, ld)

			for _, r := range s.requests() {
				assert.NotContains(t, string(r.body), `"big"`)
				assert.NotContains(t, string(r.body), strings.Repeat("x", 2000))
			}
			assert.EqualValues(t, 2, exp.counter(t, "events.sent"))
			lines := readDeadLetters(t, cfg.DeadLetter.Directory)
			require.Len(t, lines, 1)
			assert.Equal(t, "too_large", lines[0].Reason)
			assert.Equal(t, "big", lines[0].eventID(t))
			assert.Contains(t, lines[0].Error, "max_event_size")
		})
	}
}

// TestOverTransmissionLimit: an event that can never fit in a body is
// dead-lettered; the rest go.
func TestOverTransmissionLimit(t *testing.T) {
	s := newSink(t, nil)
	cfg := testConfig(s.URL)
	cfg.Encoding = EncodingJSONL
	cfg.TransmissionLimit = 1500
	cfg.DeadLetter.Directory = t.TempDir()
	exp := startExporter(t, cfg, nil)
	ld := makeLogs(t, "small-1", "big", "small-2")
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(1).Body().Map().PutStr("message", strings.Repeat("x", 2000))
	consume(t, exp, ld)
	assert.EqualValues(t, 2, exp.counter(t, "events.sent"))
	lines := readDeadLetters(t, cfg.DeadLetter.Directory)
	require.Len(t, lines, 1)
	assert.Equal(t, "too_large", lines[0].Reason)
	assert.Contains(t, lines[0].Error, "transmission_limit")
}

// TestNotEncodable: an event without an id cannot be a CloudEvent; it is
// dead-lettered as OTLP JSON with the encoder's reason.
func TestNotEncodable(t *testing.T) {
	s := newSink(t, nil)
	cfg := testConfig(s.URL)
	cfg.DeadLetter.Directory = t.TempDir()
	exp := startExporter(t, cfg, nil)
	ld := makeLogs(t, "ok", "broken")
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(1).Attributes().Remove(cloudevent.AttrID)
	consume(t, exp, ld)
	assert.Equal(t, 1, s.count())
	lines := readDeadLetters(t, cfg.DeadLetter.Directory)
	require.Len(t, lines, 1)
	assert.Equal(t, "missing_attribute", lines[0].Reason)
	assert.Empty(t, lines[0].Event)
	assert.Contains(t, string(lines[0].LogRecord), `"resourceLogs"`)
	assert.Contains(t, string(lines[0].LogRecord), "extension.startup")
}

// TestNoDeadLetterDirectory: without a directory dead-lettered events are
// still counted, and counted as not kept.
func TestNoDeadLetterDirectory(t *testing.T) {
	s := newSink(t, status(http.StatusUnprocessableEntity))
	exp := startExporter(t, testConfig(s.URL), nil)
	consume(t, exp, makeLogs(t, "a", "b"))
	assert.EqualValues(t, 2, exp.counter(t, "events.dead_lettered", attribute.String("reason", "rejected")))
	assert.EqualValues(t, 2, exp.counter(t, "dead_letter.dropped", attribute.String("reason", "no_directory")))
}

// TestDeadLetterFull: the bound of the dead-letter directory holds, and
// what it cannot keep is counted.
func TestDeadLetterFull(t *testing.T) {
	s := newSink(t, status(http.StatusBadRequest))
	cfg := testConfig(s.URL)
	cfg.DeadLetter.Directory = t.TempDir()
	cfg.DeadLetter.MaxSize = 4000 // four or five records
	cfg.DeadLetter.OnFull = "drop_new"
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, ids("x", 10)...))
	kept := len(readDeadLetters(t, cfg.DeadLetter.Directory))
	assert.Positive(t, kept)
	assert.Less(t, kept, 10)
	assert.EqualValues(t, 10-kept, exp.counter(t, "dead_letter.dropped", attribute.String("reason", "full")))
}

// TestRedirects: 307/308 keep the POST and are followed; a 302 (which
// net/http would turn into a bodiless GET) is a permanent failure, never a
// silent success.
func TestRedirects(t *testing.T) {
	target := newSink(t, nil)
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			before := target.count()
			s := newSink(t, func(w http.ResponseWriter, _ int, _ sinkRequest) {
				w.Header().Set("Location", target.URL)
				w.WriteHeader(code)
			})
			cfg := testConfig(s.URL)
			cfg.DeadLetter.Directory = t.TempDir()
			exp := startExporter(t, cfg, nil)
			consume(t, exp, makeLogs(t, "a"))
			if code == http.StatusFound {
				assert.Equal(t, before, target.count())
				lines := readDeadLetters(t, cfg.DeadLetter.Directory)
				require.Len(t, lines, 1)
				assert.Equal(t, "rejected", lines[0].Reason)
				assert.Equal(t, code, lines[0].Status)
				return
			}
			require.Equal(t, before+1, target.count())
			assert.Contains(t, string(target.requests()[before].body), `"id":"a"`)
			assert.EqualValues(t, 1, exp.counter(t, "events.sent"))
		})
	}
}

// TestErrorsHideEndpointSecrets: a key in the endpoint's query does not
// reach the dead-letter file.
func TestErrorsHideEndpointSecrets(t *testing.T) {
	cfg := testConfig(closedURL(t) + "/events?api_key=s3cr3t")
	cfg.RetryConfig.MaxRetries = 0
	cfg.DeadLetter.Directory = t.TempDir()
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "a"))
	lines := readDeadLetters(t, cfg.DeadLetter.Directory)
	require.Len(t, lines, 1)
	assert.NotContains(t, lines[0].Error, "s3cr3t")
	assert.NotContains(t, lines[0].Endpoint, "s3cr3t")
}
