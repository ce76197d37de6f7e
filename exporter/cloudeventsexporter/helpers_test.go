package cloudeventsexporter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/metadata"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// waitTimeout bounds every wait of these tests; the machines are small and
// shared, so it is generous, and a healthy run never gets near it.
const waitTimeout = 20 * time.Second

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sinkRequest is one request as the sink received it.
type sinkRequest struct {
	at     time.Time // when the handler started
	header http.Header
	body   []byte
}

// httpRequest rebuilds the request, for the CloudEvents SDK's HTTP binding.
func (r sinkRequest) httpRequest() *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(r.body))
	req.Header = r.header.Clone()
	return req
}

// sink is a loopback HTTP server that records every request and answers
// with respond (200 when nil).
type sink struct {
	*httptest.Server
	respond func(w http.ResponseWriter, n int, r sinkRequest)

	mu          sync.Mutex
	reqs        []sinkRequest
	inFlight    atomic.Int32
	maxInFlight atomic.Int32
}

func newSink(t testing.TB, respond func(w http.ResponseWriter, n int, r sinkRequest)) *sink {
	s := &sink{respond: respond}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// newSinkOn is newSink on a given listener.
func newSinkOn(t testing.TB, ln net.Listener, respond func(w http.ResponseWriter, n int, r sinkRequest)) *sink {
	s := &sink{respond: respond}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	_ = s.Listener.Close()
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxInFlight.Load()
		if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	at := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	req := sinkRequest{at: at, header: r.Header.Clone(), body: body}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	idx := len(s.reqs) - 1
	s.mu.Unlock()
	if s.respond != nil {
		s.respond(w, idx, req)
	}
}

func (s *sink) requests() []sinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkRequest(nil), s.reqs...)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// status answers every request with code.
func status(code int) func(http.ResponseWriter, int, sinkRequest) {
	return func(w http.ResponseWriter, _ int, _ sinkRequest) { w.WriteHeader(code) }
}

// The two ~700-byte events of pkg/cloudevent/testdata.
const (
	omniverseEvent  = "omniverse.json"
	nvsentinelEvent = "nvsentinel.json"
)

func fixtureNamed(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "pkg", "cloudevent", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// makeLogs decodes the Omniverse fixture once per id, giving each event that id.
func makeLogs(t testing.TB, ids ...string) plog.Logs {
	return makeLogsFrom(t, omniverseEvent, ids...)
}

func makeLogsFrom(t testing.TB, name string, ids ...string) plog.Logs {
	t.Helper()
	in := fixtureNamed(t, name)
	ld := plog.NewLogs()
	rs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	var d cloudevent.Decoder
	for _, id := range ids {
		lr := rs.AppendEmpty()
		if err := d.Decode(in, lr); err != nil {
			t.Fatal(err)
		}
		lr.Attributes().PutStr(cloudevent.AttrID, id)
	}
	return ld
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

// testConfig is a config for a loopback sink: fast retries without jitter,
// and no sending queue so that ConsumeLogs returns when delivery is over.
func testConfig(endpoints ...string) *Config {
	cfg := createDefaultConfig().(*Config)
	if len(endpoints) == 1 {
		cfg.ClientConfig.Endpoint = endpoints[0]
	} else {
		cfg.Endpoints = endpoints
	}
	cfg.ClientConfig.Timeout = 5 * time.Second
	cfg.RetryConfig.InitialInterval = 5 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 20 * time.Millisecond
	cfg.RetryConfig.RandomizationFactor = 0
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	return cfg
}

// withQueue turns the default sending queue back on: in memory, waiting
// for the result, no batcher.
func withQueue(cfg *Config) *Config {
	cfg.QueueConfig = createDefaultConfig().(*Config).QueueConfig
	return cfg
}

// withBatchingQueue is a memory queue that does not wait for the result and
// batches with the default batch settings: ConsumeLogs returns once the
// events are queued.
func withBatchingQueue(cfg *Config) *Config {
	cfg = withQueue(cfg)
	q := cfg.QueueConfig.Get()
	q.WaitForResult = false
	q.Batch = configoptional.Some(*q.Batch.GetOrInsertDefault())
	return cfg
}

// withPersistentQueue is the default queue kept in the storage extension
// id, which (as Unmarshal does for YAML) does not wait for the result.
func withPersistentQueue(cfg *Config, id component.ID) *Config {
	cfg = withQueue(cfg)
	q := cfg.QueueConfig.Get()
	q.StorageID = &id
	q.WaitForResult = false
	return cfg
}

type testExporter struct {
	exporter.Logs
	tel *componenttest.Telemetry
}

// startExporter creates and starts the exporter; a cleanup shuts it down.
func startExporter(t testing.TB, cfg *Config, host component.Host) *testExporter {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("invalid test config: %v", err)
	}
	if host == nil {
		host = componenttest.NewNopHost()
	}
	tel := componenttest.NewTelemetry()
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	te := &testExporter{Logs: exp, tel: tel}
	t.Cleanup(func() {
		shutdown(t, exp)
		_ = tel.Shutdown(context.Background())
	})
	return te
}

// shutdown shuts exp down within waitTimeout.
func shutdown(t testing.TB, exp component.Component) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- exp.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("shutdown did not finish")
	}
}

// consume calls ConsumeLogs within waitTimeout.
func consume(t testing.TB, exp exporter.Logs, ld plog.Logs) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- exp.ConsumeLogs(context.Background(), ld) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ConsumeLogs: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("ConsumeLogs did not return")
	}
}

// counter returns the sum of the data points of a counter whose attributes
// include attrs.
func (te *testExporter) counter(t testing.TB, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	return testutil.Counter(t, te.tel, "courier.cloudevents_exporter."+name, attrs...)
}

// deadLetterLine is one line of a dead-letter file.
type deadLetterLine struct {
	Time      time.Time       `json:"time"`
	Reason    string          `json:"reason"`
	Status    int             `json:"status"`
	Endpoint  string          `json:"endpoint"`
	Error     string          `json:"error"`
	Event     json.RawMessage `json:"event"`
	LogRecord json.RawMessage `json:"log_record"`
}

func (l deadLetterLine) eventID(t testing.TB) string {
	var ev struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(l.Event, &ev); err != nil {
		t.Fatalf("dead-letter event %s: %v", l.Event, err)
	}
	return ev.ID
}

func readDeadLetters(t testing.TB, dir string) []deadLetterLine {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	var out []deadLetterLine
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var l deadLetterLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
			}
			out = append(out, l)
		}
		_ = f.Close()
	}
	return out
}

// closedURL is the URL of a loopback port nothing listens on.
func closedURL(t testing.TB) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}
