package cloudeventsexporter

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/arc"
	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/metadata"
)

// gauge reads an int64 or float64 gauge of the exporter; ok is false when
// it has no data point.
func (te *testExporter) gauge(t testing.TB, name string) (v float64, ok bool) {
	t.Helper()
	m, err := te.tel.GetMetric("courier.cloudevents_exporter." + name)
	if err != nil {
		return 0, false
	}
	switch g := m.Data.(type) {
	case metricdata.Gauge[int64]:
		if len(g.DataPoints) == 0 {
			return 0, false
		}
		return float64(g.DataPoints[0].Value), true
	case metricdata.Gauge[float64]:
		if len(g.DataPoints) == 0 {
			return 0, false
		}
		return g.DataPoints[0].Value, true
	}
	t.Fatalf("%s is a %T, not a gauge", name, m.Data)
	return 0, false
}

// serialSink handles one request at a time, each taking d, as a
// single-threaded server does; requests beyond the one being handled wait
// (in the listen queue, for a real one).
func serialSink(d time.Duration) func(http.ResponseWriter, int, sinkRequest) {
	var mu sync.Mutex
	return func(w http.ResponseWriter, _ int, _ sinkRequest) {
		mu.Lock()
		time.Sleep(d)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}
}

// TestAdaptiveConcurrencyGentleWithSmallSink: a sink that serves one
// request at a time. In fixed mode the exporter keeps concurrency requests
// waiting at it; the adaptive limit keeps only a few in flight (the round
// trip doubles with each request queued), and delivers everything.
func TestAdaptiveConcurrencyGentleWithSmallSink(t *testing.T) {
	for _, mode := range []ConcurrencyMode{ConcurrencyAdaptive, ConcurrencyFixed} {
		t.Run(string(mode), func(t *testing.T) {
			s := newSink(t, serialSink(time.Millisecond))
			cfg := testConfig(s.URL)
			cfg.ConcurrencyMode = mode
			cfg.Concurrency = 64
			exp := startExporter(t, cfg, nil)
			consume(t, exp, makeLogsFrom(t, nvsentinelEvent, ids("small", 600)...))
			assert.Equal(t, 600, s.count())
			peak := int(s.maxInFlight.Load())
			limit, ok := exp.gauge(t, "concurrency.limit")
			require.True(t, ok, "concurrency.limit is reported")
			if mode == ConcurrencyFixed {
				assert.Equal(t, 64.0, limit)
				assert.Greater(t, peak, 32, "fixed mode keeps concurrency requests at the sink")
				return
			}
			assert.LessOrEqual(t, peak, 8, "requests at the sink at once")
			assert.LessOrEqual(t, limit, 8.0)
			rtt, ok := exp.gauge(t, "concurrency.rtt")
			require.True(t, ok, "concurrency.rtt is reported")
			assert.Greater(t, rtt, 0.0005)
			base, ok := exp.gauge(t, "concurrency.rtt_baseline")
			require.True(t, ok)
			assert.Greater(t, base, 0.0)
			assert.LessOrEqual(t, base, rtt)
		})
	}
}

// TestAdaptiveConcurrencyFillsFarSink: a sink 200 ms away with no capacity
// limit: the limit grows to concurrency. (200 ms: on a busy machine, or
// under the race detector, the exporter's own scheduling delays must stay
// small beside the round trip, or slow start ends early.)
func TestAdaptiveConcurrencyFillsFarSink(t *testing.T) {
	s := newSink(t, func(w http.ResponseWriter, _ int, _ sinkRequest) {
		time.Sleep(200 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	cfg := testConfig(s.URL)
	cfg.Concurrency = 64
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogsFrom(t, nvsentinelEvent, ids("far", 1500)...))
	assert.Equal(t, 1500, s.count())
	// Slow start reaches 64 in 7 round trips; a busy machine may end it a
	// little early (it stops doubling when the round-trip time rises).
	limit, _ := exp.gauge(t, "concurrency.limit")
	assert.GreaterOrEqual(t, limit, 48.0)
	assert.GreaterOrEqual(t, s.maxInFlight.Load(), int32(48))
}

// TestAdaptiveConcurrencyBacksOffOn503: a sink that answers 503 to every
// other request. The limit drops from 64 to a few requests, and every
// event arrives.
func TestAdaptiveConcurrencyBacksOffOn503(t *testing.T) {
	var n atomic.Int64
	delivered := map[string]bool{}
	var mu sync.Mutex
	s := newSink(t, func(w http.ResponseWriter, _ int, r sinkRequest) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		for _, id := range eventIDs(r.body) {
			mu.Lock()
			delivered[id] = true
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	})
	cfg := testConfig(s.URL)
	cfg.Concurrency = 64
	cfg.AdaptiveConcurrency.InitialLimit = 64
	cfg.RetryConfig.MaxRetries = -1
	cfg.DeadLetter.Directory = t.TempDir()
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogsFrom(t, nvsentinelEvent, ids("busy", 500)...))
	mu.Lock()
	assert.Len(t, delivered, 500)
	mu.Unlock()
	assert.Empty(t, readDeadLetters(t, cfg.DeadLetter.Directory))
	limit, _ := exp.gauge(t, "concurrency.limit")
	assert.LessOrEqual(t, limit, 16.0, "the limit under constant back-pressure, from 64")
}

// slowTokenAuth is an authenticator that makes every request wait for its
// token, as oidc_client does while its token endpoint is slow or down.
type slowTokenAuth struct {
	component.StartFunc
	component.ShutdownFunc
	wait time.Duration
}

func (a *slowTokenAuth) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		time.Sleep(a.wait)
		return base.RoundTrip(req)
	}), nil
}

// TestAdaptiveConcurrencyIgnoresTokenWait: time a request spends waiting for
// its token is not the sink's: the adaptive limit's round-trip times leave
// it out, so a slow token endpoint neither inflates the baseline nor shrinks
// the limit.
func TestAdaptiveConcurrencyIgnoresTokenWait(t *testing.T) {
	s := newSink(t, status(http.StatusAccepted))
	id := component.MustNewID("slow_token")
	exp := startExporter(t, authConfig(t, s.URL, id), testHost{id: &slowTokenAuth{wait: 200 * time.Millisecond}})
	consume(t, exp, makeLogsFrom(t, nvsentinelEvent, ids("tok", 20)...))
	assert.Equal(t, 20, s.count())
	for _, name := range []string{"concurrency.rtt", "concurrency.rtt_baseline"} {
		v, ok := exp.gauge(t, name)
		require.True(t, ok, name)
		assert.Less(t, v, 0.1, "%s (s) counts the 200 ms token wait", name)
	}
}

// TestArcSampleSeesConnectionClose: the adaptive limit learns from each
// answer whether the sink closed the connection (HTTP/1.0 without
// keep-alive, or Connection: close, as Python's http.server and Werkzeug
// answer), which decides whether its ceiling allows a queue at the sink.
func TestArcSampleSeesConnectionClose(t *testing.T) {
	for _, closes := range []bool{false, true} {
		t.Run(fmt.Sprintf("closes=%v", closes), func(t *testing.T) {
			s := newSink(t, func(w http.ResponseWriter, _ int, _ sinkRequest) {
				if closes {
					w.Header().Set("Connection", "close")
				}
				w.WriteHeader(http.StatusAccepted)
			})
			e, err := newExporter(testConfig(s.URL), exportertest.NewNopSettings(metadata.Type))
			require.NoError(t, err)
			require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
			t.Cleanup(func() { _ = e.shutdown(context.Background()) })
			for range 2 {
				res := e.attempt(context.Background(), 0, &bodySource{b: []byte(`{"id":"a"}`)}, nil)
				got := arcSample(context.Background(), res)
				assert.Equal(t, arc.Answered, got.Outcome)
				assert.Equal(t, closes, got.Closed)
				assert.Positive(t, got.RTT)
			}
		})
	}
}
