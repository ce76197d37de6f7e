package cloudeventsexporter

import (
	"fmt"
	"sync"
	"time"

	"github.com/courier-otel/courier/internal/health"
)

// defaultFailingAfter is health::failing_after's default: a sink that fails
// for a minute is an error worth showing, a few failed attempts are not.
const defaultFailingAfter = time.Minute

// unauthorizedLimit is how many requests in a row, with no success between
// them, must be refused (401/403 again after the credential was refreshed)
// before the exporter reports a permanent error: the credential is not
// accepted and only a person can fix it.
const unauthorizedLimit = 3

// sinkHealth turns the answers of the sink into the exporter's status:
//   - every attempt failing (network error, 408, 429, 5xx) for longer than
//     health::failing_after: recoverable error, back to OK on a success;
//   - unauthorizedLimit requests refused in a row after a token refresh:
//     permanent error.
//
// Permanent 4xx answers to single events (400, 413, …) say nothing about
// the sink's health and are not counted.
type sinkHealth struct {
	status       *health.Reporter
	failingAfter time.Duration

	mu           sync.Mutex
	failingSince time.Time // zero while the last attempt succeeded
	unauthorized int
}

func newSinkHealth(status *health.Reporter, failingAfter time.Duration) *sinkHealth {
	return &sinkHealth{status: status, failingAfter: failingAfter}
}

// attempted records one attempt's answer.
func (h *sinkHealth) attempted(res attemptResult, endpoint string) {
	switch res.kind {
	case attemptOK:
		h.mu.Lock()
		wasFailing := !h.failingSince.IsZero() || h.unauthorized > 0
		h.failingSince, h.unauthorized = time.Time{}, 0
		h.mu.Unlock()
		if wasFailing {
			h.status.OK()
		}
	case attemptRetryable:
		now := time.Now()
		h.mu.Lock()
		if h.failingSince.IsZero() {
			h.failingSince = now
		}
		since := h.failingSince
		h.mu.Unlock()
		if now.Sub(since) >= h.failingAfter {
			h.status.Recoverable(fmt.Errorf("the sink has failed every request since %s (%s: %w)",
				since.UTC().Format(time.RFC3339), endpoint, res.err))
		}
	}
}

// refused records a request refused with 401/403 after the credential was
// refreshed.
func (h *sinkHealth) refused(res attemptResult, endpoint string) {
	h.mu.Lock()
	h.unauthorized++
	n := h.unauthorized
	h.mu.Unlock()
	if n >= unauthorizedLimit {
		h.status.Permanent("The sink refuses every request (401/403) even with a fresh token: check the credentials (oidc_client, auth_token or headers); events are dead-lettered meanwhile",
			fmt.Errorf("%d requests in a row refused by %s after a token refresh: %w", n, endpoint, res.err))
	}
}
