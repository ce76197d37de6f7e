// Package componenttel gives every measurement of a Courier component the
// component id, under the key the collector's own series use for it
// (receiver="structured_log/a", exporter="cloudevents/b", ...), so that two
// instances of one component are told apart on a dashboard.
//
// Collector v0.165 injects component attributes into the meters it hands to
// components only behind the alpha feature gate telemetry.newPipelineTelemetry,
// and then as instrumentation-scope attributes (otel_scope_* labels in
// Prometheus), not as the receiver/processor/exporter labels of its own
// series. Wrapping the MeterProvider once here puts the id on every
// measurement without touching the components' recording code.
package componenttel

import (
	"context"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// maxCached bounds the merged attribute sets kept per meter; past it the merge
// is computed on every measurement (correct, only slower).
const maxCached = 4096

// Key is the attribute key naming a component of kind k: "receiver",
// "processor", "exporter", "connector" or "extension", as in the collector's
// own otelcol_* series.
func Key(k component.Kind) string {
	return strings.ToLower(k.String())
}

// Attribute is the component id attribute of component id of kind k.
func Attribute(k component.Kind, id component.ID) attribute.KeyValue {
	return attribute.String(Key(k), id.String())
}

// Settings returns set with a MeterProvider whose instruments add the
// component id attribute to every measurement.
func Settings(set component.TelemetrySettings, k component.Kind, id component.ID) component.TelemetrySettings {
	set.MeterProvider = MeterProvider(set.MeterProvider, Attribute(k, id))
	return set
}

// MeterProvider wraps mp so that every measurement made with its meters
// carries attr (unless the measurement sets the same key itself).
func MeterProvider(mp metric.MeterProvider, attr attribute.KeyValue) metric.MeterProvider {
	if mp == nil {
		return nil
	}
	return &meterProvider{MeterProvider: mp, attrs: &attrs{base: attribute.NewSet(attr)}}
}

type meterProvider struct {
	metric.MeterProvider
	attrs *attrs
}

func (p *meterProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return &meter{Meter: p.MeterProvider.Meter(name, opts...), attrs: p.attrs}
}

// attrs merges the base attribute into measurement attribute sets, caching
// the merged options by the measurement's set.
type attrs struct {
	base   attribute.Set
	cache  sync.Map // attribute.Distinct -> *merged
	cached int
	mu     sync.Mutex
}

type merged struct {
	add     []metric.AddOption
	record  []metric.RecordOption
	observe []metric.ObserveOption
}

func (a *attrs) merge(set attribute.Set) *merged {
	key := set.Equivalent()
	if m, ok := a.cache.Load(key); ok {
		return m.(*merged)
	}
	// The measurement's own attributes win over the base on the same key.
	kvs := append(a.base.ToSlice(), set.ToSlice()...)
	byKey := make(map[attribute.Key]attribute.KeyValue, len(kvs))
	for _, kv := range kvs {
		byKey[kv.Key] = kv
	}
	out := make([]attribute.KeyValue, 0, len(byKey))
	for _, kv := range byKey {
		out = append(out, kv)
	}
	opt := metric.WithAttributeSet(attribute.NewSet(out...))
	m := &merged{add: []metric.AddOption{opt}, record: []metric.RecordOption{opt}, observe: []metric.ObserveOption{opt}}
	a.mu.Lock()
	if a.cached < maxCached {
		if _, loaded := a.cache.LoadOrStore(key, m); !loaded {
			a.cached++
		}
	}
	a.mu.Unlock()
	return m
}

func (a *attrs) add(opts []metric.AddOption) []metric.AddOption {
	return a.merge(metric.NewAddConfig(opts).Attributes()).add
}

func (a *attrs) record(opts []metric.RecordOption) []metric.RecordOption {
	return a.merge(metric.NewRecordConfig(opts).Attributes()).record
}

func (a *attrs) observe(opts []metric.ObserveOption) []metric.ObserveOption {
	return a.merge(metric.NewObserveConfig(opts).Attributes()).observe
}

// meter wraps the synchronous instruments and the callbacks; what it does not
// override (the callback-option forms of observable instruments) reaches the
// wrapped meter unchanged.
type meter struct {
	metric.Meter
	attrs *attrs
}

func (m *meter) Int64Counter(name string, opts ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	i, err := m.Meter.Int64Counter(name, opts...)
	return &int64Counter{Int64Counter: i, a: m.attrs}, err
}

func (m *meter) Int64UpDownCounter(name string, opts ...metric.Int64UpDownCounterOption) (metric.Int64UpDownCounter, error) {
	i, err := m.Meter.Int64UpDownCounter(name, opts...)
	return &int64UpDownCounter{Int64UpDownCounter: i, a: m.attrs}, err
}

func (m *meter) Int64Histogram(name string, opts ...metric.Int64HistogramOption) (metric.Int64Histogram, error) {
	i, err := m.Meter.Int64Histogram(name, opts...)
	return &int64Histogram{Int64Histogram: i, a: m.attrs}, err
}

func (m *meter) Int64Gauge(name string, opts ...metric.Int64GaugeOption) (metric.Int64Gauge, error) {
	i, err := m.Meter.Int64Gauge(name, opts...)
	return &int64Gauge{Int64Gauge: i, a: m.attrs}, err
}

func (m *meter) Float64Counter(name string, opts ...metric.Float64CounterOption) (metric.Float64Counter, error) {
	i, err := m.Meter.Float64Counter(name, opts...)
	return &float64Counter{Float64Counter: i, a: m.attrs}, err
}

func (m *meter) Float64UpDownCounter(name string, opts ...metric.Float64UpDownCounterOption) (metric.Float64UpDownCounter, error) {
	i, err := m.Meter.Float64UpDownCounter(name, opts...)
	return &float64UpDownCounter{Float64UpDownCounter: i, a: m.attrs}, err
}

func (m *meter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	i, err := m.Meter.Float64Histogram(name, opts...)
	return &float64Histogram{Float64Histogram: i, a: m.attrs}, err
}

func (m *meter) Float64Gauge(name string, opts ...metric.Float64GaugeOption) (metric.Float64Gauge, error) {
	i, err := m.Meter.Float64Gauge(name, opts...)
	return &float64Gauge{Float64Gauge: i, a: m.attrs}, err
}

// RegisterCallback hands the callback an observer that adds the attribute.
func (m *meter) RegisterCallback(f metric.Callback, instruments ...metric.Observable) (metric.Registration, error) {
	return m.Meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return f(ctx, &observer{Observer: o, a: m.attrs})
	}, instruments...)
}

type observer struct {
	metric.Observer
	a *attrs
}

func (o *observer) ObserveInt64(i metric.Int64Observable, v int64, opts ...metric.ObserveOption) {
	o.Observer.ObserveInt64(i, v, o.a.observe(opts)...)
}

func (o *observer) ObserveFloat64(i metric.Float64Observable, v float64, opts ...metric.ObserveOption) {
	o.Observer.ObserveFloat64(i, v, o.a.observe(opts)...)
}

type int64Counter struct {
	metric.Int64Counter
	a *attrs
}

func (i *int64Counter) Add(ctx context.Context, v int64, opts ...metric.AddOption) {
	i.Int64Counter.Add(ctx, v, i.a.add(opts)...)
}

type int64UpDownCounter struct {
	metric.Int64UpDownCounter
	a *attrs
}

func (i *int64UpDownCounter) Add(ctx context.Context, v int64, opts ...metric.AddOption) {
	i.Int64UpDownCounter.Add(ctx, v, i.a.add(opts)...)
}

type int64Histogram struct {
	metric.Int64Histogram
	a *attrs
}

func (i *int64Histogram) Record(ctx context.Context, v int64, opts ...metric.RecordOption) {
	i.Int64Histogram.Record(ctx, v, i.a.record(opts)...)
}

type int64Gauge struct {
	metric.Int64Gauge
	a *attrs
}

func (i *int64Gauge) Record(ctx context.Context, v int64, opts ...metric.RecordOption) {
	i.Int64Gauge.Record(ctx, v, i.a.record(opts)...)
}

type float64Counter struct {
	metric.Float64Counter
	a *attrs
}

func (i *float64Counter) Add(ctx context.Context, v float64, opts ...metric.AddOption) {
	i.Float64Counter.Add(ctx, v, i.a.add(opts)...)
}

type float64UpDownCounter struct {
	metric.Float64UpDownCounter
	a *attrs
}

func (i *float64UpDownCounter) Add(ctx context.Context, v float64, opts ...metric.AddOption) {
	i.Float64UpDownCounter.Add(ctx, v, i.a.add(opts)...)
}

type float64Histogram struct {
	metric.Float64Histogram
	a *attrs
}

func (i *float64Histogram) Record(ctx context.Context, v float64, opts ...metric.RecordOption) {
	i.Float64Histogram.Record(ctx, v, i.a.record(opts)...)
}

type float64Gauge struct {
	metric.Float64Gauge
	a *attrs
}

func (i *float64Gauge) Record(ctx context.Context, v float64, opts ...metric.RecordOption) {
	i.Float64Gauge.Record(ctx, v, i.a.record(opts)...)
}

// Receiver, Processor, Exporter and Extension return the component's
// telemetry settings with the id on every measurement.
func Receiver(set receiver.Settings) component.TelemetrySettings {
	return Settings(set.TelemetrySettings, component.KindReceiver, set.ID)
}

func Processor(set processor.Settings) component.TelemetrySettings {
	return Settings(set.TelemetrySettings, component.KindProcessor, set.ID)
}

func Exporter(set exporter.Settings) component.TelemetrySettings {
	return Settings(set.TelemetrySettings, component.KindExporter, set.ID)
}

func Extension(set extension.Settings) component.TelemetrySettings {
	return Settings(set.TelemetrySettings, component.KindExtension, set.ID)
}
