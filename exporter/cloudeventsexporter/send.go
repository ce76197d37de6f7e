package cloudeventsexporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/arc"
	"github.com/courier-otel/courier/internal/authrefresh"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// Dead-letter reasons of the exporter, beside the encoding reasons of
// pkg/cloudevent (too_large, not_encodable, missing_attribute, …).
const (
	reasonRejected     = "rejected"          // a permanent answer: 4xx other than 401/403/408/429, 3xx
	reasonUnauthorized = "unauthorized"      // 401/403 again after the credential was refreshed
	reasonExhausted    = "retries_exhausted" // max_retries or max_elapsed_time reached
	reasonShutdown     = "shutdown"          // memory queue: not delivered when the collector stopped
)

type outcomeKind int

const (
	delivered outcomeKind = iota
	failed
	interrupted
)

// outcome is how the delivery of one request ended.
type outcome struct {
	kind     outcomeKind
	ep       int    // the last endpoint tried (index)
	reason   string // failed: the dead-letter reason
	status   int    // the last HTTP status, 0 when there was no answer
	endpoint string // the last endpoint tried (redacted)
	err      error  // failed, interrupted: why
}

// arcMinWindow is the adaptive limit's shortest measurement window: on a
// loopback sink answering in 100 µs a window of one round trip would judge
// a handful of answers.
const arcMinWindow = 10 * time.Millisecond

// arcSample is what an attempt tells the adaptive limit: 429, 503, 408, 504
// and network errors (refused, reset, timeouts) mean the sink is
// overwhelmed; any other answer is a round-trip time sample; a cancelled
// attempt, or one that never reached the sink (no token in time), says
// nothing about it.
func arcSample(ctx context.Context, res attemptResult) arc.Sample {
	s := arc.Sample{RTT: res.sinkTook, Outcome: arc.Answered, Closed: res.closed}
	switch {
	case ctx.Err() != nil, !res.reachedSink:
		s.Outcome = arc.Unknown
	case res.class == classNetwork:
		s.Outcome = arc.Backpressure
	case res.status == http.StatusTooManyRequests, res.status == http.StatusServiceUnavailable,
		res.status == http.StatusRequestTimeout, res.status == http.StatusGatewayTimeout:
		s.Outcome = arc.Backpressure
	}
	return s
}

// attemptResult is the answer to one HTTP request.
type attemptResult struct {
	status     int
	class      string // status class for metrics
	kind       attemptKind
	retryWhy   string        // retryable: the retries reason attribute
	retryAfter time.Duration // the Retry-After of the answer, -1 when absent
	took       time.Duration
	// sinkTook is the part of took after the request reached the transport
	// (an authenticator may first wait for a token); reachedSink is false
	// when it never did. The adaptive limit sees only the sink's time.
	sinkTook    time.Duration
	reachedSink bool
	closed      bool // the sink closed the connection after its answer
	err         error
	resp        *http.Response // auth: the answer, to find the token it used (body closed)
}

type attemptKind int

const (
	attemptOK attemptKind = iota
	attemptRetryable
	attemptAuth
	attemptPermanent
)

// deliver sends one body until the endpoint accepts it, the failure is
// permanent, the retries are used up, or shutdown interrupts. events is the
// number of events in the body, for metrics; slot, when held, is the
// adaptive limit's slot for the first attempt, taken by the caller.
//
// Retry semantics (README "Retries and failover"):
//   - network errors, 408, 429 and 5xx are retried; a retry waits
//     initial_interval × multiplier^n (capped at max_interval, ± the
//     randomization factor) minus the time the failed attempt took, and at
//     least the answer's Retry-After (capped at max_interval);
//   - max_retries counts the retries of this body over all endpoints, so a
//     body gets at most max_retries+1 attempts; max_elapsed_time bounds the
//     time from the first attempt to the start of the last one;
//   - with several endpoints, after retry_limit retries on one endpoint
//     (retry_limit+1 failed attempts) the exporter moves on to the next one,
//     cyclically, and the retry there is immediate with a fresh backoff; the
//     move is exporter-wide: every request follows the active endpoint;
//   - 401/403 get one immediate extra attempt (the authenticator has
//     refreshed its token), not counted in max_retries; a second one is
//     permanent;
//   - after stop, a body still gets its first attempt (so a clean shutdown
//     of a memory queue flushes it) unless an attempt after stop has already
//     failed; it never gets a retry.
func (e *ceExporter) deliver(ctx context.Context, src *bodySource, hdr http.Header, events int, slot arc.Ticket) outcome {
	rc := &e.cfg.RetryConfig
	first := time.Now()
	ep := int(e.active.Load())
	var (
		retries, onEndpoint, backoffs int
		authRetried                   bool
		last                          attemptResult
	)
	for {
		if (retries > 0 || e.drainFailed.Load()) && e.stopped() {
			e.limiter.Release(slot, arc.Sample{Outcome: arc.Unknown}) // not attempted
			return e.interrupted(ep, last, errors.New("shutdown"))
		}
		if e.limiter != nil && !slot.Held() {
			var err error
			if slot, err = e.limiter.Acquire(ctx); err != nil {
				return e.interrupted(ep, last, err)
			}
		}
		res := e.attempt(ctx, ep, src, hdr)
		e.limiter.Release(slot, arcSample(ctx, res))
		slot = arc.Ticket{}
		last = res
		e.health.attempted(res, e.redacted[ep])
		if res.kind == attemptOK {
			e.tel.sent(ctx, ep, events, len(src.b))
			return outcome{kind: delivered}
		}
		if ctx.Err() != nil {
			return e.interrupted(ep, last, ctx.Err())
		}
		switch res.kind {
		case attemptPermanent:
			reason := reasonRejected
			if res.status == http.StatusRequestEntityTooLarge {
				// pushBatches splits such a body; an event refused alone
				// is too large for this endpoint.
				reason = string(cloudevent.ReasonTooLarge)
			}
			return outcome{kind: failed, ep: ep, reason: reason, status: res.status, endpoint: e.redacted[ep], err: res.err}
		case attemptAuth:
			if authRetried {
				e.health.refused(res, e.redacted[ep])
				return outcome{kind: failed, reason: reasonUnauthorized, status: res.status, endpoint: e.redacted[ep], err: res.err}
			}
			authRetried = true
			e.invalidate(res.resp)
			e.tel.retry(ctx, retryAuth)
			continue
		}

		// Retryable.
		if e.stopped() {
			e.drainFailed.Store(true)
			return e.interrupted(ep, last, errors.New("shutdown"))
		}
		if !rc.Enabled || (rc.MaxRetries >= 0 && retries >= rc.MaxRetries) {
			return e.exhausted(ep, last, retries)
		}
		onEndpoint++
		var wait time.Duration
		if n := len(e.endpoints); n > 1 && e.cfg.Failover.RetryLimit >= 0 && onEndpoint > e.cfg.Failover.RetryLimit {
			next := (ep + 1) % n
			if e.active.CompareAndSwap(int64(ep), int64(next)) {
				e.tel.failover(ctx, e.endpoints[ep], e.endpoints[next])
				e.logger.Warn("Endpoint failed too often, failing over to the next one",
					zap.String("from", e.redacted[ep]), zap.String("to", e.redacted[next]),
					zap.Int("failed_attempts", onEndpoint), zap.Error(res.err))
			}
			ep, onEndpoint, backoffs = int(e.active.Load()), 0, 0
		} else {
			wait = retryWait(e.backoff(backoffs), res.took, res.retryAfter, rc.MaxInterval)
			backoffs++
		}
		if rc.MaxElapsedTime > 0 && time.Since(first)+wait > rc.MaxElapsedTime {
			return e.exhausted(ep, last, retries)
		}
		retries++
		e.tel.retry(ctx, res.retryWhy)
		e.warn("Request failed, will retry",
			zap.String("endpoint", e.redacted[ep]), zap.Int("status", res.status), zap.Error(res.err),
			zap.Int("retry", retries), zap.Duration("wait", wait))
		if !e.sleep(ctx, wait) {
			if ctx.Err() != nil {
				return e.interrupted(ep, last, ctx.Err())
			}
			return e.interrupted(ep, last, errors.New("shutdown"))
		}
		// Another request may have failed over meanwhile: follow it.
		if cur := int(e.active.Load()); cur != ep {
			ep, onEndpoint, backoffs = cur, 0, 0
		}
	}
}

func (e *ceExporter) interrupted(ep int, last attemptResult, why error) outcome {
	err := why
	if last.err != nil {
		err = fmt.Errorf("%w (last attempt: %w)", why, last.err)
	}
	return outcome{kind: interrupted, status: last.status, endpoint: e.redacted[ep], err: err}
}

func (e *ceExporter) exhausted(ep int, last attemptResult, retries int) outcome {
	return outcome{
		kind: failed, reason: reasonExhausted, status: last.status, endpoint: e.redacted[ep],
		err: fmt.Errorf("gave up after %d retries: %w", retries, last.err),
	}
}

// backoff is the wait before retry n on one endpoint (n from 0).
func (e *ceExporter) backoff(n int) time.Duration {
	rc := &e.cfg.RetryConfig
	d := float64(rc.InitialInterval) * math.Pow(rc.Multiplier, float64(n))
	if f := rc.RandomizationFactor; f > 0 {
		d *= 1 + f*(2*rand.Float64()-1)
	}
	if d > float64(rc.MaxInterval) || math.IsInf(d, 0) || math.IsNaN(d) {
		return rc.MaxInterval
	}
	return time.Duration(d)
}

// retryWait is the wait before a retry: the backoff less the time the failed
// attempt took (SPEC B.7: a 4 s backoff after a 3 s failure waits 1 s), but
// at least the answer's Retry-After (-1 when absent), which is capped at
// maxInterval so that a far-off date cannot stall the exporter.
func retryWait(backoff, took, retryAfter, maxInterval time.Duration) time.Duration {
	wait := max(backoff-took, 0)
	if retryAfter >= 0 {
		wait = max(wait, min(retryAfter, maxInterval))
	}
	return wait
}

// sleep waits d; false when shutdown or the context ended it.
func (e *ceExporter) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return !e.stopped() && ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-e.stopCh:
		return false
	case <-ctx.Done():
		return false
	}
}

// invalidate tells the authenticator that the token of resp was rejected.
// Courier's authenticators have done so already in their RoundTripper (see
// internal/authrefresh); this covers authenticators that only implement
// the Invalidator hook. The call is keyed by token, so it is a no-op when
// the token was already replaced.
func (e *ceExporter) invalidate(resp *http.Response) {
	if e.invalidator == nil {
		return
	}
	if tok, ok := authrefresh.UsedToken(resp); ok {
		e.invalidator.InvalidateToken(tok)
	}
}

const (
	maxDrain     = 64 << 10 // response bytes read so the connection can be reused
	maxErrorBody = 512      // response bytes kept in the error message
)

// attempt makes one HTTP request.
func (e *ceExporter) attempt(ctx context.Context, ep int, src *bodySource, hdr http.Header) attemptResult {
	// A *bytes.Reader body lets net/http send the headers and a small body
	// in one write; a tracked body (see bodySource) costs a second write,
	// which only bodies worth reusing pay.
	var body io.Reader
	if !src.track {
		body = bytes.NewReader(src.b)
	}
	// The URL is parsed once, not per request.
	// With an authenticator, the RoundTripper may wait for a token before
	// the request leaves: note when it reaches the transport.
	var sentAt atomic.Int64
	reqCtx := ctx
	if e.authenticated {
		reqCtx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			GetConn: func(string) { sentAt.CompareAndSwap(0, time.Now().UnixNano()) },
		})
	}
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, "", body)
	if err != nil {
		return attemptResult{kind: attemptPermanent, class: classNetwork, err: fmt.Errorf("build request: %w", err), retryAfter: -1}
	}
	// Shared by every request: neither the client nor a RoundTripper writes
	// to a request's URL (they copy the request to change it).
	req.URL, req.Host = e.urls[ep], e.urls[ep].Host
	if src.track && len(src.b) > 0 {
		req.ContentLength = int64(len(src.b))
		req.Body, req.GetBody = src.reader(), func() (io.ReadCloser, error) { return src.reader(), nil }
	}
	// Header values are shared between requests: RoundTrippers replace or
	// copy headers, they do not write into the value slices. A binary-mode
	// header map belongs to its event; its attempts run one after the other.
	if hdr != nil {
		req.Header = hdr
	} else {
		req.Header["Content-Type"] = e.contentType
	}
	req.Header["User-Agent"] = e.userAgent

	start := time.Now()
	resp, err := e.client.Do(req)
	res := attemptResult{took: time.Since(start), retryAfter: -1}
	res.sinkTook, res.reachedSink = res.took, true
	if e.authenticated {
		if at := sentAt.Load(); at != 0 {
			res.sinkTook = time.Since(time.Unix(0, at))
		} else {
			res.sinkTook, res.reachedSink = 0, false
		}
	}
	if err != nil {
		res.class, res.kind, res.retryWhy = classNetwork, attemptRetryable, retryNetwork
		// The error names the URL; its query may hold a key. Logs and dead
		// letters get the redacted endpoint.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			ue.URL = e.redacted[ep]
		}
		res.err = err
		e.tel.request(ctx, ep, res.class, res.took.Seconds())
		return res
	}
	res.status, res.closed = resp.StatusCode, resp.Close
	res.class = statusClass(resp.StatusCode)
	e.tel.request(ctx, ep, res.class, res.took.Seconds())

	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		if resp.ContentLength == 0 {
			_ = resp.Body.Close()
		} else {
			drain(resp.Body, nil)
		}
		res.kind = attemptOK
		return res
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		res.kind = attemptAuth
		res.resp = resp
	case code == http.StatusRequestTimeout:
		res.kind, res.retryWhy = attemptRetryable, retryTimeout
	case code == http.StatusTooManyRequests:
		res.kind, res.retryWhy = attemptRetryable, retryThrottle
	case code >= 500 && code < 600:
		res.kind, res.retryWhy = attemptRetryable, retry5xx
	default:
		res.kind = attemptPermanent
	}
	if res.kind == attemptRetryable {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			res.retryAfter = d
		}
	}
	var head bytes.Buffer
	drain(resp.Body, &head)
	res.err = statusError(resp, head.Bytes())
	return res
}

// drain reads a little of the answer, so that its connection can be reused,
// keeping the first bytes in head when asked, and closes it.
func drain(body io.ReadCloser, head *bytes.Buffer) {
	if head != nil {
		_, _ = io.CopyN(head, body, maxErrorBody)
	}
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}

func statusError(resp *http.Response, head []byte) error {
	// ToValidUTF8 also covers a character split by the cut.
	text := strings.TrimSpace(strings.ToValidUTF8(string(head), "\uFFFD"))
	if len(head) == maxErrorBody {
		text += "…"
	}
	if text == "" {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return fmt.Errorf("HTTP %s: %s", resp.Status, text)
}

func statusClass(code int) string {
	switch code / 100 {
	case 2:
		return class2xx
	case 3:
		return class3xx
	case 5:
		return class5xx
	}
	return class4xx
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		const maxSecs = int64(math.MaxInt64 / int64(time.Second))
		return time.Duration(min(secs, maxSecs)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// bodySource hands the same bytes to every attempt of a request. A tracked
// source also knows when the transport has let go of all of them, so that
// its buffer can be reused: a RoundTripper may read a request body even
// after it returned. An untracked source's buffer is never reused.
type bodySource struct {
	b     []byte
	track bool
	open  atomic.Int32
}

func (s *bodySource) reader() io.ReadCloser {
	s.open.Add(1)
	r := &bodyReader{src: s}
	r.r.Reset(s.b)
	return r
}

// released reports whether every reader was read to the end or closed.
func (s *bodySource) released() bool { return s.open.Load() == 0 }

type bodyReader struct {
	r    bytes.Reader
	src  *bodySource
	done atomic.Bool
}

func (r *bodyReader) release() {
	if r.done.CompareAndSwap(false, true) {
		r.src.open.Add(-1)
	}
}

func (r *bodyReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		r.release()
	}
	return n, err
}

// WriteTo keeps io.Copy fast (the transport and compression use it).
func (r *bodyReader) WriteTo(w io.Writer) (int64, error) {
	n, err := r.r.WriteTo(w)
	if err == nil {
		r.release()
	}
	return n, err
}

func (r *bodyReader) Close() error {
	r.release()
	return nil
}
