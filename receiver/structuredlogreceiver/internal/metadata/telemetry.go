package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names, as listed in the README.
const (
	MetricEventsEmitted  = "courier.structured_log.events_emitted"
	MetricEventsRejected = "courier.structured_log.events_rejected"
	MetricBytesRead      = "courier.structured_log.bytes_read"
	MetricFilesTracked   = "courier.structured_log.files_tracked"
	MetricFilesOpen      = "courier.structured_log.files_open"
	MetricFilesRejected  = "courier.structured_log.files_rejected"
)

// ReasonKey is the attribute naming why an event or a file was rejected.
const ReasonKey = "reason"

// Telemetry holds the receiver's internal instruments.
type Telemetry struct {
	// EventsEmitted counts events handed downstream and accepted (ConsumeLogs
	// returned nil).
	EventsEmitted metric.Int64Counter
	// EventsRejected counts event lines skipped for good, by reason.
	EventsRejected metric.Int64Counter
	// BytesRead counts bytes of event lines read, good or bad.
	BytesRead metric.Int64Counter
	// FilesTracked is the number of files whose state the receiver keeps.
	FilesTracked metric.Int64UpDownCounter
	// FilesOpen is the number of open log file descriptors (at most
	// max_concurrent_files).
	FilesOpen metric.Int64UpDownCounter
	// FilesRejected counts files skipped for good, by reason, once each.
	FilesRejected metric.Int64Counter
}

// NewTelemetry creates the instruments from the settings' meter provider.
func NewTelemetry(set component.TelemetrySettings) (*Telemetry, error) {
	m := set.MeterProvider.Meter(ScopeName)
	var t Telemetry
	var err, errs error
	t.EventsEmitted, err = m.Int64Counter(MetricEventsEmitted,
		metric.WithDescription("Events read from structured log files and accepted by the next consumer."),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	t.EventsRejected, err = m.Int64Counter(MetricEventsRejected,
		metric.WithDescription("Event lines skipped for good (invalid, oversized, not matching message_match_mode, refused permanently downstream), by reason."),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	t.BytesRead, err = m.Int64Counter(MetricBytesRead,
		metric.WithDescription("Bytes of event lines read from structured log files."),
		metric.WithUnit("By"))
	errs = errors.Join(errs, err)
	t.FilesTracked, err = m.Int64UpDownCounter(MetricFilesTracked,
		metric.WithDescription("Files the receiver currently keeps state for."),
		metric.WithUnit("{file}"))
	errs = errors.Join(errs, err)
	t.FilesOpen, err = m.Int64UpDownCounter(MetricFilesOpen,
		metric.WithDescription("Log files currently open (at most max_concurrent_files)."),
		metric.WithUnit("{file}"))
	errs = errors.Join(errs, err)
	t.FilesRejected, err = m.Int64Counter(MetricFilesRejected,
		metric.WithDescription("Matched files skipped for good (no structured log header, unsupported version), by reason."),
		metric.WithUnit("{file}"))
	errs = errors.Join(errs, err)
	return &t, errs
}

// ReasonSet returns the attribute set of a rejection reason; callers keep
// the result to avoid rebuilding it per event.
func ReasonSet(reason string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(ReasonKey, reason)))
}
