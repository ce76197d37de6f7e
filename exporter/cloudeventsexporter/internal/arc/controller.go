// Package arc is adaptive request concurrency: a limit on the requests in
// flight to one sink that finds the sink's capacity by itself, after
// Vector's RFC 1858 (additive increase while the round-trip time holds,
// multiplicative decrease on back-pressure and rising round-trip time),
// with TCP's slow start so that a far sink is filled in a few round trips,
// and BBR's bandwidth-delay product as a ceiling: more requests in flight
// than the sink's best rate × its unloaded round-trip time (plus a small
// queue, ceilingQueue) only wait at the sink, in a listen queue a small
// sink may not have room for.
//
// Controller is the algorithm, fed outcomes and times by its caller, so
// that it is deterministic; Limiter puts it in front of the requests.
package arc

import (
	"math"
	"time"
)

// Sample is what one request tells the controller.
type Sample struct {
	RTT     time.Duration
	Outcome Outcome
	// Closed: the sink closed the connection after its answer (HTTP/1.0,
	// Connection: close), so every request opens one and first waits in
	// the sink's listen queue, which may hold only a few (see Controller).
	Closed bool
}

// Outcome is how one request ended.
type Outcome int

const (
	// Answered: the sink answered (any status but the back-pressure
	// ones); the round-trip time is a sample.
	Answered Outcome = iota
	// Backpressure: 429, 503, 408, a timeout or a connection error.
	Backpressure
	// Unknown: no answer that says anything about the sink (the request
	// was cancelled); it only frees its slot.
	Unknown
)

// Config tunes the controller.
type Config struct {
	// Max is the upper bound of the limit (the exporter's concurrency).
	Max int
	// Initial is the limit to start with.
	Initial int
	// RTTTolerance: a window whose mean round-trip time is more than
	// RTTTolerance × the baseline (and the baseline + queueAllowance)
	// means requests queue at the sink.
	RTTTolerance float64
	// DecreaseRatio multiplies the limit on back-pressure, and bounds the
	// decrease on a rising round-trip time from above.
	DecreaseRatio float64
	// MinWindow is the shortest measurement window; a window otherwise
	// lasts one mean round-trip time, so that it sees the effect of the
	// last change.
	MinWindow time.Duration
}

// resetWindows is how many consecutive windows slower than the requests in
// flight could make the sink (see closeWindow) must pass before their
// round-trip time becomes the new baseline.
const resetWindows = 5

// minQueue is the queue at the sink that is always tolerated, in requests
// (Vegas's alpha): the limit × (1 − baseline / RTT) requests that wait
// there. A sink that serves one request at a time (a single-threaded
// server, Python under its GIL) doubles the round-trip time with a second
// request in flight, and that second request is what keeps it busy; a
// listen backlog holds a few such requests.
const minQueue = 2

// slowStartExit ends slow start once a window's mean round-trip time is
// this much over the baseline (as TCP's HyStart does): doubling from there
// would overshoot a small sink by a factor of two before the next window
// could tell.
const slowStartExit = 1.5

// rateSamples is how many delivery rates the best is kept over (the max
// filter of BBR's bottleneck bandwidth): long enough to ride out a slow
// window, short enough to follow a sink that slowed down.
const rateSamples = 10

// rateSpan is the shortest time a delivery rate is measured over, in
// MinWindows: consecutive windows are pooled until they last that long. On
// a loopback sink a window of 10 ms catches the sink (and the client, on
// the same cores) in a fast moment at up to twice its sustained rate:
// Python's http.server answered 4,500/s to 10,300/s in consecutive
// windows, and a bandwidth-delay product from the best of them let the
// limit reach 7, past what its listen queue holds. A far sink's windows,
// one round trip each, are long enough alone.
const rateSpan = 4

// ceilingQueue is how many requests past the bandwidth-delay product the
// limit may grow to. Measured: with 2 (Vegas's alpha), the seed's Flask
// sink, whose round trip rises with every request but whose rate does too
// (threads overlapping under the GIL), stayed at 2 in flight and drained
// 1.15× slower than a fixed 10; with 3 it gets 3, and Python's
// single-threaded http.server (3.3–3.7 × its unloaded round trip, 3 more)
// at most 6, what its listen queue (backlog 5) holds beside the one served.
const ceilingQueue = 3

// rateTurns is how many answers per slot of the current limit a window
// must have for its delivery rate to bound slow start: a window of one
// round trip (a far sink) is answered mostly by requests admitted under
// the previous, half limit, and its rate is half the current one's.
const rateTurns = 2

// maxDecrease bounds one window's decrease (limit × 0.5 at most), so that
// one noisy window (a GC pause, a scheduler hiccup) cannot empty the pipe.
const maxDecrease = 0.5

// queueAllowance is a queueing delay never taken for an overloaded sink,
// and which the ceiling allows at a sink that keeps its connections. On a
// sink answering in tens of microseconds the client's own scheduling (a
// wake-up, a GC pause) moves the round-trip time by as much; and requests
// waiting that long cost nothing, they are how client and sink batch their
// work. Measured on a loopback sink sharing 2 cores with the exporter: 8
// in flight gave 10–15 % more events/s than the 3 that the ceiling alone
// allows, and more than 512. A sink that closes its connections gets no
// such allowance: each request it has not answered is a connection in its
// listen queue (Python's http.server, backlog 5, overflows at 7).
const queueAllowance = 250 * time.Microsecond

// Controller computes the limit. It is not safe for concurrent use.
type Controller struct {
	cfg       Config
	limit     float64
	slowStart bool // double per window until the first decrease
	baseline  time.Duration
	lastRTT   time.Duration // mean round-trip time of the last window

	// epoch counts the changes of the limit: a window measures only the
	// requests admitted under the limit it judges (see Observe).
	epoch uint64

	// Delivery rates (answers per second) of the last rateSamples spans
	// of windows with answers; their best times the baseline is the
	// bandwidth-delay product. spanAll and spanDur pool the windows of
	// the span being measured.
	rates   [rateSamples]float64
	rateN   int
	spanAll int
	spanDur time.Duration

	// Consecutive windows slower than our requests can explain, and their
	// lowest mean: a sink slower for good.
	slowWindows int
	slowBest    time.Duration

	winStart  time.Time
	winSum    time.Duration
	winN      int  // answers to requests of the current epoch
	winAll    int  // every answer, for the delivery rate
	winClosed int  // answers after which the sink closed the connection
	winPress  bool // back-pressure seen in the window
	winFull   bool // the limit was reached in the window
}

// NewController starts a controller at cfg.Initial (at least 1, at most
// cfg.Max), in slow start, with its first window opening at now.
func NewController(cfg Config, now time.Time) *Controller {
	cfg.Max = max(cfg.Max, 1)
	return &Controller{
		cfg:       cfg,
		limit:     float64(min(max(cfg.Initial, 1), cfg.Max)),
		slowStart: true,
		slowBest:  math.MaxInt64,
		winStart:  now,
	}
}

// Limit is the current limit, at least 1.
func (c *Controller) Limit() int { return int(c.limit) }

// RTT is the mean round-trip time of the last window with answers.
func (c *Controller) RTT() time.Duration { return c.lastRTT }

// Baseline is the round-trip time of the sink when not loaded: the lowest
// window mean seen (0 before the first answer).
func (c *Controller) Baseline() time.Duration { return c.baseline }

// Epoch identifies the current limit; a request carries the epoch it was
// admitted in back to Observe.
func (c *Controller) Epoch() uint64 { return c.epoch }

// Full records that a request found the limit reached (it had to wait, or
// took the last slot): only a limit that is used may grow.
func (c *Controller) Full() { c.winFull = true }

// Observe records sample s of one request admitted in epoch, finishing at
// now, and closes the window when it has lasted long enough and measured
// the current limit.
//
// Only requests admitted under the current limit say how the sink bears
// it: the answers to older ones still count in the delivery rate, but not
// in the round-trip time, or slow start would double again on the
// round-trip time of the previous limit (and overshoot a small sink by a
// factor of two), and back-pressure already answered by a decrease would
// be answered again (one decrease per round trip, as TCP does per loss).
func (c *Controller) Observe(now time.Time, s Sample, epoch uint64) {
	current := epoch == c.epoch
	switch s.Outcome {
	case Answered:
		c.winAll++
		if s.Closed {
			c.winClosed++
		}
		if current {
			c.winSum += s.RTT
			c.winN++
		}
	case Backpressure:
		c.winPress = c.winPress || current
	}
	if (c.winN > 0 || c.winPress) && now.Sub(c.winStart) >= max(c.cfg.MinWindow, c.lastRTT) {
		c.closeWindow(now)
	}
}

func (c *Controller) closeWindow(now time.Time) {
	var mean time.Duration
	if c.winN > 0 {
		mean = c.winSum / time.Duration(c.winN)
	}
	d := now.Sub(c.winStart)
	c.measureRate(d)
	if c.winN > 0 && mean < c.baseline {
		c.baseline = mean // before the decision: the ceiling is its product
	}
	// The round-trip time a queue at the sink begins past.
	tolerated := max(time.Duration(c.cfg.RTTTolerance*float64(c.baseline)), c.baseline+queueAllowance)
	over := c.winN > 0 && c.baseline > 0 && mean > tolerated
	slow := false // slower than the requests in flight can make the sink
	before := c.Limit()
	switch {
	case c.winPress:
		c.decrease(c.cfg.DecreaseRatio)
	case c.winN == 0:
		// Nothing measured: keep the limit.
	case c.baseline == 0:
		c.baseline = mean
	case over && float64(mean) > c.cfg.RTTTolerance*c.limit*float64(c.baseline):
		// Slower than our requests can make the sink: limit requests in
		// flight make a round trip at most limit times the unloaded one
		// (a sink serving one at a time, each waiting for all the others),
		// so this is the sink's own round-trip time, if it lasts (one slow
		// window is noise: a busy machine, a pause). Then take the best of
		// those windows as the new baseline and find the capacity again.
		// A serial sink with two in flight is not this: its round trip is
		// twice the unloaded one, its second request what keeps it busy.
		slow = true
		c.slowWindows++
		c.slowBest = min(c.slowBest, mean)
		if c.slowWindows >= resetWindows {
			// A new sink, as far as the rates go too.
			c.baseline, c.slowStart = c.slowBest, true
			c.rates, c.rateN, c.spanAll, c.spanDur = [rateSamples]float64{}, 0, 0, 0
			slow = false
		}
	case over && c.limit*(1-float64(c.baseline)/float64(mean)) > minQueue:
		// Requests queue at the sink. The further past the tolerance,
		// the larger the decrease (Gradient2's gradient), from
		// DecreaseRatio to maxDecrease.
		c.decrease(max(maxDecrease, min(c.cfg.DecreaseRatio, float64(tolerated)/float64(mean))))
	case over:
		// A queue within minQueue: hold.
	case c.winFull:
		if c.slowStart && float64(mean) > slowStartExit*float64(c.baseline) {
			c.slowStart = false // the round-trip time begins to rise
		}
		// Beyond the bandwidth-delay product, a request only waits at the
		// sink: a few keep it busy and probe for more.
		delay := c.baseline
		if 2*c.winClosed < c.winAll {
			delay += queueAllowance // the sink keeps its connections
		}
		ceiling := c.bdp(delay) + ceilingQueue
		switch {
		case c.slowStart && c.winN >= rateTurns*c.Limit():
			// Every slot turned over several times in the window: its
			// rate is the current limit's, and bounds the doubling.
			c.limit = max(c.limit, min(2*c.limit, ceiling))
		case c.slowStart:
			c.limit *= 2
		case c.limit+1 <= ceiling:
			c.limit++
		}
		c.limit = min(c.limit, float64(c.cfg.Max))
	}
	if !slow && c.winN > 0 {
		c.slowWindows, c.slowBest = 0, math.MaxInt64
	}
	if c.winN > 0 {
		c.lastRTT = mean
	}
	if c.Limit() != before {
		c.epoch++
	}
	c.winStart, c.winSum, c.winN, c.winAll, c.winClosed, c.winPress, c.winFull = now, 0, 0, 0, 0, false, false
}

// bdp is the bandwidth-delay product: the best of the last rateSamples
// delivery rates times delay, the unloaded round-trip time (plus the queue
// allowed), the requests in flight that keep the sink busy.
func (c *Controller) bdp(delay time.Duration) float64 {
	best := 0.0
	for _, r := range c.rates[:min(c.rateN, rateSamples)] {
		best = max(best, r)
	}
	return best * delay.Seconds()
}

// measureRate pools the answers of a window that lasted d into the span
// being measured, and records its rate once it lasted rateSpan
// MinWindows. A window without answers (every one back-pressure) ends the
// span unrecorded: the sink refused, it did not slow down.
func (c *Controller) measureRate(d time.Duration) {
	if c.winAll == 0 {
		c.spanAll, c.spanDur = 0, 0
		return
	}
	c.spanAll, c.spanDur = c.spanAll+c.winAll, c.spanDur+d
	if c.spanDur > 0 && c.spanDur >= rateSpan*c.cfg.MinWindow {
		c.rates[c.rateN%rateSamples] = float64(c.spanAll) / c.spanDur.Seconds()
		c.rateN++
		c.spanAll, c.spanDur = 0, 0
	}
}

func (c *Controller) decrease(ratio float64) {
	c.limit = math.Max(1, c.limit*ratio)
	c.slowStart = false
}
