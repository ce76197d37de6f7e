package cloudeventsexporter

import (
	"context"
	"errors"
	"net/url"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/arc"
	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/metadata"
)

// Status classes of a request, the status_class attribute.
const (
	class2xx     = "2xx"
	class3xx     = "3xx"
	class4xx     = "4xx"
	class5xx     = "5xx"
	classNetwork = "network_error"
)

var statusClasses = []string{class2xx, class3xx, class4xx, class5xx, classNetwork}

// Retry reasons, the reason attribute of the retries counter.
const (
	retryNetwork  = "network_error"
	retryTimeout  = "status_408"
	retryThrottle = "status_429"
	retry5xx      = "status_5xx"
	retryAuth     = "auth_refresh"
)

var retryReasons = []string{retryNetwork, retryTimeout, retryThrottle, retry5xx, retryAuth}

// Why a dead-lettered event could not be stored, the reason attribute of
// dead_letter.dropped.
const (
	dropNoDirectory = "no_directory"
	dropFull        = "full"
	dropWriteError  = "write_error"
	dropEvicted     = "evicted"
)

// telemetry holds the instruments and the attribute sets they are recorded
// with, computed once so that recording does not allocate.
type telemetry struct {
	eventsSent   metric.Int64Counter
	bytesSent    metric.Int64Counter
	requests     metric.Int64Counter
	duration     metric.Float64Histogram
	retries      metric.Int64Counter
	failovers    metric.Int64Counter
	deadLettered metric.Int64Counter
	dlDropped    metric.Int64Counter

	meter        metric.Meter
	registration metric.Registration // of the concurrency gauges

	// Option slices built once: a variadic call with a fresh slice would
	// allocate on every measurement.
	endpointAttr [][]metric.AddOption            // [endpoint]
	requestAttr  []map[string]measurementOptions // [endpoint][status class]
	retryAttr    map[string][]metric.AddOption
}

type measurementOptions struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func newTelemetry(set component.TelemetrySettings, endpoints []string) (*telemetry, error) {
	m := set.MeterProvider.Meter(metadata.ScopeName)
	t := &telemetry{retryAttr: map[string][]metric.AddOption{}, meter: m}
	var errs, err error
	const p = "courier.cloudevents_exporter."
	t.eventsSent, err = m.Int64Counter(p+"events.sent", metric.WithUnit("{event}"),
		metric.WithDescription("Events the endpoint accepted (2xx)."))
	errs = errors.Join(errs, err)
	t.bytesSent, err = m.Int64Counter(p+"bytes.sent", metric.WithUnit("By"),
		metric.WithDescription("Body bytes (before compression) of the requests the endpoint accepted."))
	errs = errors.Join(errs, err)
	t.requests, err = m.Int64Counter(p+"requests", metric.WithUnit("{request}"),
		metric.WithDescription("HTTP requests made, every attempt, by endpoint and status class."))
	errs = errors.Join(errs, err)
	t.duration, err = m.Float64Histogram(p+"request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of one HTTP attempt, until the response headers."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	errs = errors.Join(errs, err)
	t.retries, err = m.Int64Counter(p+"retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts after the first one of a request, by the failure that caused them."))
	errs = errors.Join(errs, err)
	t.failovers, err = m.Int64Counter(p+"failovers", metric.WithUnit("{failover}"),
		metric.WithDescription("Moves of the exporter to the next endpoint of the endpoints list."))
	errs = errors.Join(errs, err)
	t.deadLettered, err = m.Int64Counter(p+"events.dead_lettered", metric.WithUnit("{event}"),
		metric.WithDescription("Events that will not be delivered, by reason; they go to the dead-letter directory."))
	errs = errors.Join(errs, err)
	t.dlDropped, err = m.Int64Counter(p+"dead_letter.dropped", metric.WithUnit("{event}"),
		metric.WithDescription("Dead-lettered events not kept in (or evicted from) the dead-letter directory, by reason."))
	errs = errors.Join(errs, err)
	if errs != nil {
		return nil, errs
	}

	for _, ep := range endpoints {
		epAttr := attribute.String("endpoint", redact(ep))
		t.endpointAttr = append(t.endpointAttr, []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(epAttr))})
		byClass := map[string]measurementOptions{}
		for _, c := range statusClasses {
			opt := metric.WithAttributeSet(attribute.NewSet(epAttr, attribute.String("status_class", c)))
			byClass[c] = measurementOptions{add: []metric.AddOption{opt}, record: []metric.RecordOption{opt}}
		}
		t.requestAttr = append(t.requestAttr, byClass)
	}
	for _, r := range retryReasons {
		t.retryAttr[r] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))}
	}
	return t, nil
}

// observeConcurrency registers the gauges of the request limit, read from
// stats at each collection; in_flight and the round-trip times only when
// the limit is adaptive.
func (t *telemetry) observeConcurrency(stats func() arc.Stats, adaptive bool) error {
	const p = "courier.cloudevents_exporter.concurrency."
	limit, err1 := t.meter.Int64ObservableGauge(p+"limit", metric.WithUnit("{request}"),
		metric.WithDescription("Requests the exporter may have in flight now (structured and binary encodings): the adaptive limit, or concurrency in fixed mode."))
	inFlight, err2 := t.meter.Int64ObservableGauge(p+"in_flight", metric.WithUnit("{request}"),
		metric.WithDescription("HTTP requests in flight now (structured and binary encodings, adaptive mode)."))
	rtt, err3 := t.meter.Float64ObservableGauge(p+"rtt", metric.WithUnit("s"),
		metric.WithDescription("Mean round-trip time of the adaptive limit's last measurement window."))
	base, err4 := t.meter.Float64ObservableGauge(p+"rtt_baseline", metric.WithUnit("s"),
		metric.WithDescription("Round-trip time of the sink when not loaded, as the adaptive limit estimates it; the limit decreases when rtt exceeds it × rtt_tolerance."))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return err
	}
	var err error
	t.registration, err = t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := stats()
		o.ObserveInt64(limit, int64(s.Limit))
		if !adaptive {
			return nil
		}
		o.ObserveInt64(inFlight, int64(s.InFlight))
		if s.RTT > 0 {
			o.ObserveFloat64(rtt, s.RTT.Seconds())
			o.ObserveFloat64(base, s.Baseline.Seconds())
		}
		return nil
	}, limit, inFlight, rtt, base)
	return err
}

func (t *telemetry) close() {
	if t.registration != nil {
		_ = t.registration.Unregister()
	}
}

func (t *telemetry) request(ctx context.Context, ep int, class string, seconds float64) {
	opts := t.requestAttr[ep][class]
	t.requests.Add(ctx, 1, opts.add...)
	t.duration.Record(ctx, seconds, opts.record...)
}

func (t *telemetry) sent(ctx context.Context, ep, events, bytes int) {
	t.eventsSent.Add(ctx, int64(events), t.endpointAttr[ep]...)
	t.bytesSent.Add(ctx, int64(bytes), t.endpointAttr[ep]...)
}

func (t *telemetry) retry(ctx context.Context, reason string) {
	t.retries.Add(ctx, 1, t.retryAttr[reason]...)
}

func (t *telemetry) failover(ctx context.Context, from, to string) {
	t.failovers.Add(ctx, 1, metric.WithAttributes(attribute.String("from", redact(from)), attribute.String("to", redact(to))))
}

func (t *telemetry) deadLetter(ctx context.Context, reason string, n int) {
	if n <= 0 {
		return
	}
	t.deadLettered.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", reason)))
}

func (t *telemetry) dropped(ctx context.Context, reason string, n int) {
	if n > 0 {
		t.dlDropped.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", reason)))
	}
}

// redact removes credentials and the query (which may carry a key) from an
// endpoint URL for metrics, logs and dead-letter records.
func redact(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
