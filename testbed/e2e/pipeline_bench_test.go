package e2e

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/structuredlog"
	"github.com/courier-otel/courier/testbed/procstat"
)

// BenchmarkOmniversePipeline measures the built binary on DESIGN.md §6's
// first path: 700-byte Isaac Sim events in a structured log, through
// schema_validation and old_events, to a loopback JSON-lines sink, with
// the components' default settings ("courier"); and, side by side on the
// same events, the stock pipeline a user would build instead: file_log
// with a json_parser → otlp_http into a loopback OTLP sink ("stock"; it
// validates nothing). Each iteration starts a collector, waits until it is
// healthy, then renames a file of pipelineEvents events into its folder;
// the time from the rename to the sink's receipt of the last event gives
// events/s, so process start is not counted. It also reports the
// collector's peak RSS and its CPU time per event.
func BenchmarkOmniversePipeline(b *testing.B) {
	b.Run("courier", func(b *testing.B) {
		benchmarkPipeline(b, countLines, oneCollector("testdata/omniverse_bench.yaml"))
	})
	b.Run("stock", func(b *testing.B) {
		benchmarkPipeline(b, countOTLPRecords, oneCollector("testdata/stock_bench.yaml"))
	})
}

const pipelineEvents = 300_000

// BenchmarkOmniverseInFlight runs BenchmarkOmniversePipeline/courier with
// structured_log's max_in_flight_batches (default 4) at each value of
// COURIER_BENCH_IN_FLIGHT (comma-separated, default 1,2,4,8): the
// receiver's concurrency against the exporter's wait for delivery. `make
// bench` charts events/s against it.
func BenchmarkOmniverseInFlight(b *testing.B) {
	for _, n := range benchSweep(b, "COURIER_BENCH_IN_FLIGHT", "1,2,4,8") {
		b.Run(fmt.Sprintf("in-flight=%d", n), func(b *testing.B) {
			benchmarkPipeline(b, countLines, oneCollector("testdata/omniverse_bench.yaml",
				fmt.Sprintf("--set=receivers::structured_log::max_in_flight_batches=%d", n)))
		})
	}
}

// benchSweep returns the comma-separated positive integers of the
// environment variable env, or of def when it is unset.
func benchSweep(b *testing.B, env, def string) []int {
	list := cmp.Or(os.Getenv(env), def)
	var values []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want comma-separated positive integers", env, list)
		}
		values = append(values, n)
	}
	return values
}

// A counter reads one request's body and returns the events it holds.
type counter func(r *http.Request, buf []byte) (int64, error)

// countLines counts JSON lines, through a pooled buffer: the sink shares
// the two cores with the collector, so it should cost as little as it can.
func countLines(r *http.Request, buf []byte) (int64, error) {
	var lines int64
	for {
		n, err := r.Body.Read(buf)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
	}
}

// countOTLPRecords decodes an OTLP/HTTP logs request and counts its
// records, answering as an OTLP server does.
func countOTLPRecords(r *http.Request, _ []byte) (int64, error) {
	req, err := decodeLogsRequest(r)
	if err != nil {
		return 0, err
	}
	return int64(req.Logs().LogRecordCount()), nil
}

// A starter starts the collectors of a pipeline reading logDir (with
// schemas in schemaDir) and delivering to sinkURL, and waits until they
// are healthy. The first reads the files; the CPU time of each is
// reported, and their sum per event.
type starter func(b *testing.B, logDir, schemaDir, sinkURL string) []*testutil.Collector

// oneCollector starts one collector with config and the extra
// command-line arguments args.
func oneCollector(config string, args ...string) starter {
	return func(b *testing.B, logDir, schemaDir, sinkURL string) []*testutil.Collector {
		return []*testutil.Collector{startBenchCollector(b, config, logDir, schemaDir, sinkURL, nil, args...)}
	}
}

// benchmarkPipeline runs the benchmark on the pipeline start starts; the
// sink counts the events of each request with count.
func benchmarkPipeline(b *testing.B, count counter, start starter, names ...string) {
	var line fixtureEvent
	if err := json.Unmarshal(schemaregistrytest.EventLines()[0], &line); err != nil {
		b.Fatal(err)
	}
	var delivered atomic.Int64
	var lastAt atomic.Int64 // UnixNano of the delivery that completed the run
	bufs := sync.Pool{New: func() any { return new([64 << 10]byte) }}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := bufs.Get().(*[64 << 10]byte)
		defer bufs.Put(buf)
		n, err := count(r, buf[:])
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The stock pipeline also delivers the header line as a record.
		if delivered.Add(n) >= pipelineEvents {
			lastAt.CompareAndSwap(0, time.Now().UnixNano())
		}
		if resp, err := plogotlp.NewExportResponse().MarshalProto(); err == nil && r.URL.Path == "/v1/logs" {
			w.Header().Set("Content-Type", "application/x-protobuf")
			_, _ = w.Write(resp)
		}
	}))
	defer sink.Close()
	schemas := schemaregistrytest.WriteSchemas(b)
	var peakRSS, peakAnon []int64
	var cpu []time.Duration
	var elapsed time.Duration
	for b.Loop() {
		stage, dir := b.TempDir(), b.TempDir()
		w, err := structuredlog.Open(structuredlog.Options{Dir: stage, Name: "isaac.log", Source: "bench@isaac.sim", SizeLimit: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		for range pipelineEvents {
			if _, err := w.WriteRaw(line.Type, line.DataSchema, line.Data); err != nil {
				b.Fatal(err)
			}
		}
		_ = w.Close()
		delivered.Store(0)
		lastAt.Store(0)
		cs := start(b, dir, schemas, sink.URL)
		if cpu == nil {
			cpu, peakRSS, peakAnon = make([]time.Duration, len(cs)), make([]int64, len(cs)), make([]int64, len(cs))
		}
		began, cpuBefore := time.Now(), make([]time.Duration, len(cs))
		stopAnon := make([]func() int64, len(cs))
		for i, c := range cs {
			cpuBefore[i] = cpuTime(b, c.Pid())
			stopAnon[i] = procstat.AnonPeak(c.Pid(), 10*time.Millisecond)
		}
		if err := os.Rename(filepath.Join(stage, "isaac.log"), filepath.Join(dir, "isaac.log")); err != nil {
			b.Fatal(err)
		}
		cs[0].WaitUntil(5*time.Minute, "every event delivered", func() error {
			if n := delivered.Load(); n < pipelineEvents {
				return fmt.Errorf("%d of %d events delivered", n, pipelineEvents)
			}
			return nil
		})
		elapsed += time.Unix(0, lastAt.Load()).Sub(began)
		for i, c := range cs {
			cpu[i] += cpuTime(b, c.Pid()) - cpuBefore[i]
			peakRSS[i] = max(peakRSS[i], vmHWM(b, c.Pid()))
			peakAnon[i] = max(peakAnon[i], stopAnon[i]())
			if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
				b.Fatal(err)
			}
		}
		if n := delivered.Load(); n < pipelineEvents || n > pipelineEvents+1 {
			b.Fatalf("%d events delivered, want %d", n, pipelineEvents)
		}
	}
	events := float64(pipelineEvents * int64(b.N))
	b.ReportMetric(events/elapsed.Seconds(), "events/s")
	// CPU per event depends less on what else the machine is doing.
	var total time.Duration
	for i := range cpu {
		total += cpu[i]
		if len(cpu) > 1 {
			b.ReportMetric(float64(cpu[i].Nanoseconds())/1000/events, names[i]+"-cpu-µs/event")
			b.ReportMetric(float64(peakRSS[i])/(1<<20), names[i]+"-peak-RSS-MiB")
			b.ReportMetric(float64(peakAnon[i])/(1<<20), names[i]+"-peak-anon-RSS-MiB")
		}
	}
	b.ReportMetric(float64(total.Nanoseconds())/1000/events, "cpu-µs/event")
	if len(peakRSS) == 1 {
		// The total counts the executable's file pages, which the kernel
		// may map in huge pages; the anonymous peak is what the collector
		// allocated (sampled every 10 ms).
		b.ReportMetric(float64(peakRSS[0])/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(peakAnon[0])/(1<<20), "peak-anon-RSS-MiB")
	}
}

// startBenchCollector starts the built binary with a benchmark config, more
// environment variables env and command-line arguments args, and waits
// until it is healthy.
func startBenchCollector(b *testing.B, config, logDir, schemaDir, sinkURL string, env []string, args ...string) *testutil.Collector {
	return startHealthy(b, time.Minute, append([]string{
		"COURIER_E2E_LOG_DIR=" + logDir, "COURIER_E2E_SCHEMA_DIR=" + schemaDir, "COURIER_E2E_SINK_URL=" + sinkURL,
		fmt.Sprintf("COURIER_E2E_OTLP_HTTP_PORT=%d", testutil.FreePorts(b, 1)[0]),
	}, env...), append([]string{"--config=" + config}, args...)...)
}

// BenchmarkIdleCPU measures what a collector costs when nothing happens:
// started and healthy, with no input, for idleWindow. DESIGN.md §4.6 asks
// that an idle Courier pipeline cost no more than the stock one. Reported
// as CPU milliseconds per minute of idling (1 % of a core is 600).
func BenchmarkIdleCPU(b *testing.B) {
	for _, tc := range []struct{ name, config string }{
		{"courier-omniverse", "testdata/omniverse_bench.yaml"},
		{"courier-otlp-cloudevents", "testdata/otlp_cloudevents_bench.yaml"},
		{"stock", "testdata/stock_bench.yaml"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const idleWindow = 10 * time.Second
			sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			defer sink.Close()
			schemas := schemaregistrytest.WriteSchemas(b)
			var cpu time.Duration
			for b.Loop() {
				c := startBenchCollector(b, tc.config, b.TempDir(), schemas, sink.URL, nil)
				time.Sleep(2 * time.Second) // past the start-up work
				before := cpuTime(b, c.Pid())
				time.Sleep(idleWindow)
				cpu += cpuTime(b, c.Pid()) - before
				if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(cpu.Seconds()*1000/float64(b.N)*float64(time.Minute/idleWindow), "cpu-ms/min")
		})
	}
}

// cpuTime is procstat.CPUTime of process pid, failing the benchmark on an
// error.
func cpuTime(b *testing.B, pid int) time.Duration {
	d, err := procstat.CPUTime(pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

type fixtureEvent struct {
	Type       string          `json:"type"`
	DataSchema string          `json:"dataschema"`
	Data       json.RawMessage `json:"data"`
}

// vmHWM is procstat.PeakRSS of process pid, failing the benchmark on an
// error.
func vmHWM(b *testing.B, pid int) int64 {
	n, err := procstat.PeakRSS(pid)
	if err != nil {
		b.Fatal(err)
	}
	return n
}
