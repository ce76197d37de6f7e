package testutil

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// ProcessorHarness is a started logs processor that feeds a sink, with its
// logs observed and its telemetry in memory.
type ProcessorHarness struct {
	Proc processor.Logs
	Sink *consumertest.LogsSink
	Logs *observer.ObservedLogs
	Tel  *componenttest.Telemetry
}

// NewProcessorHarness creates the factory's logs processor with cfg and
// starts it on host (nil: no extensions); cleanups shut it down.
func NewProcessorHarness(t testing.TB, f processor.Factory, cfg component.Config, host component.Host) *ProcessorHarness {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(f.Type())
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	sink := new(consumertest.LogsSink)
	proc, err := f.CreateLogs(context.Background(), set, cfg, sink)
	if err != nil {
		t.Fatalf("create processor: %v", err)
	}
	if host == nil {
		host = componenttest.NewNopHost()
	}
	if err := proc.Start(context.Background(), host); err != nil {
		t.Fatalf("start processor: %v", err)
	}
	t.Cleanup(func() {
		if err := proc.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown processor: %v", err)
		}
	})
	return &ProcessorHarness{Proc: proc, Sink: sink, Logs: logs, Tel: tel}
}

// Consume sends copies of records as one batch and returns the records the
// processor passed on, in order.
func (h *ProcessorHarness) Consume(t testing.TB, records ...plog.LogRecord) []plog.LogRecord {
	t.Helper()
	h.Sink.Reset()
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, lr := range records {
		lr.CopyTo(lrs.AppendEmpty())
	}
	if err := h.Proc.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatalf("ConsumeLogs: %v", err)
	}
	return Records(h.Sink.AllLogs()...)
}

// Counter returns the sum of the data points of counter name whose
// attributes include attrs (0 when nothing was recorded).
func (h *ProcessorHarness) Counter(t testing.TB, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	return Counter(t, h.Tel, name, attrs...)
}

// Counter returns the sum of the data points of counter name in tel whose
// attributes include attrs (0 when nothing was recorded).
func Counter(t testing.TB, tel *componenttest.Telemetry, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0 // not recorded yet
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a %T, not an int64 counter", name, m.Data)
	}
	var total int64
	for _, dp := range sum.DataPoints {
		match := true
		for _, a := range attrs {
			v, ok := dp.Attributes.Value(a.Key)
			match = match && ok && v == a.Value
		}
		if match {
			total += dp.Value
		}
	}
	return total
}

// Records returns every log record of lds, in order.
func Records(lds ...plog.Logs) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range lds {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, lr)
				}
			}
		}
	}
	return out
}

// Event decodes one JSON CloudEvent into a new log record.
func Event(t testing.TB, line string) plog.LogRecord {
	t.Helper()
	lr := plog.NewLogRecord()
	var d cloudevent.Decoder
	if err := d.Decode([]byte(line), lr); err != nil {
		t.Fatalf("decode %s: %v", line, err)
	}
	return lr
}
