package structuredlogreceiver

import (
	"context"
	"errors"
	"fmt"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/pkg/structuredlog"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/metadata"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/reader"
)

// waitTimeout bounds every wait in these tests; the machines are small and
// shared, so it is generous. Nothing asserts on how fast things happen.
const waitTimeout = 60 * time.Second

// testConfig returns a config reading dir/*.log, polling often so tests
// do not depend on notifications.
func testConfig(dir string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Include = []string{filepath.Join(dir, "*.log")}
	cfg.PollInterval = 20 * time.Millisecond
	return cfg
}

// openWriter opens a structured log writer in dir.
func openWriter(t testing.TB, dir, name string, mod func(*structuredlog.Options)) *structuredlog.Writer {
	t.Helper()
	o := structuredlog.Options{Dir: dir, Name: name, Source: "user@example", IDType: structuredlog.IDTypeUint64, IDMode: structuredlog.IDModeSequential, IDStart: 1}
	if mod != nil {
		mod(&o)
	}
	w, err := structuredlog.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() }) // tests close some writers themselves
	return w
}

// write appends n events to w with data {"seq": i} and returns their ids.
func write(t testing.TB, w *structuredlog.Writer, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		id, err := w.Write("com.example.test", "example-1.0", map[string]int{"seq": i})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// appendRaw appends bytes to a file as they are, bypassing the writer.
func appendRaw(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// event is what the tests check of a received record.
type event struct {
	ID, Path, Name, Source string
	Observed               bool
}

// sink collects the events of accepted batches, in order. failFirst makes
// the first N ConsumeLogs calls fail without keeping anything.
type sink struct {
	mu        sync.Mutex
	events    []event
	batches   int
	calls     int
	failFirst int
	failWith  error
	// mutate makes a failing call change the batch first, as a processor
	// ahead of a failing exporter may.
	mutate bool
	delay  time.Duration // per accepted batch, to slow the receiver down
	// failOn makes that call (1-based) fail after failDelay, for a refusal
	// that comes while the receiver reads on.
	failOn    int
	failDelay time.Duration
	// refuse: a batch holding one of these events is refused for good;
	// maxBatch != 0: so is a batch of more events (a Kafka record too
	// large; -1: every event is).
	refuse   map[string]bool
	maxBatch int
}

func (s *sink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *sink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls == s.failOn {
		time.Sleep(s.failDelay)
		return fmt.Errorf("sink failure on call %d", s.calls)
	}
	if s.refuse != nil || s.maxBatch != 0 {
		n := 0
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					n++
					if v, _ := lr.Attributes().Get(cloudevent.AttrID); s.refuse[v.AsString()] {
						return consumererror.NewPermanent(errors.New("refused: " + v.AsString()))
					}
				}
			}
		}
		if s.maxBatch != 0 && n > s.maxBatch {
			return consumererror.NewPermanent(fmt.Errorf("record of %d events: MESSAGE_TOO_LARGE", n))
		}
	}
	if s.calls <= s.failFirst {
		if s.mutate {
			ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				lr.Attributes().PutStr(cloudevent.AttrSource, "changed")
				return lr.Attributes().Len()%2 == 0 // and drop some
			})
		}
		if s.failWith != nil {
			return s.failWith
		}
		return fmt.Errorf("sink failure %d of %d", s.calls, s.failFirst)
	}
	s.batches++
	time.Sleep(s.delay)
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				attrs := lr.Attributes()
				str := func(k string) string {
					v, _ := attrs.Get(k)
					return v.AsString()
				}
				s.events = append(s.events, event{
					ID: str(cloudevent.AttrID), Path: str(reader.AttrFilePath), Name: str(reader.AttrFileName),
					Source: str(cloudevent.AttrSource), Observed: lr.ObservedTimestamp() != 0,
				})
			}
		}
	}
	return nil
}

func (s *sink) snapshot() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event(nil), s.events...)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

func (s *sink) ids() []string {
	var ids []string
	for _, e := range s.snapshot() {
		ids = append(ids, e.ID)
	}
	return ids
}

// startReceiver creates and starts a receiver; a cleanup shuts it down.
func startReceiver(t testing.TB, cfg *Config, next consumer.Logs, host component.Host) receiver.Logs {
	t.Helper()
	return startWith(t, cfg, next, host, receivertest.NewNopSettings(metadata.Type))
}

func startWith(t testing.TB, cfg *Config, next consumer.Logs, host component.Host, set receiver.Settings) receiver.Logs {
	t.Helper()
	r, err := createTestReceiver(cfg, next, set)
	if err != nil {
		t.Fatal(err)
	}
	if host == nil {
		host = componenttest.NewNopHost()
	}
	if err := r.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return r
}

func createTestReceiver(cfg *Config, next consumer.Logs, set receiver.Settings) (receiver.Logs, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return NewFactory().CreateLogs(context.Background(), set, cfg, next)
}

// observed is a receiver started with telemetry and logs the test can read.
type observed struct {
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
	set  receiver.Settings
}

func newObserved(t testing.TB) *observed {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	core, logs := observer.New(zap.DebugLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type) // stable, as in a collector: storage clients are keyed by it
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	return &observed{tel: tel, logs: logs, set: set}
}

// metric returns the sum of an int64 counter's points, only those with
// this reason when reason is not empty.
func (o *observed) metric(name, reason string) int64 {
	m, err := o.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		return 0
	}
	var n int64
	for _, dp := range sum.DataPoints {
		if reason != "" {
			if v, ok := dp.Attributes.Value(metadata.ReasonKey); !ok || v.AsString() != reason {
				continue
			}
		}
		n += dp.Value
	}
	return n
}

// logged counts log entries at level or above whose message contains msg.
func (o *observed) logged(level zapcore.Level, msg string) int {
	n := 0
	for _, e := range o.logs.All() {
		if e.Level >= level && strings.Contains(e.Message, msg) {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until the sink has not changed for a while, to check that
// nothing more arrives; used only after the expected events have arrived.
func settle(s *sink) {
	last := -1
	for n := s.count(); n != last; n = s.count() {
		last = n
		time.Sleep(200 * time.Millisecond)
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
