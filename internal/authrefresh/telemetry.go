package authrefresh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/courier-otel/courier/internal/health"
)

// Telemetry is the logging and the metrics of one authenticator:
//
//	courier.<type>.token_refreshes          tokens obtained
//	courier.<type>.token_refresh_failures   failed fetches, attribute reason
//	courier.<type>.token_invalidations      tokens dropped after a 401/403
//	courier.<type>.requests_waiting         requests waiting for a token now
//
// Nothing it logs contains a token or a secret: fetch errors are logged as
// the FetchFunc wrote them, and FetchFuncs keep secrets out of their errors.
type Telemetry struct {
	logger        *zap.Logger
	refreshes     metric.Int64Counter
	failures      metric.Int64Counter
	invalidations metric.Int64Counter
	waitingReqs   metric.Int64UpDownCounter
	// status: the token source failing is a recoverable error, a token
	// obtained is OK.
	status *health.Reporter
}

// NewTelemetry creates the instruments of the authenticator of type typ with
// the meter named scopeName.
func NewTelemetry(set component.TelemetrySettings, scopeName string, typ component.Type) (*Telemetry, error) {
	m := set.MeterProvider.Meter(scopeName)
	prefix := "courier." + typ.String() + "."
	t := &Telemetry{logger: set.Logger, status: health.New(set)}
	var err, e error
	t.refreshes, e = m.Int64Counter(prefix+"token_refreshes",
		metric.WithUnit("{token}"), metric.WithDescription("Tokens obtained from the token source."))
	err = errors.Join(err, e)
	t.failures, e = m.Int64Counter(prefix+"token_refresh_failures",
		metric.WithUnit("{failure}"), metric.WithDescription("Failed attempts to obtain a token, by reason."))
	err = errors.Join(err, e)
	t.invalidations, e = m.Int64Counter(prefix+"token_invalidations",
		metric.WithUnit("{token}"), metric.WithDescription("Cached tokens dropped because a server rejected them (401/403)."))
	err = errors.Join(err, e)
	t.waitingReqs, e = m.Int64UpDownCounter(prefix+"requests_waiting",
		metric.WithUnit("{request}"), metric.WithDescription("Requests waiting for a token because none is valid."))
	err = errors.Join(err, e)
	return t, err
}

// Start reports the status to host from now on.
func (t *Telemetry) Start(host component.Host) {
	if t != nil {
		t.status.Start(host)
	}
}

func (t *Telemetry) refreshed(tok Token, took time.Duration, recoveredAfter int) {
	if t == nil {
		return
	}
	t.status.OK()
	t.refreshes.Add(context.Background(), 1)
	if recoveredAfter > 0 {
		t.logger.Info("Obtained a token after failed attempts", zap.Int("failed_attempts", recoveredAfter))
	}
	if ce := t.logger.Check(zap.DebugLevel, "Obtained a token"); ce != nil {
		fields := []zap.Field{zap.Duration("took", took)}
		if !tok.Expiry.IsZero() {
			fields = append(fields, zap.Time("expires", tok.Expiry))
		}
		ce.Write(fields...)
	}
}

func (t *Telemetry) failed(err error, attempt int, retryIn time.Duration) {
	if t == nil {
		return
	}
	reason := reasonOther
	var fe *FetchError
	if errors.As(err, &fe) {
		reason = fe.Reason
	}
	t.failures.Add(context.Background(), 1, metric.WithAttributes(attribute.String("reason", reason)))
	t.status.Recoverable(fmt.Errorf("cannot obtain a token (%s): %w", reason, err))
	// One line per attempt; the backoff bounds the rate.
	t.logger.Warn("Could not obtain a token; requests wait for one",
		zap.String("reason", reason), zap.Int("attempt", attempt),
		zap.Duration("retry_in", retryIn.Round(time.Millisecond)), zap.String("error", err.Error()))
}

func (t *Telemetry) invalidated() {
	if t == nil {
		return
	}
	t.invalidations.Add(context.Background(), 1)
	t.logger.Debug("Token rejected by a server; it will be refreshed")
}

func (t *Telemetry) waiting(delta int64) {
	if t == nil {
		return
	}
	t.waitingReqs.Add(context.Background(), delta)
}
