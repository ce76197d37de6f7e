package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
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

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/structuredlog"
)

// BenchmarkOmniversePipeline measures the built binary on DESIGN.md §6's
// first path: 700-byte Isaac Sim events in a structured log, through
// schema_validation and old_events, to a loopback JSON-lines sink. Each
// iteration starts a collector, waits until it is healthy, then renames a
// file of pipelineEvents events into its folder; the time from the rename
// to the sink's receipt of the last event gives events/s, so process start
// is not counted. It also reports the collector's peak RSS.
func BenchmarkOmniversePipeline(b *testing.B) {
	b.Run("defaults", func(b *testing.B) { benchmarkOmniversePipeline(b) })
	// Batches of 1,000 events in the receiver (two in memory) and 4,000 in
	// the exporter's queue, instead of 10,000 and 20,000.
	b.Run("bounded", func(b *testing.B) { benchmarkOmniversePipeline(b, "--config=testdata/omniverse_bench_bounded.yaml") })
}

func benchmarkOmniversePipeline(b *testing.B, extraArgs ...string) {
	const pipelineEvents = 300_000
	var line fixtureEvent
	if err := json.Unmarshal(schemaregistrytest.EventLines()[0], &line); err != nil {
		b.Fatal(err)
	}
	var delivered atomic.Int64
	var lastAt atomic.Int64 // UnixNano of the delivery that completed the run
	// The sink only counts lines, through a pooled buffer: it shares the
	// two cores with the collector, so it should cost as little as it can.
	bufs := sync.Pool{New: func() any { return new([64 << 10]byte) }}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := bufs.Get().(*[64 << 10]byte)
		defer bufs.Put(buf)
		var lines int64
		for {
			n, err := r.Body.Read(buf[:])
			lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			if err != nil {
				break
			}
		}
		if delivered.Add(lines) >= pipelineEvents {
			lastAt.CompareAndSwap(0, time.Now().UnixNano())
		}
	}))
	defer sink.Close()
	schemas := schemaregistrytest.WriteSchemas(b)
	var peakRSS int64
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
		health := testutil.FreePorts(b, 1)[0]
		c := testutil.StartCollector(b, testutil.CollectorBinary(b), []string{
			"COURIER_E2E_LOG_DIR=" + dir, "COURIER_E2E_SCHEMA_DIR=" + schemas, "COURIER_E2E_SINK_URL=" + sink.URL,
			fmt.Sprintf("COURIER_E2E_HEALTH_PORT=%d", health),
		}, append([]string{"--config=testdata/omniverse_bench.yaml"}, extraArgs...)...)
		c.WaitUntil(time.Minute, "collector healthy", func() error { return httpGet200(fmt.Sprintf("http://127.0.0.1:%d/", health)) })

		start := time.Now()
		if err := os.Rename(filepath.Join(stage, "isaac.log"), filepath.Join(dir, "isaac.log")); err != nil {
			b.Fatal(err)
		}
		c.WaitUntil(5*time.Minute, "every event delivered", func() error {
			if n := delivered.Load(); n < pipelineEvents {
				return fmt.Errorf("%d of %d events delivered", n, pipelineEvents)
			}
			return nil
		})
		elapsed += time.Unix(0, lastAt.Load()).Sub(start)
		peakRSS = max(peakRSS, vmHWM(b, c.Pid()))
		if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
			b.Fatal(err)
		}
		if n := delivered.Load(); n != pipelineEvents {
			b.Fatalf("%d events delivered, want %d", n, pipelineEvents)
		}
	}
	b.ReportMetric(float64(pipelineEvents*int64(b.N))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MiB")
}

type fixtureEvent struct {
	Type       string          `json:"type"`
	DataSchema string          `json:"dataschema"`
	Data       json.RawMessage `json:"data"`
}

// vmHWM is the peak resident set size of process pid, in bytes.
func vmHWM(b *testing.B, pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}
