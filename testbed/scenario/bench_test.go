package scenario

import (
	"fmt"
	"testing"
	"time"

	"github.com/courier-otel/courier/testbed/loadgen"
	"github.com/courier-otel/courier/testbed/sink"
)

// BenchmarkScenario runs the performance scenarios of DESIGN.md §6 on the
// built binary, each iteration a whole scenario (fresh sink, files or
// database, collector), and reports events/s, cpu-µs/event,
// peak-RSS-MiB, p50-ms, p90-ms, p99-ms, lost and duplicates:
//
//   - logs/full-speed: 100,000 700-byte events written as fast as one
//     writer can while the collector reads them (structured_log →
//     cloudevents jsonl, otherwise default settings); the writer shares
//     the two cores with the collector and the sink.
//   - nvsentinel/rate=1000: the NVSentinel pipeline (testdata/nvsentinel.yaml)
//     with one insert per transaction at 1,000/s for 5 s: insert→sink
//     latency.
//   - nvsentinel-mongodb/rate=1000: the same on MongoDB
//     (testdata/nvsentinel_mongodb.yaml: courier-mongo, the replica-set
//     stand-in, over TLS with X.509), one document per insert at 1,000/s
//     for 5 s: insert→sink latency through the change stream. The
//     stand-in (FerretDB over PostgreSQL) is the bound, not Courier: see
//     testbed/mongo's README.
//   - slow-sink/concurrency=N: the same pipeline in structured mode (one
//     POST per event) into a sink that answers after 300 ms, with the
//     exporter's concurrency fixed at N requests in flight
//     (concurrency_mode: fixed; the default adaptive limit is measured
//     beside fixed 512 by the exporter's BenchmarkAdaptiveConcurrency);
//     12,000 events committed in batches of 100 as fast as possible. The
//     rate is about N / 300 ms until the receiver's max_in_flight (2,000
//     events) bounds it; sending_queue::num_consumers does not move it.
//
// A lost event fails the benchmark as it fails a test.
func BenchmarkScenario(b *testing.B) {
	b.Run("logs/full-speed", func(b *testing.B) {
		benchmark(b, func(b *testing.B) Result {
			e := New(b, Options{Config: "testdata/logs.yaml", Set: []string{"exporters::cloudevents::encoding=jsonl"}})
			e.Start()
			e.Logs(loadgen.LogsConfig{Count: 100_000}, 0)
			return e.Finish(2 * time.Minute)
		})
	})
	b.Run("nvsentinel/rate=1000", func(b *testing.B) {
		benchmark(b, func(b *testing.B) Result {
			e := New(b, Options{Config: "testdata/nvsentinel.yaml", Postgres: true})
			e.Start()
			e.NVSentinel(loadgen.NVSentinelConfig{Rate: 1000}, 5*time.Second)
			return e.Finish(time.Minute)
		})
	})
	b.Run("nvsentinel-mongodb/rate=1000", func(b *testing.B) {
		benchmark(b, func(b *testing.B) Result {
			e := New(b, Options{Config: "testdata/nvsentinel_mongodb.yaml", Mongo: true})
			e.Start()
			e.NVSentinelMongo(loadgen.MongoConfig{Rate: 1000}, 5*time.Second)
			return e.Finish(time.Minute)
		})
	})
	for _, concurrency := range []int{128, 512, 2048} {
		b.Run(fmt.Sprintf("slow-sink/concurrency=%d", concurrency), func(b *testing.B) {
			benchmark(b, func(b *testing.B) Result {
				e := New(b, Options{
					Config: "testdata/nvsentinel.yaml", Postgres: true, Faults: sink.Faults{Latency: 300 * time.Millisecond},
					Set: []string{fmt.Sprintf("exporters::cloudevents::concurrency=%d", concurrency), "exporters::cloudevents::concurrency_mode=fixed"},
				})
				e.Start()
				e.NVSentinel(loadgen.NVSentinelConfig{Count: 12_000, Batch: 100}, 0)
				return e.Finish(2 * time.Minute)
			})
		})
	}
}

// benchmark runs one scenario per iteration and reports them together:
// events/s and CPU per event over all events, the highest peak RSS, the
// mean of the latency percentiles, and the sums of lost and duplicated
// events.
func benchmark(b *testing.B, run func(*testing.B) Result) {
	var total Result
	n := 0
	for b.Loop() {
		r := run(b)
		n++
		total.Delivered += r.Delivered
		total.Elapsed += r.Elapsed
		total.CPU += r.CPU
		total.PeakRSS = max(total.PeakRSS, r.PeakRSS)
		total.P50 += r.P50
		total.P90 += r.P90
		total.P99 += r.P99
		total.Lost += r.Lost
		total.Duplicates += r.Duplicates
	}
	if n == 0 || total.Elapsed == 0 {
		b.Fatal("no scenario ran")
	}
	total.EventsPerSecond = float64(total.Delivered) / total.Elapsed.Seconds()
	total.P50 /= time.Duration(n)
	total.P90 /= time.Duration(n)
	total.P99 /= time.Duration(n)
	total.Report(b)
}
