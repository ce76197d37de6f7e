package celfilterprocessor

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/courier-otel/courier/internal/componenttel"
	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/processor/celfilterprocessor/internal/metadata"
)

// compile parses and type-checks expr against the ce, data and event
// variables; the result must be a bool.
func compile(expr string, maxCost uint64) (cel.Program, error) {
	env, err := cel.NewEnv(
		cel.Variable("ce", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("data", cel.DynType),
		cel.Variable("event", cel.DynType),
	)
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("the expression is of type %s, want bool", t)
	}
	return env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(maxCost))
}

type filter struct {
	prg        cel.Program
	dropOnErr  bool
	logger     *zap.Logger
	warnErrors *rate.Limiter

	dropped metric.Int64Counter
	errors  metric.Int64Counter
}

func newFilter(set processor.Settings, cfg *Config) (*filter, error) {
	prg, err := compile(cfg.Expression, cfg.MaxCost)
	if err != nil {
		return nil, fmt.Errorf("expression: %w", err)
	}
	f := &filter{
		prg: prg, dropOnErr: cfg.OnError == OnErrorDrop, logger: set.Logger,
		warnErrors: rate.NewLimiter(rate.Every(10*time.Second), 1),
	}
	meter := componenttel.Processor(set).MeterProvider.Meter(metadata.ScopeName)
	if f.dropped, err = meter.Int64Counter("courier.cel_filter.dropped",
		metric.WithUnit("{event}"), metric.WithDescription("Events dropped because the expression was false.")); err != nil {
		return nil, err
	}
	if f.errors, err = meter.Int64Counter("courier.cel_filter.errors",
		metric.WithUnit("{event}"), metric.WithDescription("Events whose evaluation failed (kept or dropped per on_error).")); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *filter) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	var dropped, failed int64
	var firstErr error
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				keep, err := f.keep(lr)
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					keep = !f.dropOnErr
				}
				if !keep {
					dropped++
				}
				return !keep
			})
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})
	if dropped > 0 {
		f.dropped.Add(ctx, dropped)
	}
	if failed > 0 {
		f.errors.Add(ctx, failed)
		if f.warnErrors.Allow() {
			f.logger.Warn("CEL evaluation failed", zap.Int64("events", failed), zap.Bool("dropped", f.dropOnErr), zap.Error(firstErr))
		}
	}
	if ld.ResourceLogs().Len() == 0 {
		return ld, processorhelper.ErrSkipProcessingData
	}
	return ld, nil
}

// keep evaluates the expression for one event.
func (f *filter) keep(lr plog.LogRecord) (bool, error) {
	out, _, err := f.prg.Eval(activation{lr})
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the expression gave %s, not a bool", out.Type())
	}
	return bool(b), nil
}

// activation resolves the variables of one event lazily.
type activation struct{ lr plog.LogRecord }

func (a activation) Parent() interpreter.Activation { return nil }

func (a activation) ResolveName(name string) (any, bool) {
	switch name {
	case "ce":
		return ceVal(a), true
	case "data":
		return toVal(a.lr.Body()), true
	case "event":
		body := a.lr.Body()
		if body.Type() == pcommon.ValueTypeMap {
			if he, ok := body.Map().Get("healthEvent"); ok {
				return toVal(he), true
			}
		}
		return toVal(body), true
	}
	return nil, false
}

// ceVal is the map of an event's context attributes, by CloudEvent name.
type ceVal struct{ lr plog.LogRecord }

var _ traits.Mapper = ceVal{}

func (c ceVal) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	if v, ok := c.lr.Attributes().Get(cloudevent.AttributeKey(string(k))); ok {
		return toVal(v), true
	}
	if k == "type" && c.lr.EventName() != "" {
		return types.String(c.lr.EventName()), true
	}
	return nil, false
}

func (c ceVal) raw() map[string]any {
	m := map[string]any{}
	for k, v := range c.lr.Attributes().All() {
		if name, ok := cloudevent.MemberName(k); ok {
			m[name] = v.AsRaw()
		}
	}
	if _, ok := m["type"]; !ok && c.lr.EventName() != "" {
		m["type"] = c.lr.EventName()
	}
	return m
}

func (c ceVal) Get(key ref.Val) ref.Val {
	if v, ok := c.Find(key); ok {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

func (c ceVal) Contains(key ref.Val) ref.Val {
	_, ok := c.Find(key)
	return types.Bool(ok)
}

func (c ceVal) ConvertToNative(t reflect.Type) (any, error) {
	return native(c.raw()).ConvertToNative(t)
}
func (c ceVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return c
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to %s", t)
}
func (c ceVal) Equal(o ref.Val) ref.Val   { return native(c.raw()).Equal(o) }
func (c ceVal) Type() ref.Type            { return types.MapType }
func (c ceVal) Value() any                { return c.raw() }
func (c ceVal) Size() ref.Val             { return types.Int(len(c.raw())) }
func (c ceVal) Iterator() traits.Iterator { return native(c.raw()).(traits.Mapper).Iterator() }
