package cloudeventsexporter

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/metadata"
	"github.com/courier-otel/courier/internal/testutil"
)

// BenchmarkAdaptiveConcurrency runs the adaptive limit side by side with
// fixed settings in one invocation, against the sinks of issue 20 (DESIGN
// §6, "adaptive concurrency"). Each op is one whole run of a fresh
// exporter (default settings, structured mode, events handed over in
// chunks of 1,000 by 5 callers at a time, as a receiver with several
// batches in flight does) until every event is delivered; the sub-benchmark
// names end in the setting: adaptive, or fixed=N (concurrency_mode: fixed,
// concurrency: N). Units: events/s and drain-s over the run; limit-* are the
// concurrency.limit gauge (sampled every 20 ms); listen-overflows is
// TcpExtListenOverflows of /proc/net/netstat over the run; network-errors
// are attempts that got no answer (refused, reset, timeout).
//
//   - fast-sink: 50,000 events into a Go sink answering at once, sharing
//     the machine's cores with the exporter: fixed 8 was the best setting
//     measured on 2 cores, 512 is the default concurrency.
//   - sink-300ms: 20,000 events into a sink answering after 300 ms, from a
//     cold start (the limit starts at 1): events/s is over the whole run,
//     second-half-events/s over its second half, when the limit has found
//     the sink.
//   - slowing-sink: 5,000 events into a sink with 256 handlers of 200 ms
//     each; after 4,000 events it keeps 32 handlers (requests beyond wait):
//     limit-before is the limit when it slows down, limit-after at the end;
//     sink-wait-ms is the mean time a request waited for a handler after it.
//   - half-503: 6,000 events; after the first 2,000 the sink answers 503 to
//     every other request (retries 50 ms – 500 ms, no limit on retries):
//     limit-max-before is the highest limit before, limit-min-after the
//     lowest after; lost must be 0.
//   - flask: 5,000 NVSentinel events into the seed's example Flask sink
//     (testbed/e2e/testdata/flask_sink.py, Debian's Flask), straight from the
//     exporter (the datastore pipeline in front adds nothing the sink sees).
//   - http-server-backlog5: the same into Python's single-threaded
//     http.server (testdata/backlog_sink.py, listen backlog 5).
//
// duplicates (the Python sinks) are events received more than once: an
// attempt that timed out after the sink had it is sent again. The Python
// sinks need python3-flask (make deps).
func BenchmarkAdaptiveConcurrency(b *testing.B) {
	modes := func(fixed ...int) []arcMode {
		out := []arcMode{{name: "adaptive", mode: ConcurrencyAdaptive, concurrency: defaultConcurrency}}
		for _, n := range fixed {
			out = append(out, arcMode{name: fmt.Sprintf("fixed=%d", n), mode: ConcurrencyFixed, concurrency: n})
		}
		return out
	}
	b.Run("fast-sink", func(b *testing.B) {
		for _, m := range modes(8, 512) {
			b.Run(m.name, func(b *testing.B) {
				for range b.N {
					s := newCountingSink(b, 0, eventsIn(EncodingStructured))
					r := runArc(b, m, s.srv.URL, 50_000, nil, nil)
					s.wait(b, 50_000)
					r.report(b)
				}
			})
		}
	})
	b.Run("sink-300ms", func(b *testing.B) {
		for _, m := range modes(512) {
			b.Run(m.name, func(b *testing.B) {
				for range b.N {
					s := newCountingSink(b, 300*time.Millisecond, eventsIn(EncodingStructured))
					var half time.Time
					start := time.Now()
					r := runArc(b, m, s.srv.URL, 20_000, nil, func(int) {
						if half.IsZero() && s.events.Load() >= 10_000 {
							half = time.Now()
						}
					})
					s.wait(b, 20_000)
					r.report(b)
					if !half.IsZero() {
						b.ReportMetric(10_000/(r.elapsed-half.Sub(start)).Seconds(), "second-half-events/s")
					}
				}
			})
		}
	})
	b.Run("slowing-sink", func(b *testing.B) {
		for _, m := range modes(512) {
			b.Run(m.name, func(b *testing.B) {
				for range b.N {
					s := newSlotSink(b, 256, 200*time.Millisecond)
					var before atomic.Int64
					r := runArc(b, m, s.srv.URL, 5_000, nil, func(limit int) {
						if s.accepted.Load() >= 4_000 && s.slowDown(32) {
							before.Store(int64(limit))
						}
					})
					if got := s.accepted.Load(); got != 5_000 {
						b.Fatalf("sink accepted %d of 5000 events", got)
					}
					r.report(b)
					b.ReportMetric(float64(before.Load()), "limit-before")
					b.ReportMetric(float64(r.lastLimit), "limit-after")
					b.ReportMetric(s.meanWaitAfter(), "sink-wait-ms")
				}
			})
		}
	})
	b.Run("half-503", func(b *testing.B) {
		for _, m := range modes(512) {
			b.Run(m.name, func(b *testing.B) {
				for range b.N {
					s := newCountingSink(b, 0, eventsIn(EncodingStructured))
					var n atomic.Int64
					inner := s.srv.Config.Handler
					s.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if s.events.Load() >= 2_000 && n.Add(1)%2 == 0 {
							_, _ = io.Copy(io.Discard, r.Body)
							w.WriteHeader(http.StatusServiceUnavailable)
							return
						}
						inner.ServeHTTP(w, r)
					})
					var before, minAfter atomic.Int64
					minAfter.Store(1 << 30)
					r := runArc(b, m, s.srv.URL, 6_000, func(cfg *Config) {
						cfg.RetryConfig.InitialInterval = 50 * time.Millisecond
						cfg.RetryConfig.MaxInterval = 500 * time.Millisecond
						cfg.RetryConfig.MaxRetries = -1
					}, func(limit int) {
						if n.Load() == 0 {
							before.Store(max(before.Load(), int64(limit)))
						} else if int64(limit) < minAfter.Load() {
							minAfter.Store(int64(limit))
						}
					})
					r.report(b)
					b.ReportMetric(float64(before.Load()), "limit-max-before")
					b.ReportMetric(float64(minAfter.Load()), "limit-min-after")
					b.ReportMetric(float64(6_000-s.events.Load()), "lost")
					if s.events.Load() != 6_000 {
						b.Errorf("sink got %d of 6000 events", s.events.Load())
					}
				}
			})
		}
	})
	b.Run("flask", func(b *testing.B) {
		for _, m := range modes(10, 512) {
			b.Run(m.name, func(b *testing.B) {
				for range b.N {
					s := startPythonSink(b, "../../testbed/e2e/testdata/flask_sink.py", "/received", "flask")
					r := runArc(b, m, s.url+"/api/v1/events", 5_000, func(cfg *Config) {
						cfg.ClientConfig.Headers.Set("Authorization", configopaque.String("Bearer bench"))
					}, nil)
					r.report(b)
					got := s.flaskReceived(b)
					if got < 5_000 {
						b.Errorf("the Flask sink got %d of 5000 events", got)
					}
					// Requests that timed out after the sink had them are
					// sent again: at least once.
					b.ReportMetric(float64(got-5_000), "duplicates")
				}
			})
		}
	})
	b.Run("http-server-backlog5", func(b *testing.B) {
		for _, m := range modes(10, 512) {
			b.Run(m.name, func(b *testing.B) {
				for range b.N {
					s := startPythonSink(b, "testdata/backlog_sink.py", "/count", "")
					r := runArc(b, m, s.url, 5_000, nil, nil)
					r.report(b)
					got := s.count(b)
					if got < 5_000 {
						b.Errorf("the http.server sink got %d of 5000 events", got)
					}
					b.ReportMetric(float64(got-5_000), "duplicates")
				}
			})
		}
	})
}

type arcMode struct {
	name        string
	mode        ConcurrencyMode
	concurrency int
}

type arcResult struct {
	n                   int
	elapsed             time.Duration
	overflows           int64
	networkErrors       int64
	minLimit, lastLimit int
	meanLimit           float64
}

func (r arcResult) report(b *testing.B) {
	b.ReportMetric(float64(r.n)/r.elapsed.Seconds(), "events/s")
	b.ReportMetric(r.elapsed.Seconds(), "drain-s")
	b.ReportMetric(float64(r.overflows), "listen-overflows")
	b.ReportMetric(float64(r.networkErrors), "network-errors")
	b.ReportMetric(float64(r.lastLimit), "limit-end")
	b.ReportMetric(r.meanLimit, "limit-mean")
}

// runArc sends n NVSentinel events through a fresh exporter in mode m to
// url and returns when every ConsumeLogs has returned (delivered or
// dead-lettered). tweak changes the config; sample, when set, sees the
// limit every 20 ms.
func runArc(b *testing.B, m arcMode, url string, n int, tweak func(*Config), sample func(limit int)) arcResult {
	b.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = url
	cfg.ConcurrencyMode, cfg.Concurrency = m.mode, m.concurrency
	if tweak != nil {
		tweak(cfg)
	}
	if v := os.Getenv("ARC_TOL"); v != "" {
		cfg.AdaptiveConcurrency.RTTTolerance, _ = strconv.ParseFloat(v, 64)
	}
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	ld := benchLogs(b, nvsentinelEvent)

	limit := func() int {
		m, err := tel.GetMetric("courier.cloudevents_exporter.concurrency.limit")
		if err != nil {
			return 0
		}
		if g, ok := m.Data.(metricdata.Gauge[int64]); ok && len(g.DataPoints) > 0 {
			return int(g.DataPoints[0].Value)
		}
		return 0
	}
	res := arcResult{n: n, minLimit: 1 << 30}
	var samples, sum int
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				l := limit()
				res.minLimit = min(res.minLimit, l)
				samples, sum = samples+1, sum+l
				if sample != nil {
					sample(l)
				}
			}
		}
	})

	overflows := listenOverflows(b)
	start := time.Now()
	chunks := make(chan struct{}, n/benchChunk)
	for range n / benchChunk {
		chunks <- struct{}{}
	}
	close(chunks)
	var callers sync.WaitGroup
	for range 5 {
		callers.Go(func() {
			for range chunks {
				if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
					b.Error(err)
				}
			}
		})
	}
	callers.Wait()
	res.elapsed = time.Since(start)
	close(stop)
	sampler.Wait()
	if samples > 0 {
		res.meanLimit = float64(sum) / float64(samples)
	}
	res.overflows = listenOverflows(b) - overflows
	res.lastLimit = limit()
	res.networkErrors = testutil.Counter(b, tel, "courier.cloudevents_exporter.requests", attribute.String("status_class", classNetwork))
	return res
}

// listenOverflows is the kernel's count of connections dropped because a
// listen queue was full (TcpExt ListenOverflows). The count is of the
// network namespace: other processes' overflows land in it too. For figures
// of the sink alone run the benchmark in a namespace of its own, e.g. as
// root: unshare -n sh -c 'ip link set lo up && go test -bench ...'.
func listenOverflows(b *testing.B) int64 {
	f, err := os.Open("/proc/net/netstat")
	if err != nil {
		b.Fatalf("listen overflows: %v", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		names := strings.Fields(sc.Text())
		if !sc.Scan() {
			break
		}
		values := strings.Fields(sc.Text())
		if len(names) == 0 || names[0] != "TcpExt:" {
			continue
		}
		for i, name := range names {
			if name == "ListenOverflows" && i < len(values) {
				v, err := strconv.ParseInt(values[i], 10, 64)
				if err != nil {
					b.Fatal(err)
				}
				return v
			}
		}
	}
	b.Fatal("no TcpExt ListenOverflows in /proc/net/netstat")
	return 0
}

// slotSink is a sink with a number of handlers: a request waits for a free
// one, then holds it for hold. slowDown lowers the number mid-run.
type slotSink struct {
	srv      *httptest.Server
	mu       sync.Mutex
	cond     *sync.Cond
	slots    int
	busy     int
	slowed   bool
	waitSum  time.Duration // waits of the requests after slowDown
	waitN    int
	accepted atomic.Int64
}

func newSlotSink(b *testing.B, slots int, hold time.Duration) *slotSink {
	s := &slotSink{slots: slots}
	s.cond = sync.NewCond(&s.mu)
	cs := newCountingSink(b, 0, eventsIn(EncodingStructured))
	inner := cs.srv.Config.Handler
	cs.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.mu.Lock()
		for s.busy >= s.slots {
			s.cond.Wait()
		}
		s.busy++
		if s.slowed {
			s.waitSum += time.Since(start)
			s.waitN++
		}
		s.mu.Unlock()
		time.Sleep(hold)
		inner.ServeHTTP(w, r)
		s.accepted.Add(1)
		s.mu.Lock()
		s.busy--
		s.cond.Signal()
		s.mu.Unlock()
	})
	s.srv = cs.srv
	return s
}

// slowDown sets the number of handlers once; true the first time.
func (s *slotSink) slowDown(slots int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slowed {
		return false
	}
	s.slots, s.slowed = slots, true
	return true
}

func (s *slotSink) meanWaitAfter() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waitN == 0 {
		return 0
	}
	return float64(s.waitSum.Milliseconds()) / float64(s.waitN)
}

// pythonSink is a sink script run by the system's Python.
type pythonSink struct {
	url, countPath string
}

func startPythonSink(b *testing.B, script, countPath, module string) *pythonSink {
	b.Helper()
	python, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		b.Fatalf("python3 not found: install python3-flask (make deps): %v", err)
	}
	if module != "" {
		if out, err := exec.Command(python, "-c", "import "+module).CombinedOutput(); err != nil {
			b.Fatalf("%s is not installed for %s: install python3-flask (make deps): %v %s", module, python, err, out)
		}
	}
	port := testutil.FreePorts(b, 1)[0]
	cmd := exec.Command(python, script, strconv.Itoa(port))
	// Not into the benchmark's output (Flask warns that it is a
	// development server): shown only when the benchmark fails.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if b.Failed() {
			b.Logf("%s's output:\n%s", script, stderr.String())
		}
	})
	s := &pythonSink{url: fmt.Sprintf("http://127.0.0.1:%d", port), countPath: countPath}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(s.url + countPath); err == nil {
			_ = resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s did not start", script)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *pythonSink) get(b *testing.B) []byte {
	resp, err := http.Get(s.url + s.countPath)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// count is the backlog sink's count of POSTs.
func (s *pythonSink) count(b *testing.B) int {
	n, err := strconv.Atoi(strings.TrimSpace(string(s.get(b))))
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// flaskReceived is the number of events the Flask sink recorded.
func (s *pythonSink) flaskReceived(b *testing.B) int {
	return strings.Count(string(s.get(b)), `"content_type"`)
}
