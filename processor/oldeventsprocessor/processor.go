package oldeventsprocessor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	sr "github.com/courier-otel/courier/extension/schemaregistryextension"
	"github.com/courier-otel/courier/internal/componenttel"
	"github.com/courier-otel/courier/processor/oldeventsprocessor/internal/metadata"
)

// logInterval spaces out the per-event log lines of one cause.
const logInterval = 10 * time.Second

// maxKeyFileSize bounds pseudonymize_key_file.
const maxKeyFileSize = 64 << 10

type oldEvents struct {
	cfg      *Config
	logger   *zap.Logger
	policy   policy
	registry sr.Registry // nil without a registry
	t        *transformer
	now      func() time.Time

	logs [numCauses]rate.Sometimes

	dropped       metric.Int64Counter
	anonymized    metric.Int64Counter
	pseudonymized metric.Int64Counter
	causeSet      [numCauses]metric.MeasurementOption
}

func newProcessor(set processor.Settings, cfg *Config) (*oldEvents, error) {
	p := &oldEvents{
		cfg:    cfg,
		logger: set.Logger,
		policy: policy{thresholdDays: cfg.ThresholdDays, ignore: cfg.IgnoreOldEvents, pseudonymize: cfg.PseudonymizeOldEvents},
		now:    time.Now,
	}
	for i := range p.logs {
		p.logs[i] = rate.Sometimes{First: 1, Interval: logInterval}
	}
	for c := causeIgnoreOldEvents; c < numCauses; c++ {
		p.causeSet[c] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", c.String())))
	}
	meter := componenttel.Processor(set).MeterProvider.Meter(metadata.ScopeName)
	var err error
	if p.dropped, err = meter.Int64Counter("courier.old_events.dropped",
		metric.WithUnit("{event}"),
		metric.WithDescription("Old events dropped, by reason: ignore_old_events (the processor setting) or ignore_flag (a schema or event flag).")); err != nil {
		return nil, err
	}
	if p.anonymized, err = meter.Int64Counter("courier.old_events.anonymized",
		metric.WithUnit("{event}"),
		metric.WithDescription("Events anonymized, by reason: old_event, schema_flag (fSchemaFlagAnonymizeEvents) or no_pseudonymize_key.")); err != nil {
		return nil, err
	}
	if p.pseudonymized, err = meter.Int64Counter("courier.old_events.pseudonymized",
		metric.WithUnit("{event}"),
		metric.WithDescription("Old events pseudonymized.")); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *oldEvents) start(_ context.Context, host component.Host) error {
	key, err := p.key()
	if err != nil {
		return err
	}
	p.t = newTransformer(p.cfg.IdentifyingFields, key)
	if p.cfg.Registry != (component.ID{}) {
		reg, err := sr.FromHost(host, p.cfg.Registry)
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		p.registry = reg
		if !p.t.hasKey {
			p.logger.Info("no pseudonymize_key: events whose schema or event flags ask for pseudonymization are anonymized instead")
		}
	} else if p.cfg.ThresholdDays == 0 {
		p.logger.Info("threshold_days is 0 and no registry is set: no event is ever old, events pass unchanged")
	}
	return nil
}

// key returns the pseudonymization key, read from its file if configured.
func (p *oldEvents) key() ([]byte, error) {
	if p.cfg.PseudonymizeKey != "" {
		return []byte(p.cfg.PseudonymizeKey), nil
	}
	if p.cfg.PseudonymizeKeyFile == "" {
		return nil, nil
	}
	f, err := os.Open(p.cfg.PseudonymizeKeyFile)
	if err != nil {
		return nil, fmt.Errorf("pseudonymize_key_file: %w", err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("pseudonymize_key_file: read %s: %w", p.cfg.PseudonymizeKeyFile, err)
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("pseudonymize_key_file: %s is larger than %d bytes", p.cfg.PseudonymizeKeyFile, maxKeyFileSize)
	}
	key := bytes.TrimRight(b, "\r\n") // a file written by echo ends with a newline
	if len(key) < minKeyLen {
		return nil, fmt.Errorf("pseudonymize_key_file: %s holds %d bytes; the key must be at least %d", p.cfg.PseudonymizeKeyFile, len(key), minKeyLen)
	}
	return key, nil
}

// counts are one batch's outcomes, recorded once per batch.
type counts struct {
	dropped, anonymized [numCauses]int64
	pseudonymized       int64
}

func (p *oldEvents) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	now := p.now()
	var n counts
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				return p.apply(lr, now, &n)
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

// apply treats one event and reports whether to drop it.
func (p *oldEvents) apply(lr plog.LogRecord, now time.Time, n *counts) bool {
	var es *sr.EventSchema
	if p.registry != nil {
		es = sr.LookupRecord(p.registry, lr)
	}
	t, c := p.policy.decide(es, lr.Timestamp(), now)
	if t == pseudonymize && !p.t.hasKey {
		t, c = anonymize, causeNoPseudonymizeKey
	}
	switch t {
	case drop:
		n.dropped[c]++
		p.logs[c].Do(func() {
			p.logger.Info("dropping old events; further ones are only counted for a while",
				zap.String("reason", c.String()), zap.Time("event_time", lr.Timestamp().AsTime()))
		})
		return true
	case anonymize:
		n.anonymized[c]++
		if c == causeNoPseudonymizeKey {
			p.logs[c].Do(func() {
				p.logger.Warn("a schema or event flag asks to pseudonymize old events but no pseudonymize_key is set: anonymizing them instead")
			})
		}
		p.t.anonymize(lr)
	case pseudonymize:
		n.pseudonymized++
		p.t.pseudonymize(lr)
	}
	return false
}

func (p *oldEvents) record(ctx context.Context, n *counts) {
	for c := causeIgnoreOldEvents; c < numCauses; c++ {
		if n.dropped[c] > 0 {
			p.dropped.Add(ctx, n.dropped[c], p.causeSet[c])
		}
		if n.anonymized[c] > 0 {
			p.anonymized.Add(ctx, n.anonymized[c], p.causeSet[c])
		}
	}
	if n.pseudonymized > 0 {
		p.pseudonymized.Add(ctx, n.pseudonymized)
	}
}
