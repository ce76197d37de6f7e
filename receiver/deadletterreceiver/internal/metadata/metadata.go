// Package metadata is the hand-written stand-in for what mdatagen would
// generate for the dead_letter receiver: its type, scope name, stability
// and internal telemetry instruments.
package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

var (
	// Type is the component type users write in configs.
	Type = component.MustNewType("dead_letter")
	// ScopeName names the receiver's meter and logger scope.
	ScopeName = "github.com/courier-otel/courier/receiver/deadletterreceiver"
)

// LogsStability is the stability of the logs signal.
const LogsStability = component.StabilityLevelAlpha

// Metric names, as listed in the README.
const (
	MetricEventsReplayed = "courier.dead_letter.events_replayed"
	MetricEventsSkipped  = "courier.dead_letter.events_skipped"
	MetricEventsRejected = "courier.dead_letter.events_rejected"
	MetricFilesReplayed  = "courier.dead_letter.files_replayed"
	MetricDoneDeleted    = "courier.dead_letter.done_files_deleted"
)

// ReasonKey is the attribute naming a record's dead-letter reason or why
// it was rejected.
const ReasonKey = "reason"

// Telemetry holds the receiver's internal instruments.
type Telemetry struct {
	EventsReplayed   metric.Int64Counter
	EventsSkipped    metric.Int64Counter
	EventsRejected   metric.Int64Counter
	FilesReplayed    metric.Int64Counter
	DoneFilesDeleted metric.Int64Counter
}

// NewTelemetry creates the instruments from the settings' meter provider.
func NewTelemetry(set component.TelemetrySettings) (*Telemetry, error) {
	m := set.MeterProvider.Meter(ScopeName)
	var t Telemetry
	var err, errs error
	t.EventsReplayed, err = m.Int64Counter(MetricEventsReplayed,
		metric.WithDescription("Dead-lettered events re-emitted and accepted by the next consumer."),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	t.EventsSkipped, err = m.Int64Counter(MetricEventsSkipped,
		metric.WithDescription("Dead-lettered events left alone because of their reason (reasons::include / reasons::exclude), by reason."),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	t.EventsRejected, err = m.Int64Counter(MetricEventsRejected,
		metric.WithDescription("Dead-letter lines that could not be re-emitted (not a record, not an event, too large, refused for good downstream), by reason."),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	t.FilesReplayed, err = m.Int64Counter(MetricFilesReplayed,
		metric.WithDescription("Dead-letter files whose events were all accepted downstream and that were moved or deleted."),
		metric.WithUnit("{file}"))
	errs = errors.Join(errs, err)
	errs = errors.Join(errs, err)
	t.DoneFilesDeleted, err = m.Int64Counter(MetricDoneDeleted,
		metric.WithDescription("Replayed files deleted from done_directory to keep it within done_max_size."),
		metric.WithUnit("{file}"))
	return &t, errors.Join(errs, err)
}

// ReasonSet returns the attribute set of a reason.
func ReasonSet(reason string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(ReasonKey, reason)))
}
