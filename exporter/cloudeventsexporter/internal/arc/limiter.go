package arc

import (
	"context"
	"sync"
	"time"
)

// Limiter admits requests while fewer than the controller's limit are in
// flight; the others wait, first come first served.
type Limiter struct {
	mu       sync.Mutex
	ctl      *Controller
	inFlight int
	waiters  []chan struct{}
	now      func() time.Time
}

// NewLimiter returns a limiter with a controller of cfg.
func NewLimiter(cfg Config) *Limiter {
	return &Limiter{ctl: NewController(cfg, time.Now()), now: time.Now}
}

// Acquire waits for a slot. It returns ctx's error, holding no slot, when
// ctx ends first.
func (l *Limiter) Acquire(ctx context.Context) error {
	l.mu.Lock()
	if len(l.waiters) == 0 && l.inFlight < l.ctl.Limit() {
		l.inFlight++
		if l.inFlight >= l.ctl.Limit() {
			l.ctl.Full()
		}
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	l.ctl.Full()
	l.mu.Unlock()

	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	for i, w := range l.waiters {
		if w == ch {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			l.mu.Unlock()
			return ctx.Err()
		}
	}
	// Granted meanwhile: hand the slot on.
	l.inFlight--
	l.grant()
	l.mu.Unlock()
	return ctx.Err()
}

// Release frees the slot of a request that took rtt and ended with o.
func (l *Limiter) Release(rtt time.Duration, o Outcome) {
	l.mu.Lock()
	l.inFlight--
	l.ctl.Observe(l.now(), rtt, o)
	l.grant()
	l.mu.Unlock()
}

func (l *Limiter) grant() {
	for len(l.waiters) > 0 && l.inFlight < l.ctl.Limit() {
		close(l.waiters[0])
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
		l.inFlight++
	}
}

// Stats is a snapshot for telemetry.
type Stats struct {
	Limit, InFlight int
	RTT, Baseline   time.Duration
}

// Stats returns the current limit, requests in flight and round-trip times.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Limit: l.ctl.Limit(), InFlight: l.inFlight, RTT: l.ctl.RTT(), Baseline: l.ctl.Baseline()}
}
