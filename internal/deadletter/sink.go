package deadletter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// Why a dead-lettered event was not kept, the reason of <prefix>dead_letter_dropped.
const (
	DropNoDirectory = "no_directory"
	DropFull        = "full"
	DropWriteError  = "write_error"
	DropEvicted     = "evicted"
)

// Sink is where a receiver puts the events its next consumer refused for
// good: it stores them in the component's dead-letter files when a
// directory is configured, counts them by reason and logs (rate-limited).
// It is safe for concurrent use.
type Sink struct {
	w        *Writer // nil: count and log only
	dir      string
	log      *zap.Logger
	dead     metric.Int64Counter
	dropped  metric.Int64Counter
	warn     *rate.Limiter
	mu       sync.Mutex
	quiet    int
	attrSets sync.Map // string -> metric.MeasurementOption
}

// FilePrefix is the file name prefix of a component's dead-letter files:
// its id, with path separators replaced.
func FilePrefix(id component.ID) string {
	return strings.NewReplacer("/", "_", "\\", "_").Replace(id.String())
}

// NewSink opens the component's dead-letter files (creating the directory)
// and its instruments: <metricPrefix>events_dead_lettered and
// <metricPrefix>dead_letter_dropped, both with a reason attribute.
func NewSink(set component.TelemetrySettings, scope string, id component.ID, metricPrefix string, s Settings) (*Sink, error) {
	m := set.MeterProvider.Meter(scope)
	k := &Sink{dir: s.Directory, log: set.Logger, warn: rate.NewLimiter(rate.Every(time.Second), 10)}
	var err, errs error
	k.dead, err = m.Int64Counter(metricPrefix+"events_dead_lettered", metric.WithUnit("{event}"),
		metric.WithDescription("Events the next consumer refused for good, alone, by reason; they go to the dead-letter directory."))
	errs = errors.Join(errs, err)
	k.dropped, err = m.Int64Counter(metricPrefix+"dead_letter_dropped", metric.WithUnit("{event}"),
		metric.WithDescription("Dead-lettered events not kept in (or evicted from) the dead-letter directory, by reason."))
	errs = errors.Join(errs, err)
	if errs != nil {
		return nil, errs
	}
	if s.Directory != "" {
		k.w, err = Open(Config{Directory: s.Directory, Prefix: FilePrefix(id), MaxSize: s.MaxSize, OnFull: s.OnFull})
		if err != nil {
			return nil, fmt.Errorf("dead_letter::directory: %w", err)
		}
	}
	return k, nil
}

func (k *Sink) reasonSet(reason string) metric.MeasurementOption {
	if o, ok := k.attrSets.Load(reason); ok {
		return o.(metric.MeasurementOption)
	}
	o := metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason)))
	k.attrSets.Store(reason, o)
	return o
}

// Put dead-letters every event of ld for reason, cause being the error
// that refused them (a nil Sink does nothing). It returns once the events are stored (or counted as
// not kept): the caller may then move its checkpoint past them.
func (k *Sink) Put(ctx context.Context, ld plog.Logs, reason string, cause error) {
	n := ld.LogRecordCount()
	if n == 0 || k == nil {
		return
	}
	now := time.Now().UTC()
	msg := ""
	if cause != nil {
		msg = cause.Error()
	}
	var recs []Record
	var firstID string
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if firstID == "" {
					if v, ok := lr.Attributes().Get(cloudevent.AttrID); ok {
						firstID = v.AsString()
					}
				}
				if k.w != nil {
					r := NewRecord(now, reason, rl, sl, lr)
					r.Error = msg
					recs = append(recs, r)
				}
			}
		}
	}
	var res Result
	var err error
	if k.w != nil {
		res, err = k.w.Write(recs)
	}
	k.dead.Add(ctx, int64(n), k.reasonSet(reason))
	if k.w == nil {
		k.dropped.Add(ctx, int64(n), k.reasonSet(DropNoDirectory))
	} else {
		k.drop(ctx, DropFull, res.Refused)
		k.drop(ctx, DropEvicted, res.Evicted)
		k.drop(ctx, DropWriteError, n-res.Written-res.Refused)
	}
	k.warnf("The next consumer refused events for good; dead-lettering them",
		zap.Int("events", n), zap.String("reason", reason), zap.String("first_id", firstID),
		zap.String("directory", k.dir), zap.NamedError("cause", cause))
	if err != nil || res.Refused > 0 || res.Evicted > 0 {
		k.warnf("Dead-letter directory did not keep every event",
			zap.String("directory", k.dir), zap.Int("written", res.Written),
			zap.Int("refused", res.Refused), zap.Int("evicted_older", res.Evicted), zap.Error(err))
	}
}

func (k *Sink) drop(ctx context.Context, reason string, n int) {
	if n > 0 {
		k.dropped.Add(ctx, int64(n), k.reasonSet(reason))
	}
}

// warnf logs a warning unless too many were logged lately; the next one
// that gets through says how many were suppressed.
func (k *Sink) warnf(msg string, fields ...zap.Field) {
	k.mu.Lock()
	if !k.warn.Allow() {
		k.quiet++
		k.mu.Unlock()
		return
	}
	if k.quiet > 0 {
		fields = append(fields, zap.Int("suppressed_warnings", k.quiet))
		k.quiet = 0
	}
	k.mu.Unlock()
	k.log.Warn(msg, fields...)
}

// Close closes the files; nil-safe.
func (k *Sink) Close() error {
	if k == nil || k.w == nil {
		return nil
	}
	return k.w.Close()
}
