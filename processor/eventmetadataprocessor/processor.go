package eventmetadataprocessor

import (
	"context"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/courier-otel/courier/internal/componenttel"
	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/processor/eventmetadataprocessor/internal/metadata"
)

// Reasons an event is passed on without its metadata.
const (
	skipDataNotObject = "data_not_object"  // data is a scalar or an array
	skipPathConflict  = "data_path_in_use" // data_path holds a non-object and overwrite is off
)

type eventMetadata struct {
	logger    *zap.Logger
	overwrite bool
	source    string      // rendered once; "" = leave source alone
	dataPath  string      // "" = leave data alone
	meta      pcommon.Map // Metadata, merged into data under dataPath
	ext       []extAttr   // extension attributes, sorted by name

	enriched metric.Int64Counter
	skipped  metric.Int64Counter
}

type extAttr struct{ key, value string }

func newProcessor(set processor.Settings, cfg *Config) (*eventMetadata, error) {
	p := &eventMetadata{logger: set.Logger, overwrite: cfg.Overwrite, meta: pcommon.NewMap()}
	if cfg.Source != "" {
		src, err := renderSource(cfg.Source, cfg.Metadata)
		if err != nil {
			return nil, err
		}
		p.source = src
	}
	if len(cfg.Metadata) > 0 {
		p.dataPath = cfg.DataPath
		keys := make([]string, 0, len(cfg.Metadata))
		for k := range cfg.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys) // a stable member order on the wire
		for _, k := range keys {
			p.meta.PutStr(k, cfg.Metadata[k])
		}
	}
	for name, v := range cfg.ExtensionAttributes {
		p.ext = append(p.ext, extAttr{cloudevent.AttrPrefix + name, v})
	}
	sort.Slice(p.ext, func(i, j int) bool { return p.ext[i].key < p.ext[j].key })

	meter := componenttel.Processor(set).MeterProvider.Meter(metadata.ScopeName)
	var err error
	if p.enriched, err = meter.Int64Counter("courier.event_metadata.events",
		metric.WithUnit("{event}"), metric.WithDescription("Events processed.")); err != nil {
		return nil, err
	}
	if p.skipped, err = meter.Int64Counter("courier.event_metadata.skipped",
		metric.WithUnit("{event}"), metric.WithDescription("Events passed on without their data metadata, by reason.")); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *eventMetadata) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	var n, notObject, conflict int64
	for _, rl := range ld.ResourceLogs().All() {
		placeholder := p.source != "" && rl.Resource().Attributes().Remove(cloudevent.ResourceAttrPlaceholderSource)
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				n++
				if placeholder {
					// A receiver's placeholder is not the event's own source:
					// replace it whatever overwrite says.
					lr.Attributes().PutStr(cloudevent.AttrSource, p.source)
				}
				switch p.apply(lr) {
				case skipDataNotObject:
					notObject++
				case skipPathConflict:
					conflict++
				}
			}
		}
	}
	p.enriched.Add(ctx, n)
	if notObject > 0 {
		p.skipped.Add(ctx, notObject, metric.WithAttributes(attribute.String("reason", skipDataNotObject)))
	}
	if conflict > 0 {
		p.skipped.Add(ctx, conflict, metric.WithAttributes(attribute.String("reason", skipPathConflict)))
	}
	return ld, nil
}

// apply enriches one event and returns why its data was left alone, if it was.
func (p *eventMetadata) apply(lr plog.LogRecord) string {
	attrs := lr.Attributes()
	if p.source != "" {
		p.put(attrs, cloudevent.AttrSource, p.source)
	}
	for _, e := range p.ext {
		p.put(attrs, e.key, e.value)
	}
	if p.dataPath == "" {
		return ""
	}
	body := lr.Body()
	switch body.Type() {
	case pcommon.ValueTypeEmpty:
		p.meta.CopyTo(body.SetEmptyMap().PutEmptyMap(p.dataPath))
		return ""
	case pcommon.ValueTypeMap:
	default:
		return skipDataNotObject
	}
	dst, ok := body.Map().Get(p.dataPath)
	switch {
	case !ok:
		p.meta.CopyTo(body.Map().PutEmptyMap(p.dataPath))
	case dst.Type() == pcommon.ValueTypeMap:
		m := dst.Map()
		for k, v := range p.meta.All() {
			p.put(m, k, v.Str())
		}
	case p.overwrite:
		p.meta.CopyTo(dst.SetEmptyMap())
	default:
		return skipPathConflict
	}
	return ""
}

// put sets m[key] unless it is already set and overwrite is off.
func (p *eventMetadata) put(m pcommon.Map, key, value string) {
	if !p.overwrite {
		if _, ok := m.Get(key); ok {
			return
		}
	}
	m.PutStr(key, value)
}
