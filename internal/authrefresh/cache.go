package authrefresh

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Token is one credential and what is known about its lifetime.
type Token struct {
	// Value is the credential as sent, without any scheme.
	Value string
	// Expiry is when the credential stops being valid; zero when unknown.
	Expiry time.Time
}

// FetchFunc obtains a fresh token. ctx ends after Settings.Timeout or when
// the cache is closed. An error should be a [*FetchError] so that the failure
// metric says why; its message must not contain a secret.
type FetchFunc func(ctx context.Context) (Token, error)

// Reasons label the refresh failure metric.
const (
	ReasonUnreachable     = "unreachable"      // network error talking to the token source
	ReasonTimeout         = "timeout"          // the fetch took longer than the timeout
	ReasonRejected        = "rejected"         // the token source answered with an error status
	ReasonInvalidResponse = "invalid_response" // the answer held no usable token
	ReasonUnavailable     = "unavailable"      // a local file (token, secret) is missing or unreadable
	ReasonExpired         = "expired"          // the token obtained had already expired
	reasonOther           = "error"
)

// FetchError is a failed fetch with the reason that labels the metric.
type FetchError struct {
	Reason string
	Err    error
}

func (e *FetchError) Error() string { return e.Err.Error() }
func (e *FetchError) Unwrap() error { return e.Err }

// Default backoff between failed fetches: 0.5 s doubling up to 30 s, each wait
// jittered by ±20 % so that a fleet of collectors does not retry in step.
const (
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
)

// Settings configure a [Cache].
type Settings struct {
	// Fetch obtains a token; required.
	Fetch FetchFunc
	// Timeout bounds one fetch.
	Timeout time.Duration
	// ExpiryBuffer: a token with a known expiry is refreshed in the background
	// this long before it expires (at most half its lifetime before), while
	// requests keep using it.
	ExpiryBuffer time.Duration
	// RefreshInterval: a token without a known expiry is re-fetched in the
	// background this long after it was obtained; 0 = never (it is kept until
	// invalidated).
	RefreshInterval time.Duration
	// InitialBackoff and MaxBackoff bound the wait between failed fetches;
	// zero means the defaults above.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// Telemetry records refreshes, failures and invalidations; nil = none.
	Telemetry *Telemetry
}

// Cache holds the one token shared by every request of an authenticator.
//
// A request takes the cached token without blocking while it is valid. From
// the token's refresh time on (ExpiryBuffer before expiry, or RefreshInterval
// after it was obtained) the first request to notice starts one background
// fetch and keeps using the current token. Only when no valid token exists (at
// start, after expiry, after invalidation) do requests wait: the first starts
// the fetch, all wait for that one fetch (single flight). After a failed fetch
// the next one waits for the backoff; requests keep waiting, each until a
// token arrives or its context ends.
type Cache struct {
	set    Settings
	ctx    context.Context // ends at Close; parent of every fetch
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	cur       entry
	flight    chan struct{} // non-nil while a fetch runs, closed when it ends
	failures  int           // consecutive failed fetches
	lastErr   error         // of the last failed fetch, for the caller's error
	notBefore time.Time     // no fetch starts before this (backoff)
	closed    bool

	// rejects counts consecutive invalidations with no accepted request in
	// between; guarded by mu, read without it on the request path.
	rejects atomic.Int32
}

type entry struct {
	value     string
	refreshAt time.Time // background refresh from here on; zero = never
	expireAt  time.Time // not sent from here on; zero = never
}

func (e entry) usable(now time.Time) bool {
	return e.value != "" && (e.expireAt.IsZero() || now.Before(e.expireAt))
}

func (e entry) due(now time.Time) bool {
	return !e.refreshAt.IsZero() && !now.Before(e.refreshAt)
}

// NewCache returns a cache that fetches nothing until asked to.
func NewCache(set Settings) *Cache {
	if set.InitialBackoff <= 0 {
		set.InitialBackoff = DefaultInitialBackoff
	}
	if set.MaxBackoff <= 0 {
		set.MaxBackoff = DefaultMaxBackoff
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Cache{set: set, ctx: ctx, cancel: cancel}
}

// Prefetch starts a fetch in the background unless a valid token is cached
// or a fetch is already running, so that the first request finds a token.
func (c *Cache) Prefetch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if !c.cur.usable(now) || c.cur.due(now) {
		c.startLocked(now)
	}
}

// Token returns the current token, waiting for one while none is valid. The
// wait ends with an error matching [ErrNoToken] when ctx ends, or [ErrClosed]
// when the cache is closed.
func (c *Cache) Token(ctx context.Context) (string, error) {
	waiting := false
	defer func() {
		if waiting {
			c.set.Telemetry.waiting(-1)
		}
	}()
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return "", ErrClosed
		}
		now := time.Now()
		if c.cur.usable(now) {
			v := c.cur.value
			if c.cur.due(now) {
				c.startLocked(now)
			}
			c.mu.Unlock()
			return v, nil
		}
		c.startLocked(now)
		flight, retryIn, lastErr := c.flight, c.notBefore.Sub(now), c.lastErr
		c.mu.Unlock()

		if !waiting {
			waiting = true
			c.set.Telemetry.waiting(1)
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if flight == nil { // in backoff: wait for the next attempt
			timer = time.NewTimer(retryIn)
			fire = timer.C
		}
		select {
		case <-flight:
		case <-fire:
		case <-ctx.Done():
			stopTimer(timer)
			return "", &noTokenError{ctxErr: ctx.Err(), last: lastErr}
		case <-c.ctx.Done():
			stopTimer(timer)
			return "", ErrClosed
		}
		stopTimer(timer)
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// InvalidateToken drops the cached token if it is still token, so that the
// next request fetches a new one. It implements [Invalidator].
func (c *Cache) InvalidateToken(token string) {
	if token == "" {
		return
	}
	c.mu.Lock()
	if c.cur.value != token {
		c.mu.Unlock()
		return
	}
	c.cur = entry{}
	n := c.rejects.Add(1)
	if n > 1 {
		// Fresh tokens keep being rejected: refresh with backoff.
		if nb := time.Now().Add(c.backoff(int(n - 1))); nb.After(c.notBefore) {
			c.notBefore = nb
		}
	}
	c.mu.Unlock()
	c.set.Telemetry.invalidated()
}

// accepted records that a request with token was not rejected.
func (c *Cache) accepted(token string) {
	if c.rejects.Load() == 0 {
		return
	}
	c.mu.Lock()
	if c.cur.value == token {
		c.rejects.Store(0)
	}
	c.mu.Unlock()
}

// Close stops any fetch, fails waiting requests with [ErrClosed] and waits for
// the background work to end. Safe to call more than once.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// startLocked starts a fetch unless one runs, the backoff is not over or the
// cache is closed.
func (c *Cache) startLocked(now time.Time) {
	if c.flight != nil || c.closed || now.Before(c.notBefore) {
		return
	}
	done := make(chan struct{})
	c.flight = done
	c.wg.Add(1)
	go c.fetch(done)
}

func (c *Cache) fetch(done chan struct{}) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.set.Timeout)
	start := time.Now()
	tok, err := c.set.Fetch(ctx)
	cancel()
	now := time.Now()
	if err == nil {
		err = checkToken(tok, now)
	}

	c.mu.Lock()
	closing := c.ctx.Err() != nil
	var attempt int
	var retryIn time.Duration
	recovered := 0
	if err != nil {
		if !closing {
			c.failures++
			attempt = c.failures
			retryIn = c.backoff(c.failures)
			c.notBefore = now.Add(retryIn)
			c.lastErr = err
		}
	} else {
		recovered = c.failures
		c.failures, c.lastErr = 0, nil
		c.cur = c.newEntry(tok, now)
	}
	c.flight = nil
	close(done)
	c.mu.Unlock()

	if closing {
		return
	}
	if err != nil {
		c.set.Telemetry.failed(err, attempt, retryIn)
		return
	}
	c.set.Telemetry.refreshed(tok, now.Sub(start), recovered)
}

func checkToken(tok Token, now time.Time) error {
	if tok.Value == "" {
		return &FetchError{Reason: ReasonInvalidResponse, Err: errors.New("the token is empty")}
	}
	if !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
		return &FetchError{Reason: ReasonExpired, Err: fmt.Errorf("the token expired at %s", tok.Expiry.UTC().Format(time.RFC3339))}
	}
	return nil
}

func (c *Cache) newEntry(tok Token, now time.Time) entry {
	e := entry{value: tok.Value}
	switch {
	case !tok.Expiry.IsZero():
		e.expireAt = tok.Expiry
		// A buffer longer than half the lifetime would refresh a short-lived
		// token right after obtaining it, over and over.
		buf := min(c.set.ExpiryBuffer, tok.Expiry.Sub(now)/2)
		e.refreshAt = tok.Expiry.Add(-buf)
	case c.set.RefreshInterval > 0:
		e.refreshAt = now.Add(c.set.RefreshInterval)
	}
	return e
}

// backoff is the wait after n consecutive failures (n >= 1).
func (c *Cache) backoff(n int) time.Duration {
	d := c.set.InitialBackoff
	for i := 1; i < n && d < c.set.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.set.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())) //nolint:gosec // jitter, not security
}

// noTokenError is returned when a request's context ends while it waits for
// a token.
type noTokenError struct {
	ctxErr error
	last   error
}

func (e *noTokenError) Error() string {
	if e.last != nil {
		return fmt.Sprintf("%v: gave up waiting (%v); last refresh failed: %v", ErrNoToken, e.ctxErr, e.last)
	}
	return fmt.Sprintf("%v: gave up waiting (%v)", ErrNoToken, e.ctxErr)
}

func (e *noTokenError) Is(target error) bool { return target == ErrNoToken }
func (e *noTokenError) Unwrap() error        { return e.ctxErr }
