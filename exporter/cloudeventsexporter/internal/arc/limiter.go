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
	waiters  []*waiter
	now      func() time.Time
}

// NewLimiter returns a limiter with a controller of cfg.
func NewLimiter(cfg Config) *Limiter {
	return &Limiter{ctl: NewController(cfg, time.Now()), now: time.Now}
}

// waiter is a request waiting for a slot; grant sets epoch, then closes
// ready.
type waiter struct {
	ready chan struct{}
	epoch uint64
}

// Ticket is a slot held by one request; Release gives it back. The zero
// Ticket holds none.
type Ticket struct {
	epoch uint64 // the controller's epoch at admission
	held  bool
}

// Held reports whether t holds a slot.
func (t Ticket) Held() bool { return t.held }

// Acquire waits for a slot. It returns ctx's error, holding no slot, when
// ctx ends first.
func (l *Limiter) Acquire(ctx context.Context) (Ticket, error) {
	l.mu.Lock()
	if len(l.waiters) == 0 && l.inFlight < l.ctl.Limit() {
		l.inFlight++
		if l.inFlight >= l.ctl.Limit() {
			l.ctl.Full()
		}
		t := Ticket{epoch: l.ctl.Epoch(), held: true}
		l.mu.Unlock()
		return t, nil
	}
	w := &waiter{ready: make(chan struct{})}
	l.waiters = append(l.waiters, w)
	l.ctl.Full()
	l.mu.Unlock()

	select {
	case <-w.ready:
		return Ticket{epoch: w.epoch, held: true}, nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	for i, o := range l.waiters {
		if o == w {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			l.mu.Unlock()
			return Ticket{}, ctx.Err()
		}
	}
	// Granted meanwhile: hand the slot on.
	l.inFlight--
	l.grant()
	l.mu.Unlock()
	return Ticket{}, ctx.Err()
}

// Release frees the slot of request t, which tells s. A
// Ticket that holds none is ignored, by a nil Limiter too (no adaptive
// limit), so that callers need not check.
func (l *Limiter) Release(t Ticket, s Sample) {
	if !t.held {
		return
	}
	l.mu.Lock()
	l.inFlight--
	l.ctl.Observe(l.now(), s, t.epoch)
	l.grant()
	l.mu.Unlock()
}

func (l *Limiter) grant() {
	for len(l.waiters) > 0 && l.inFlight < l.ctl.Limit() {
		l.waiters[0].epoch = l.ctl.Epoch()
		close(l.waiters[0].ready)
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
