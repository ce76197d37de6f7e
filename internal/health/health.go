// Package health reports a Courier component's state through the collector's
// component-status API (componentstatus.ReportStatus), which the
// healthcheckv2 extension turns into liveness and readiness answers.
//
// It reports changes only: healthcheckv2 measures how long a recoverable
// error lasts from the time of its event, so re-reporting the same error on
// every retry would restart that clock and a component failing for hours
// would never pass recovery_duration.
package health

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

// ScopeName is the meter of the status gauge.
const ScopeName = "github.com/courier-otel/courier/internal/health"

// MetricStatus is 1 for the component's current status and 0 for the one
// before, attribute status (ok, recoverable_error, permanent_error), so that
// an alert can see a permanent error.
const MetricStatus = "courier.component.status"

// StateKey is the event attribute that says more than the status does
// (healthcheckv2 shows it with http.status.include_attributes).
const StateKey = "courier.state"

// States beside the plain statuses.
const (
	// StateStandby: a datastore replica waiting for the lease. Ready (it
	// serves by taking over), so its status is OK.
	StateStandby = "standby"
	// StateLeading: the datastore replica that reads.
	StateLeading = "leading"
	// StateConnecting: opening the datastore (before the first connection
	// succeeds or fails).
	StateConnecting = "connecting"
)

// Reporter is one component's status. The zero value is not usable; New
// makes one. Reports made before Start are kept and sent at Start.
type Reporter struct {
	log   *zap.Logger
	gauge metric.Int64Gauge // nil without a meter

	mu        sync.Mutex
	host      component.Host
	status    componentstatus.Status
	state     string
	err       error
	pending   bool
	permanent bool
}

// New returns a reporter that logs the permanent error with set's logger and
// records the status gauge with its meter (give it the component's settings
// from componenttel, so that the gauge names the component).
func New(set component.TelemetrySettings) *Reporter {
	r := &Reporter{log: set.Logger}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	if set.MeterProvider != nil {
		// An error leaves the gauge out; the status is still reported.
		r.gauge, _ = set.MeterProvider.Meter(ScopeName).Int64Gauge(MetricStatus, metric.WithUnit("1"),
			metric.WithDescription("1 for the component's current status (attribute status: ok, recoverable_error, permanent_error), 0 for the previous one."))
	}
	return r
}

// Start gives the reporter the host to report to.
func (r *Reporter) Start(host component.Host) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.host = host
	if r.pending {
		r.send()
	}
}

// OK reports that the component works.
func (r *Reporter) OK() { r.set(componentstatus.StatusOK, "", nil) }

// State reports that the component works, in the given state (StateStandby,
// StateLeading).
func (r *Reporter) State(state string) { r.set(componentstatus.StatusOK, state, nil) }

// Recoverable reports an error that may go away by itself (a sink or a
// datastore down). Only the first error of a run of them is reported; it
// returns true for that one (to log it once).
func (r *Reporter) Recoverable(err error) bool {
	return r.set(componentstatus.StatusRecoverableError, "", err)
}

// Permanent reports an error only a person can fix, and logs msg with the
// error once, at error level. The status stays permanent until shutdown (the
// collector allows no way back).
func (r *Reporter) Permanent(msg string, err error) {
	if r.set(componentstatus.StatusPermanentError, "", err) {
		r.log.Error(msg, zap.Error(err))
	}
}

// Status is the last status reported (StatusNone before any), and its state.
func (r *Reporter) Status() (componentstatus.Status, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, r.state
}

// set records and reports a change; it reports whether there was one.
func (r *Reporter) set(st componentstatus.Status, state string, err error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.permanent || (st == r.status && state == r.state) {
		return false
	}
	r.record(r.status, 0)
	r.record(st, 1)
	r.status, r.state, r.err = st, state, err
	r.permanent = st == componentstatus.StatusPermanentError
	r.pending = true
	if r.host != nil {
		r.send()
	}
	return true
}

// record sets the gauge of status st.
func (r *Reporter) record(st componentstatus.Status, v int64) {
	var name string
	switch st {
	case componentstatus.StatusOK:
		name = "ok"
	case componentstatus.StatusRecoverableError:
		name = "recoverable_error"
	case componentstatus.StatusPermanentError:
		name = "permanent_error"
	default:
		return
	}
	if r.gauge != nil {
		r.gauge.Record(context.Background(), v, metric.WithAttributeSet(attribute.NewSet(attribute.String("status", name))))
	}
}

// send reports the current status; r.mu is held.
func (r *Reporter) send() {
	r.pending = false
	opts := []componentstatus.EventBuilderOption{}
	if r.err != nil {
		opts = append(opts, componentstatus.WithError(r.err))
	}
	if r.state != "" {
		attrs := pcommon.NewMap()
		attrs.PutStr(StateKey, r.state)
		opts = append(opts, componentstatus.WithAttributes(attrs))
	}
	componentstatus.ReportStatus(r.host, componentstatus.NewEvent(r.status, opts...))
}
