package schemavalidationprocessor

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/courier-otel/courier/extension/schemaregistryextension"
	"github.com/courier-otel/courier/internal/componenttel"
	"github.com/courier-otel/courier/internal/privacy"
	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/processor/schemavalidationprocessor/internal/metadata"
)

// Attributes set on an event kept with on_invalid: keep. They are Courier's
// own (no cloudevents.event_ prefix), so encoders do not send them.
const (
	AttrReason = "courier.schema_validation.reason" // one of the reasons below
	AttrError  = "courier.schema_validation.error"  // what is wrong, for people
)

// Why an event is rejected. The strings are stable: they label metrics and
// AttrReason.
type reason uint8

const (
	reasonNone reason = iota
	reasonUnknownSchema
	reasonUnknownEventType
	reasonInvalidData
	reasonNoConsent
	numReasons
)

var reasonNames = [numReasons]string{"", "unknown_schema", "unknown_event_type", "invalid_data", "no_consent"}

func (r reason) String() string { return reasonNames[r] }

// logInterval spaces out the per-event warnings of one reason.
const logInterval = 10 * time.Second

type schemaValidation struct {
	cfg      *Config
	logger   *zap.Logger
	keep     bool
	registry schemaregistryextension.Registry
	consent  atomic.Pointer[privacy.Consent] // effective consent: file and overrides
	watcher  *privacy.Watcher

	logs [numReasons]rate.Sometimes

	validated metric.Int64Counter
	dropped   metric.Int64Counter
	marked    metric.Int64Counter
	reasonSet [numReasons]metric.MeasurementOption
}

func newProcessor(set processor.Settings, cfg *Config) (*schemaValidation, error) {
	p := &schemaValidation{cfg: cfg, logger: set.Logger, keep: cfg.OnInvalid == OnInvalidKeep}
	for i := range p.logs {
		p.logs[i] = rate.Sometimes{First: 1, Interval: logInterval}
	}
	for r := reasonUnknownSchema; r < numReasons; r++ {
		p.reasonSet[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r.String())))
	}
	p.consent.Store(&privacy.Consent{}) // no consent until Start reads it
	meter := componenttel.Processor(set).MeterProvider.Meter(metadata.ScopeName)
	var err error
	if p.validated, err = meter.Int64Counter("courier.schema_validation.validated",
		metric.WithUnit("{event}"),
		metric.WithDescription("Events that validated against an approved schema and have consent, passed on.")); err != nil {
		return nil, err
	}
	if p.dropped, err = meter.Int64Counter("courier.schema_validation.dropped",
		metric.WithUnit("{event}"),
		metric.WithDescription("Events dropped, by reason: unknown_schema, unknown_event_type, invalid_data, no_consent.")); err != nil {
		return nil, err
	}
	if p.marked, err = meter.Int64Counter("courier.schema_validation.marked",
		metric.WithUnit("{event}"),
		metric.WithDescription("Events that failed validation and were passed on marked (on_invalid: keep), by reason.")); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *schemaValidation) start(_ context.Context, host component.Host) error {
	reg, err := schemaregistryextension.FromHost(host, p.cfg.Registry)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	p.registry = reg
	c := &p.cfg.Consent
	if c.PrivacyFile == "" || c.explicit() {
		p.setConsent(privacy.Consent{}, nil, "")
		return nil
	}
	p.watcher = privacy.NewWatcher(c.PrivacyFile, c.PollInterval, func(consent privacy.Consent, err error) {
		p.setConsent(consent, err, c.PrivacyFile)
	})
	p.watcher.Start()
	return nil
}

func (p *schemaValidation) shutdown(context.Context) error {
	if p.watcher != nil {
		p.watcher.Stop()
	}
	return nil
}

// setConsent applies the explicit settings over what the privacy file says
// and publishes the result. A file that cannot be read gives no consent.
func (p *schemaValidation) setConsent(file privacy.Consent, err error, path string) {
	c := &p.cfg.Consent
	eff := privacy.Consent{UserID: file.UserID}
	for _, x := range []struct {
		dst      *bool
		file     bool
		explicit *bool
	}{
		{&eff.Usage, file.Usage, c.Usage},
		{&eff.Performance, file.Performance, c.Performance},
		{&eff.Personalization, file.Personalization, c.Personalization},
	} {
		*x.dst = x.file
		if x.explicit != nil {
			*x.dst = *x.explicit
		}
	}
	p.consent.Store(&eff)
	fields := []zap.Field{
		zap.Bool("usage", eff.Usage), zap.Bool("performance", eff.Performance),
		zap.Bool("personalization", eff.Personalization),
	}
	if path != "" {
		fields = append(fields, zap.String("privacy_file", path))
	}
	if err != nil {
		p.logger.Warn("privacy file unusable; categories it should grant get no consent", append(fields, zap.Error(err))...)
		return
	}
	p.logger.Info("consent", fields...)
}

// counts are one batch's outcomes, recorded once per batch.
type counts struct {
	valid   int64
	dropped [numReasons]int64
	marked  [numReasons]int64
}

func (p *schemaValidation) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	consent := p.consent.Load()
	var n counts
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				return p.check(lr, consent, &n)
			})
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})
	p.record(ctx, &n)
	if ld.ResourceLogs().Len() == 0 {
		return ld, processorhelper.ErrSkipProcessingData
	}
	return ld, nil
}

func (p *schemaValidation) record(ctx context.Context, n *counts) {
	if n.valid > 0 {
		p.validated.Add(ctx, n.valid)
	}
	for r := reasonUnknownSchema; r < numReasons; r++ {
		if n.dropped[r] > 0 {
			p.dropped.Add(ctx, n.dropped[r], p.reasonSet[r])
		}
		if n.marked[r] > 0 {
			p.marked.Add(ctx, n.marked[r], p.reasonSet[r])
		}
	}
}

// check validates one event and reports whether to drop it.
func (p *schemaValidation) check(lr plog.LogRecord, consent *privacy.Consent, n *counts) bool {
	dataschema, eventType := schemaregistryextension.RecordKey(lr)
	es, res := p.registry.Lookup(dataschema, eventType)
	var r reason
	var err error
	switch res {
	case schemaregistryextension.UnknownSchema:
		r = reasonUnknownSchema
	case schemaregistryextension.UnknownEventType:
		r = reasonUnknownEventType
	default:
		if !consent.Allows(string(es.Category)) {
			// Privacy first: never passed on, whatever on_invalid says.
			n.dropped[reasonNoConsent]++
			return true
		}
		if err = es.Validate(lr.Body()); err != nil {
			r = reasonInvalidData
		}
	}
	if r == reasonNone {
		n.valid++
		return false
	}
	p.logs[r].Do(func() {
		p.logger.Warn("event failed schema validation; further ones are only counted for a while",
			zap.String("reason", r.String()), zap.String("id", attrString(lr, cloudevent.AttrID)),
			zap.String("dataschema", dataschema), zap.String("type", eventType),
			zap.String("error", rejection(r, dataschema, eventType, err)), zap.Bool("kept", p.keep))
	})
	if p.keep {
		attrs := lr.Attributes()
		attrs.PutStr(AttrReason, r.String())
		attrs.PutStr(AttrError, rejection(r, dataschema, eventType, err))
		n.marked[r]++
		return false
	}
	n.dropped[r]++
	return true
}

// rejection says what is wrong with an event.
func rejection(r reason, dataschema, eventType string, err error) string {
	switch r {
	case reasonUnknownSchema:
		if dataschema == "" {
			return "the event has no dataschema"
		}
		return fmt.Sprintf("dataschema %q is not an approved schema", dataschema)
	case reasonUnknownEventType:
		return fmt.Sprintf("type %q is not an event of schema %s", eventType, dataschema)
	}
	return err.Error()
}

func attrString(lr plog.LogRecord, key string) string {
	if v, ok := lr.Attributes().Get(key); ok {
		return v.AsString()
	}
	return ""
}
