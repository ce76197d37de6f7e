package health

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// host records the events reported to it, as the collector's host does.
type host struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *host) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
}

func (h *host) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range h.events {
		s := ev.Status().String()
		if v, ok := ev.Attributes().Get(StateKey); ok {
			s += "/" + v.Str()
		}
		if ev.Err() != nil {
			s += ": " + ev.Err().Error()
		}
		out = append(out, s)
	}
	return out
}

func TestReportsChangesOnly(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	r := New(component.TelemetrySettings{Logger: zap.New(core)})
	h := &host{}
	r.State(StateStandby) // before Start: kept
	r.Start(h)
	r.State(StateStandby)
	r.State(StateLeading)
	r.Recoverable(errors.New("connection refused"))
	// The clock of a recoverable error must not restart on every retry.
	r.Recoverable(errors.New("connection refused again"))
	r.OK()
	r.OK()
	r.Permanent("MongoDB must run as a replica set", errors.New("no change streams"))
	r.Permanent("MongoDB must run as a replica set", errors.New("no change streams"))
	r.OK() // no way back from a permanent error
	assert.Equal(t, []string{
		"StatusOK/standby",
		"StatusOK/leading",
		"StatusRecoverableError: connection refused",
		"StatusOK",
		"StatusPermanentError: no change streams",
	}, h.got())
	require.Equal(t, 1, logs.Len(), "the permanent error is logged once")
	assert.Equal(t, "MongoDB must run as a replica set", logs.All()[0].Message)
	st, _ := r.Status()
	assert.Equal(t, componentstatus.StatusPermanentError, st)
}

func TestHostWithoutStatusReporting(t *testing.T) {
	r := New(component.TelemetrySettings{Logger: zap.NewNop()})
	r.Start(componentHost{})
	r.Recoverable(errors.New("x")) // must not panic
	st, _ := r.Status()
	assert.Equal(t, componentstatus.StatusRecoverableError, st)
}

type componentHost struct{ component.Host }

func TestStatusGauge(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	r := New(component.TelemetrySettings{Logger: zap.NewNop(), MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	r.Start(&host{})
	r.OK()
	r.Recoverable(errors.New("down"))
	r.Permanent("refused", errors.New("401"))

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != MetricStatus {
				continue
			}
			for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				v, _ := p.Attributes.Value("status")
				got[v.AsString()] = p.Value
			}
		}
	}
	assert.Equal(t, map[string]int64{"ok": 0, "recoverable_error": 0, "permanent_error": 1}, got)
}

func TestPermanentLoggedOnceUnderConcurrency(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	r := New(component.TelemetrySettings{Logger: zap.New(core)})
	h := &host{}
	r.Start(h)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { r.Permanent("The sink refuses every request", errors.New("401")) })
	}
	wg.Wait()
	assert.Equal(t, 1, logs.Len())
	assert.Equal(t, []string{"StatusPermanentError: 401"}, h.got())
}
