package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names, as listed in the README.
const (
	MetricEventsEmitted    = "courier.datastore.events_emitted"
	MetricEventsRejected   = "courier.datastore.events_rejected"
	MetricEventsInFlight   = "courier.datastore.events_in_flight"
	MetricBackfillEvents   = "courier.datastore.backfill.events"
	MetricLag              = "courier.datastore.lag"
	MetricTokenWrites      = "courier.datastore.token_writes"
	MetricLeader           = "courier.datastore.leader"
	MetricSourceErrors     = "courier.datastore.source_errors"
	MetricResumeTokenLost  = "courier.datastore.resume_token_lost"
	MetricChangelogGapOpen = "courier.datastore.changelog_gaps"
)

// Attribute keys.
const (
	ReasonKey = "reason"
	ResultKey = "result" // token writes: ok, error
)

// Telemetry holds the receiver's internal instruments.
type Telemetry struct {
	// EventsEmitted counts events the next consumer accepted.
	EventsEmitted metric.Int64Counter
	// EventsRejected counts events skipped for good, by reason: a document
	// that is not a decodable health event, or a permanent error downstream.
	EventsRejected metric.Int64Counter
	// EventsInFlight is the number of events handed downstream and not yet
	// checkpointed (at most max_in_flight).
	EventsInFlight metric.Int64Gauge
	// BackfillEvents counts events read by the backfill.
	BackfillEvents metric.Int64Counter
	// Lag is now − createdAt of the last event checkpointed.
	Lag metric.Float64Gauge
	// TokenWrites counts resume token writes, by result.
	TokenWrites metric.Int64Counter
	// Leader is 1 while this replica reads, 0 while it stands by.
	Leader metric.Int64Gauge
	// SourceErrors counts errors reading the datastore (connection lost, …).
	SourceErrors metric.Int64Counter
	// ResumeTokenLost counts resume tokens the server could no longer use.
	ResumeTokenLost metric.Int64Counter
	// ChangelogGaps is the number of open gaps in the PostgreSQL changelog
	// (ids whose transactions may still commit).
	ChangelogGaps metric.Int64Gauge
}

// NewTelemetry creates the instruments from the settings' meter provider.
func NewTelemetry(set component.TelemetrySettings) (*Telemetry, error) {
	m := set.MeterProvider.Meter(ScopeName)
	var t Telemetry
	var err, errs error
	t.EventsEmitted, err = m.Int64Counter(MetricEventsEmitted,
		metric.WithDescription("Health events read from the datastore and accepted by the next consumer."),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	t.EventsRejected, err = m.Int64Counter(MetricEventsRejected,
		metric.WithDescription("Stored documents skipped for good (not a decodable health event, refused permanently downstream), by reason."),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	t.EventsInFlight, err = m.Int64Gauge(MetricEventsInFlight,
		metric.WithDescription("Events handed downstream whose resume token is not written yet (at most max_in_flight)."),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	t.BackfillEvents, err = m.Int64Counter(MetricBackfillEvents,
		metric.WithDescription("Historical events read by the backfill."),
		metric.WithUnit("{event}"))
	errs = errors.Join(errs, err)
	t.Lag, err = m.Float64Gauge(MetricLag,
		metric.WithDescription("Time from the creation of the last checkpointed event to its checkpoint."),
		metric.WithUnit("s"))
	errs = errors.Join(errs, err)
	t.TokenWrites, err = m.Int64Counter(MetricTokenWrites,
		metric.WithDescription("Resume token writes, by result (ok, error)."),
		metric.WithUnit("{write}"))
	errs = errors.Join(errs, err)
	t.Leader, err = m.Int64Gauge(MetricLeader,
		metric.WithDescription("1 while this replica reads the datastore, 0 while it stands by."),
		metric.WithUnit("1"))
	errs = errors.Join(errs, err)
	t.SourceErrors, err = m.Int64Counter(MetricSourceErrors,
		metric.WithDescription("Errors reading the datastore (connection lost, server restart, …); reading resumes from the last position."),
		metric.WithUnit("{error}"))
	errs = errors.Join(errs, err)
	t.ResumeTokenLost, err = m.Int64Counter(MetricResumeTokenLost,
		metric.WithDescription("Resume tokens the server could no longer resume from; reading recovered by backfilling from the last delivered event."),
		metric.WithUnit("{token}"))
	errs = errors.Join(errs, err)
	t.ChangelogGaps, err = m.Int64Gauge(MetricChangelogGapOpen,
		metric.WithDescription("Open gaps in the PostgreSQL changelog: ids whose transactions may still commit."),
		metric.WithUnit("{gap}"))
	errs = errors.Join(errs, err)
	return &t, errs
}

// ReasonSet returns the attribute set of a rejection reason.
func ReasonSet(reason string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(ReasonKey, reason)))
}

// ResultSet returns the attribute set of a token write result.
func ResultSet(result string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(ResultKey, result)))
}
