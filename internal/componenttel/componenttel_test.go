package componenttel

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// attrsOf collects every data point's attributes by metric name.
func attrsOf(t *testing.T, r *sdkmetric.ManualReader) map[string][]attribute.Set {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := map[string][]attribute.Set{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], p.Attributes)
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], p.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], p.Attributes)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], p.Attributes)
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], p.Attributes)
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

func TestEveryInstrumentCarriesTheComponentID(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	ts := component.TelemetrySettings{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))}
	a := Settings(ts, component.KindExporter, component.MustNewIDWithName("cloudevents", "a"))
	b := Settings(ts, component.KindExporter, component.MustNewIDWithName("cloudevents", "b"))
	ctx := context.Background()
	reason := metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "status_5xx")))
	for _, set := range []component.TelemetrySettings{a, b} {
		m := set.MeterProvider.Meter("scope")
		ic, _ := m.Int64Counter("ic")
		ic.Add(ctx, 1)
		ic.Add(ctx, 1, reason)
		iu, _ := m.Int64UpDownCounter("iu")
		iu.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "x")))
		ih, _ := m.Int64Histogram("ih")
		ih.Record(ctx, 1)
		ig, _ := m.Int64Gauge("ig")
		ig.Record(ctx, 1)
		fc, _ := m.Float64Counter("fc")
		fc.Add(ctx, 1)
		fu, _ := m.Float64UpDownCounter("fu")
		fu.Add(ctx, 1)
		fh, _ := m.Float64Histogram("fh")
		fh.Record(ctx, 1, reason)
		fg, _ := m.Float64Gauge("fg")
		fg.Record(ctx, 1)
		og, _ := m.Int64ObservableGauge("og")
		_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			o.ObserveInt64(og, 3)
			return nil
		}, og)
		require.NoError(t, err)
	}

	got := attrsOf(t, reader)
	for _, name := range []string{"ic", "iu", "ih", "ig", "fc", "fu", "fh", "fg", "og"} {
		ids := map[string]bool{}
		for _, s := range got[name] {
			v, ok := s.Value("exporter")
			require.Truef(t, ok, "%s: a data point without the exporter attribute: %v", name, s.ToSlice())
			ids[v.AsString()] = true
		}
		assert.Equal(t, map[string]bool{"cloudevents/a": true, "cloudevents/b": true}, ids, name)
	}
	// The measurement's own attributes stay.
	var withReason int
	for _, s := range got["ic"] {
		if v, ok := s.Value("reason"); ok {
			assert.Equal(t, "status_5xx", v.AsString())
			withReason++
		}
	}
	assert.Equal(t, 2, withReason)
}

func TestKeys(t *testing.T) {
	id := component.MustNewID("structured_log")
	assert.Equal(t, attribute.String("receiver", "structured_log"), Attribute(component.KindReceiver, id))
	assert.Equal(t, "processor", Key(component.KindProcessor))
	assert.Equal(t, "extension", Key(component.KindExtension))
	assert.Nil(t, MeterProvider(nil, Attribute(component.KindReceiver, id)))
}

func BenchmarkAdd(b *testing.B) {
	mp := MeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
		Attribute(component.KindExporter, component.MustNewID("cloudevents")))
	c, _ := mp.Meter("scope").Int64Counter("c")
	opts := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("status_class", "2xx")))}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.Add(ctx, 1, opts...)
	}
}

// BenchmarkAddUnwrapped is BenchmarkAdd without the wrapper: the ratio is
// the wrapper's cost per measurement.
func BenchmarkAddUnwrapped(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	c, _ := mp.Meter("scope").Int64Counter("c")
	opts := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
		attribute.String("status_class", "2xx"), Attribute(component.KindExporter, component.MustNewID("cloudevents"))))}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.Add(ctx, 1, opts...)
	}
}
