package deadletter

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// Reasons shared by every component that dead-letters events. They are the
// reason attribute of the dead-letter counters and the reason field of a
// Record, so a replay can select them.
const (
	ReasonRejected         = "rejected"          // refused for good (a 4xx, a permanent error)
	ReasonTooLarge         = "too_large"         // larger than what the next hop accepts
	ReasonRetriesExhausted = "retries_exhausted" // the sink stayed unavailable
)

// NewRecord is the record of one event: the event as a structured
// CloudEvent, or, when it cannot be written as one (a required attribute is
// missing), as an OTLP JSON logs document holding just it with its resource
// and scope.
func NewRecord(t time.Time, reason string, rl plog.ResourceLogs, sl plog.ScopeLogs, lr plog.LogRecord) Record {
	rec := Record{Time: t, Reason: reason}
	if ev, err := (cloudevent.Structured{}).AppendEvent(nil, lr); err == nil {
		rec.Event = json.RawMessage(ev)
	} else {
		rec.LogRecord = otlpJSON(rl, sl, lr)
	}
	return rec
}

func otlpJSON(from plog.ResourceLogs, fromScope plog.ScopeLogs, lr plog.LogRecord) json.RawMessage {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	from.Resource().CopyTo(rl.Resource())
	rl.SetSchemaUrl(from.SchemaUrl())
	sl := rl.ScopeLogs().AppendEmpty()
	fromScope.Scope().CopyTo(sl.Scope())
	sl.SetSchemaUrl(fromScope.SchemaUrl())
	lr.CopyTo(sl.LogRecords().AppendEmpty())
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	if err != nil {
		return nil
	}
	return b
}

// Settings is the dead_letter block of a component's configuration.
type Settings struct {
	// Directory receives JSON-lines files; empty = count and log only.
	Directory string `mapstructure:"directory"`
	// MaxSize bounds the bytes of this component's files in Directory.
	MaxSize int64 `mapstructure:"max_size"`
	// OnFull is drop_oldest or drop_new.
	OnFull OnFull `mapstructure:"on_full"`

	_ struct{}
}

// DefaultMaxSize is the default bound of a component's dead-letter files.
const DefaultMaxSize = 100 << 20

// DefaultSettings: count and log only; 100 MiB, drop_oldest once a
// directory is set.
func DefaultSettings() Settings {
	return Settings{MaxSize: DefaultMaxSize, OnFull: DropOldest}
}

// Validate names the keys under key (the block's own name, "dead_letter").
func (s Settings) Validate(key string) error {
	var errs []error
	if s.MaxSize <= 0 {
		errs = append(errs, fmt.Errorf("%s::max_size: must be positive, got %d", key, s.MaxSize))
	}
	if s.OnFull != DropOldest && s.OnFull != DropNew {
		errs = append(errs, fmt.Errorf("%s::on_full: must be %s or %s, got %q", key, DropOldest, DropNew, s.OnFull))
	}
	return errors.Join(errs...)
}
