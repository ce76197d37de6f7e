package cloudeventsexporter

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/metadata"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// Benchmarks: each op is one ~700-byte event delivered to a loopback sink;
// events/s is b.N over the time until the sink has them all. Run them with
// -benchtime 200000x (fast sink) and 3000x (slow sink) to measure enough
// events, and compare the figures of one run: the machine is shared.
//
// cpu-ns/event is the CPU time of the whole process (exporter, queue and the
// sink) per event, which other load on the machine does not inflate;
// 2e9/cpu-ns/event is the rate two dedicated cores would sustain.

// countingSink counts the events it receives, as cheaply as it can so that
// the benchmark measures the sender.
type countingSink struct {
	srv    *httptest.Server
	events atomic.Int64
	conns  atomic.Int64 // connections accepted
	bufs   sync.Pool
}

// perBody tells how many events a body holds.
func newCountingSink(b *testing.B, delay time.Duration, perBody func([]byte) int) *countingSink {
	s := &countingSink{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf, _ := s.bufs.Get().(*bytes.Buffer)
		if buf == nil {
			buf = new(bytes.Buffer)
		}
		buf.Reset()
		_, _ = buf.ReadFrom(r.Body)
		if delay > 0 {
			time.Sleep(delay)
		}
		w.WriteHeader(http.StatusOK)
		s.events.Add(int64(perBody(buf.Bytes())))
		s.bufs.Put(buf)
	}))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	b.Cleanup(s.srv.Close)
	return s
}

var specversion = []byte(`"specversion"`)

// eventsIn returns how a sink counts events for an encoding.
func eventsIn(enc Encoding) func([]byte) int {
	switch enc {
	case EncodingStructured, EncodingBinary:
		return func([]byte) int { return 1 }
	case EncodingBatch, EncodingJSONList:
		return func(b []byte) int { return bytes.Count(b, specversion) }
	}
	return func(b []byte) int { return bytes.Count(b, []byte{'\n'}) }
}

func (s *countingSink) wait(b *testing.B, n int64) {
	deadline := time.Now().Add(5 * time.Minute)
	for s.events.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("sink got %d of %d events", s.events.Load(), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

const benchChunk = 1000 // events per ConsumeLogs, as a receiver hands them over

// benchLogs is one chunk of events, marked read-only: the exporter does not
// change its input, so every ConsumeLogs can share it and the benchmark
// measures the exporter, not the copying of pdata.
func benchLogs(b *testing.B, fixture string) plog.Logs {
	ld := makeLogsFrom(b, fixture, ids("bench", benchChunk)...)
	ld.MarkReadOnly()
	return ld
}

// runExporter sends b.N events through an exporter with cfg into s.
func runExporter(b *testing.B, cfg *Config, s *countingSink, fixture string) {
	ld := benchLogs(b, fixture)
	set := exportertest.NewNopSettings(metadata.Type)
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	last := ld
	if rest := b.N % benchChunk; rest > 0 {
		last = makeLogsFrom(b, fixture, ids("rest", rest)...)
		last.MarkReadOnly()
	}

	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for sent := 0; sent < b.N; sent += benchChunk {
		chunk := ld
		if b.N-sent < benchChunk {
			chunk = last
		}
		if err := exp.ConsumeLogs(context.Background(), chunk); err != nil {
			b.Fatal(err)
		}
	}
	s.wait(b, int64(b.N))
	b.StopTimer()
	report(b, cpu, s)
}

func report(b *testing.B, cpuStart time.Duration, s *countingSink) {
	b.ReportMetric(float64(s.conns.Load()), "conns")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if cpu := processCPU() - cpuStart; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
	}
}

// benchConfig is the default config. The chunks have the sending queue's
// batch size, so its batcher passes them on as they are and never writes to
// the shared read-only input.
func benchConfig(s *countingSink, enc Encoding) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = s.srv.URL
	cfg.Encoding = enc
	return cfg
}

// BenchmarkExport: every encoding into a fast loopback sink, default
// settings.
func BenchmarkExport(b *testing.B) {
	for _, enc := range encodings {
		b.Run(string(enc), func(b *testing.B) {
			fixture := omniverseEvent
			if enc.perEvent() || enc == EncodingBatch {
				fixture = nvsentinelEvent
			}
			s := newCountingSink(b, 0, eventsIn(enc))
			runExporter(b, benchConfig(s, enc), s, fixture)
		})
	}
}

// rawPoster is the baseline of structured mode: a plain net/http client
// posting one pre-encoded structured event per request, with as many
// requests in flight as the exporter's default concurrency.
type rawPoster struct {
	url         string
	body        []byte
	client      *http.Client
	concurrency int
}

func newRawPoster(b *testing.B, url string) *rawPoster {
	lr := makeLogsFrom(b, nvsentinelEvent, "raw").ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	body, err := cloudevent.Structured{}.AppendEvent(nil, lr)
	if err != nil {
		b.Fatal(err)
	}
	concurrency := createDefaultConfig().(*Config).Concurrency
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = concurrency
	tr.MaxIdleConns = 0
	b.Cleanup(tr.CloseIdleConnections)
	return &rawPoster{url: url, body: body, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, concurrency: concurrency}
}

// post sends n requests.
func (r *rawPoster) post(b *testing.B, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(r.concurrency, n) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				req, _ := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(r.body))
				req.Header.Set("Content-Type", cloudevent.ContentTypeStructured)
				resp, err := r.client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

// BenchmarkRawPOST is the baseline on its own.
func BenchmarkRawPOST(b *testing.B) {
	s := newCountingSink(b, 0, eventsIn(EncodingStructured))
	r := newRawPoster(b, s.srv.URL)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	r.post(b, b.N)
	s.wait(b, int64(b.N))
	b.StopTimer()
	report(b, cpu, s)
}

// BenchmarkStructuredVsRawPOST alternates rounds of 2,000 events through
// the exporter (structured mode, default settings) and through the raw
// baseline into the same sink, so that both see the same load on a shared
// machine; ratio is the exporter's rate over the baseline's. Each op is one
// event through each.
func BenchmarkStructuredVsRawPOST(b *testing.B) {
	const round = 2 * benchChunk
	s := newCountingSink(b, 0, eventsIn(EncodingStructured))
	r := newRawPoster(b, s.srv.URL)
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), benchConfig(s, EncodingStructured))
	if err != nil {
		b.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	ld := benchLogs(b, nvsentinelEvent)
	// Warm both up: connections, worker goroutines.
	r.post(b, round)
	for range 2 {
		_ = exp.ConsumeLogs(context.Background(), ld)
	}
	s.wait(b, round+2*benchChunk)

	b.ReportAllocs()
	b.ResetTimer()
	var expTime, rawTime, expCPU, rawCPU time.Duration
	var done int64
	for sent := 0; sent < b.N; sent += round {
		start, cpu := time.Now(), processCPU()
		for range round / benchChunk {
			if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
				b.Fatal(err)
			}
		}
		done += round
		s.wait(b, round+2*benchChunk+2*done-round)
		expTime += time.Since(start)
		expCPU += processCPU() - cpu

		start, cpu = time.Now(), processCPU()
		r.post(b, round)
		s.wait(b, round+2*benchChunk+2*done)
		rawTime += time.Since(start)
		rawCPU += processCPU() - cpu
	}
	b.StopTimer()
	expRate := float64(done) / expTime.Seconds()
	rawRate := float64(done) / rawTime.Seconds()
	b.ReportMetric(expRate, "exporter-events/s")
	b.ReportMetric(rawRate, "raw-events/s")
	b.ReportMetric(expRate/rawRate, "ratio")
	if expCPU > 0 && rawCPU > 0 {
		// The ratio two otherwise idle cores would give: CPU per event.
		b.ReportMetric(float64(rawCPU)/float64(expCPU), "cpu-ratio")
	}
}

// BenchmarkSlowSink: structured mode, default settings (including the
// sending queue's batching), against a sink that answers after 300 ms.
func BenchmarkSlowSink(b *testing.B) {
	s := newCountingSink(b, 300*time.Millisecond, eventsIn(EncodingStructured))
	runExporter(b, benchConfig(s, EncodingStructured), s, nvsentinelEvent)
}
