package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/internal/testutil"
)

// nvBenchSink is a fast structured-mode sink: it finds each event's id
// without parsing the JSON and records when it arrived.
type nvBenchSink struct {
	*httptest.Server
	count  atomic.Int64 // requests
	events atomic.Int64 // events: one per request, or the members of a batch
	mu     sync.Mutex
	at     map[string]time.Time // arrival per id, when recording
}

func newNVBenchSink(b *testing.B, record bool) *nvBenchSink {
	s := &nvBenchSink{}
	if record {
		s.at = map[string]time.Time{}
	}
	idKey := []byte(`"id":"`)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.count.Add(1)
		s.events.Add(int64(max(1, bytes.Count(body, []byte(`"specversion"`)))))
		if s.at != nil {
			if i := bytes.Index(body, idKey); i >= 0 {
				rest := body[i+len(idKey):]
				if j := bytes.IndexByte(rest, '"'); j >= 0 {
					s.mu.Lock()
					s.at[string(rest[:j])] = time.Now()
					s.mu.Unlock()
				}
			}
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(s.Close)
	return s
}

// BenchmarkNVSentinelPipeline measures DESIGN.md §6's datastore rows on
// the built binary, through the whole NVSentinel pipeline
// (testdata/nvsentinel_bench.yaml: datastore → event_metadata → cel_filter
// → cloudevents structured mode with oidc_client) into a loopback sink,
// with a throwaway PostgreSQL holding NVSentinel's schema:
//
//   - live/structured, live/batch: 100,000 events committed at once while
//     the collector runs; events/s from the commit to the last delivery,
//     and the collector's CPU per event.
//   - latency: events inserted one per transaction at 1,000/s for 10 s;
//     insert → sink latency percentiles.
//   - backfill: 1,000,000 stored events, no token, no rate limit; time
//     from the collector's start to the last delivery, in CloudEvents
//     batches (one POST per event would measure live/structured's HTTP
//     bound again).
func BenchmarkNVSentinelPipeline(b *testing.B) {
	// live/structured is the NVSentinel contract, one POST per event; live/batch
	// the same pipeline with CloudEvents batches, which shows what the
	// receiver and processors sustain when HTTP is not the bound.
	for _, encoding := range []string{"structured", "batch"} {
		b.Run("live/"+encoding, func(b *testing.B) {
			benchmarkNVLive(b, 100_000, "--set=exporters::cloudevents::encoding="+encoding)
		})
	}
	b.Run("latency", func(b *testing.B) {
		const rate, seconds = 1000, 10
		e := newNVEnv(b)
		sink := newNVBenchSink(b, true)
		var lat []time.Duration
		for i := 0; b.Loop(); i++ {
			e.freshDB(b)
			c := e.startBench(b, sink.URL, fmt.Sprintf("bench-latency-%d", i))
			time.Sleep(500 * time.Millisecond) // the receiver has opened its source
			inserted := map[string]time.Time{}
			tick := time.NewTicker(time.Second / rate)
			for range rate * seconds {
				<-tick.C
				at := time.Now()
				id, err := pgtest.InsertHealthEvent(context.Background(), e.conn, pgtest.SampleEvent("lat"))
				if err != nil {
					b.Fatal(err)
				}
				inserted[id] = at
			}
			tick.Stop()
			lat = append(lat, sink.latencies(c, inserted)...)
			stopBench(b, c)
		}
		reportLatency(b, lat)
	})
	b.Run("backfill", func(b *testing.B) {
		pg, dsn := historyDB(b)
		e := newNVEnvOn(b, pg, dsn)
		sink := newNVBenchSink(b, false)
		var elapsed, cpu time.Duration
		for b.Loop() {
			sink.events.Store(0)
			start := time.Now()
			// A client name of its own: the history is shared by every run,
			// and a name with a token would not backfill.
			client := fmt.Sprintf("bench-backfill-%d", time.Now().UnixNano())
			c := e.startBench(b, sink.URL, client, "--set=exporters::cloudevents::encoding=batch")
			c.WaitUntil(10*time.Minute, "the whole history delivered", func() error { return atLeast(sink.events.Load(), historyEvents) })
			elapsed += time.Since(start)
			cpu += cpuTime(b, c.Pid())
			stopBench(b, c)
		}
		b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/backfill")
		b.ReportMetric(float64(historyEvents*b.N)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(historyEvents*b.N), "cpu-µs/event")
	})
}

// BenchmarkNVSentinelConsumers runs BenchmarkNVSentinelPipeline/live/structured
// (one POST per event) with the exporter's sending_queue num_consumers
// (10 in the config, NVSentinel's workers) at each value of
// COURIER_BENCH_CONSUMERS (comma-separated, default 1,4,10,32), on 20,000
// events so that one consumer does not take minutes. `make bench` charts
// events/s against it.
func BenchmarkNVSentinelConsumers(b *testing.B) {
	for _, n := range benchSweep(b, "COURIER_BENCH_CONSUMERS", "1,4,10,32") {
		b.Run(fmt.Sprintf("consumers=%d", n), func(b *testing.B) {
			benchmarkNVLive(b, 20_000, fmt.Sprintf("--set=exporters::cloudevents::sending_queue::num_consumers=%d", n))
		})
	}
}

// benchmarkNVLive commits events at once while the collector, started with
// the extra arguments args, runs; it reports events/s from the commit to
// the last delivery, and the collector's CPU per event.
func benchmarkNVLive(b *testing.B, events int, args ...string) {
	e := newNVEnv(b)
	sink := newNVBenchSink(b, false)
	var elapsed, cpu time.Duration
	for i := 0; b.Loop(); i++ {
		e.freshDB(b)
		c := e.startBench(b, sink.URL, fmt.Sprintf("bench-live-%d", i), args...)
		time.Sleep(500 * time.Millisecond) // the receiver has opened its source
		sink.events.Store(0)
		// One transaction: every event becomes visible at its commit.
		if err := pgtest.BulkInsertHealthEvents(context.Background(), e.conn, events, pgtest.SampleEvent("bench"), time.Now(), 0); err != nil {
			b.Fatal(err)
		}
		before, start := cpuTime(b, c.Pid()), time.Now()
		c.WaitUntil(5*time.Minute, "every event delivered", func() error { return atLeast(sink.events.Load(), int64(events)) })
		elapsed += time.Since(start)
		cpu += cpuTime(b, c.Pid()) - before
		stopBench(b, c)
	}
	b.ReportMetric(float64(events*b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(events*b.N), "cpu-µs/event")
}

// historyEvents is the size of the backfill benchmark's history.
const historyEvents = 1_000_000

// history is that history: a PostgreSQL database of historyEvents stored
// events, built once per test process (make bench runs each benchmark
// BENCH_COUNT times; building it takes minutes) and stopped by TestMain.
var history struct {
	once sync.Once
	pg   *pgtest.Server
	dsn  string
	err  error
}

func historyDB(b *testing.B) (*pgtest.Server, string) {
	history.once.Do(func() {
		if history.pg, history.err = pgtest.New(); history.err != nil {
			return
		}
		history.dsn = history.pg.CreateDB(b, "history")
		pgtest.ApplySchema(b, history.dsn)
		conn, err := pgx.Connect(context.Background(), history.dsn)
		if err != nil {
			history.err = err
			return
		}
		defer func() { _ = conn.Close(context.Background()) }()
		// Spread over the last day, within max_age.
		if history.err = pgtest.BulkInsertHealthEvents(context.Background(), conn, historyEvents, pgtest.SampleEvent("history"),
			time.Now().Add(-24*time.Hour), 24*time.Hour/historyEvents); history.err != nil {
			return
		}
		// Statistics as autovacuum keeps them on a live database: right
		// after a bulk load the planner still believes the changelog is
		// small and probes it with a bitmap scan of every health_events
		// entry for each page (64 ms a page at 200k rows, instead of 1 ms).
		_, history.err = conn.Exec(context.Background(), "ANALYZE")
	})
	if history.err != nil {
		b.Fatalf("backfill history: %v", history.err)
	}
	return history.pg, history.dsn
}

// closeHistory stops the history's server, if one was started.
func closeHistory() {
	if history.pg != nil {
		history.pg.Close()
	}
}

// startBench runs testdata/nvsentinel_bench.yaml reading as client.
func (e *nvEnv) startBench(b *testing.B, sinkURL, client string, args ...string) *testutil.Collector {
	return startHealthy(b, time.Minute, []string{
		"COURIER_E2E_PG_DSN=" + e.dsn,
		"COURIER_E2E_SINK_URL=" + sinkURL,
		"COURIER_E2E_TOKEN_URL=" + e.tokens.url,
		"COURIER_E2E_SECRET_FILE=" + e.secretFile,
		"COURIER_E2E_CLIENT_NAME=" + client,
	}, append([]string{"--config=testdata/nvsentinel_bench.yaml"}, args...)...)
}

// freshDB points e at a new empty database (NVSentinel's schema).
func (e *nvEnv) freshDB(b *testing.B) {
	e.dsn = e.pg.NewDB(b)
	e.conn = e.connect(b)
}

// latencies waits until every event of inserted (id → when it was
// inserted) reached the sink, and returns each one's insert→sink time.
func (s *nvBenchSink) latencies(c *testutil.Collector, inserted map[string]time.Time) []time.Duration {
	c.WaitUntil(time.Minute, "every event delivered", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for id := range inserted {
			if _, ok := s.at[id]; !ok {
				return fmt.Errorf("event %s not delivered yet", id)
			}
		}
		return nil
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	lat := make([]time.Duration, 0, len(inserted))
	for id, at := range inserted {
		lat = append(lat, s.at[id].Sub(at))
	}
	return lat
}

// reportLatency reports the median, 99th percentile and maximum of lat.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}

func stopBench(b *testing.B, c *testutil.Collector) {
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		b.Fatal(err)
	}
}

func atLeast(n, want int64) error {
	if n < want {
		return fmt.Errorf("%d of %d", n, want)
	}
	return nil
}
