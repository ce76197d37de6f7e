package arc

import (
	"testing"
	"time"
)

func testConfig(maxLimit int) Config {
	return Config{Max: maxLimit, Initial: 1, RTTTolerance: 2, DecreaseRatio: 0.9, MinWindow: 10 * time.Millisecond}
}

// sim drives a controller in closed loop: every round, limit requests are in
// flight (the exporter has more to send), each taking rtt(limit), and the
// clock moves on by that round-trip time.
type sim struct {
	c      *Controller
	now    time.Time
	closed bool // the sink closes each connection after its answer
}

func newSim(cfg Config) *sim {
	now := time.Unix(1_000_000, 0)
	return &sim{c: NewController(cfg, now), now: now}
}

func (s *sim) round(rtt func(inFlight int) time.Duration, o Outcome) {
	n := s.c.Limit()
	d := rtt(n)
	start := s.now
	epoch := s.c.Epoch() // every request of the round is admitted at its start
	// In steady state the answers come evenly spread over the round trip.
	for i := range n {
		s.now = start.Add(d * time.Duration(i+1) / time.Duration(n))
		s.c.Full()
		s.c.Observe(s.now, Sample{RTT: d, Outcome: o, Closed: s.closed}, epoch)
	}
}

func (s *sim) rounds(k int, rtt func(int) time.Duration) {
	for range k {
		s.round(rtt, Answered)
	}
}

// fixedLatency is a sink with unbounded capacity: its answer takes d,
// whatever the load.
func fixedLatency(d time.Duration) func(int) time.Duration {
	return func(int) time.Duration { return d }
}

// slots is a sink with n handlers, each request holding one for d: beyond
// n in flight, requests queue and the round-trip time grows with the load.
func slots(n int, d time.Duration) func(int) time.Duration {
	return func(inFlight int) time.Duration {
		return time.Duration(float64(d) * max(1, float64(inFlight)/float64(n)))
	}
}

func TestSlowStartFillsAFarSink(t *testing.T) {
	s := newSim(testConfig(512))
	want := []int{1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512}
	for i, w := range want {
		if got := s.c.Limit(); got != w {
			t.Fatalf("round %d: limit %d, want %d (slow start doubles once per window)", i, got, w)
		}
		s.round(fixedLatency(300*time.Millisecond), Answered)
	}
	if got := s.c.Baseline(); got != 300*time.Millisecond {
		t.Fatalf("baseline %s, want 300ms", got)
	}
}

func TestRisingRTTFindsCapacityAndFollowsIt(t *testing.T) {
	cfg := testConfig(512)
	s := newSim(cfg)
	s.rounds(200, slots(64, 10*time.Millisecond))
	// The limit stays where the round-trip time is within the tolerance:
	// from the sink's capacity to twice it.
	checkBand(t, "64 handlers", s, slots(64, 10*time.Millisecond), 32, 130)

	// The sink slows down: 8 handlers left. The limit follows.
	s.rounds(100, slots(8, 10*time.Millisecond))
	checkBand(t, "8 handlers", s, slots(8, 10*time.Millisecond), 4, 18)
	if s.c.Baseline() != 10*time.Millisecond {
		t.Fatalf("baseline %s, want the unloaded 10ms", s.c.Baseline())
	}

	// And back up.
	s.rounds(200, slots(64, 10*time.Millisecond))
	checkBand(t, "64 handlers again", s, slots(64, 10*time.Millisecond), 32, 130)
}

// checkBand runs 100 more rounds and fails unless the limit stayed in
// [lo, hi] throughout.
func checkBand(t *testing.T, what string, s *sim, rtt func(int) time.Duration, lo, hi int) {
	t.Helper()
	for i := range 100 {
		s.round(rtt, Answered)
		if l := s.c.Limit(); l < lo || l > hi {
			t.Fatalf("%s: round %d: limit %d outside [%d, %d]", what, i, l, lo, hi)
		}
	}
}

func TestBackpressureDecreasesThenAdditiveIncrease(t *testing.T) {
	s := newSim(testConfig(512))
	s.rounds(7, fixedLatency(20*time.Millisecond)) // a baseline, then slow start to 64
	if got := s.c.Limit(); got != 64 {
		t.Fatalf("limit %d after slow start, want 64", got)
	}
	s.round(fixedLatency(20*time.Millisecond), Backpressure)
	if got := s.c.Limit(); got != 57 { // 64 × 0.9 = 57.6
		t.Fatalf("limit %d after back-pressure, want 57", got)
	}
	// Out of slow start: +1 per window, once a delivery rate is measured
	// that allows it (rateSpan: two windows of 20 ms; slow start's were at
	// half the limit).
	s.round(fixedLatency(20*time.Millisecond), Answered)
	if got := s.c.Limit(); got != 57 {
		t.Fatalf("limit %d before a rate at 57 is measured, want 57", got)
	}
	for want := 58; want < 62; want++ {
		s.round(fixedLatency(20*time.Millisecond), Answered)
		if got := s.c.Limit(); got != want {
			t.Fatalf("limit %d, want %d (additive increase)", got, want)
		}
	}
	// Back-pressure on every window brings it down to 1, not below.
	for range 100 {
		s.round(fixedLatency(20*time.Millisecond), Backpressure)
	}
	if got := s.c.Limit(); got != 1 {
		t.Fatalf("limit %d under constant back-pressure, want 1", got)
	}
}

func TestUnusedLimitDoesNotGrow(t *testing.T) {
	s := newSim(testConfig(512))
	now := s.now
	for range 50 {
		now = now.Add(20 * time.Millisecond)
		s.c.Observe(now, Sample{RTT: 20 * time.Millisecond, Outcome: Answered}, s.c.Epoch()) // never Full
	}
	if got := s.c.Limit(); got != 1 {
		t.Fatalf("limit %d, want 1: a limit that is not reached must not grow", got)
	}
}

func TestWindowOfOneRTT(t *testing.T) {
	s := newSim(testConfig(512))
	s.round(fixedLatency(100*time.Millisecond), Answered) // baseline, window 0
	s.round(fixedLatency(100*time.Millisecond), Answered) // 1 → 2
	if s.c.Limit() != 2 {
		t.Fatalf("limit %d, want 2", s.c.Limit())
	}
	// Answers within one RTT of the window's start do not close it.
	at := s.now.Add(50 * time.Millisecond)
	s.c.Full()
	s.c.Observe(at, Sample{RTT: 100 * time.Millisecond, Outcome: Answered}, s.c.Epoch())
	if s.c.Limit() != 2 {
		t.Fatalf("limit %d changed before the window ended", s.c.Limit())
	}
	s.c.Observe(at.Add(50*time.Millisecond), Sample{RTT: 100 * time.Millisecond, Outcome: Answered}, s.c.Epoch())
	if s.c.Limit() != 4 {
		t.Fatalf("limit %d after a window of one RTT, want 4", s.c.Limit())
	}
}

func TestSinkSlowerForGoodResetsBaseline(t *testing.T) {
	s := newSim(testConfig(512))
	s.rounds(12, fixedLatency(10*time.Millisecond))
	if s.c.Limit() != 512 {
		t.Fatalf("limit %d, want 512", s.c.Limit())
	}
	// The sink's own latency becomes 300 ms (it moved away): not queueing.
	// The limit drops, finds that one request alone takes 300 ms, takes
	// that as the baseline and fills the pipe again.
	s.rounds(60, fixedLatency(300*time.Millisecond))
	if s.c.Baseline() != 300*time.Millisecond {
		t.Fatalf("baseline %s, want 300ms", s.c.Baseline())
	}
	if s.c.Limit() != 512 {
		t.Fatalf("limit %d, want 512 again", s.c.Limit())
	}
}

// TestOneSlowWindowAtLimitOneIsNoise: a few slow windows at limit 1 do
// not move the baseline (a busy machine would otherwise restart slow start
// from an inflated baseline and flood a small sink).
func TestOneSlowWindowAtLimitOneIsNoise(t *testing.T) {
	s := newSim(testConfig(512))
	s.rounds(3, fixedLatency(10*time.Millisecond))
	for range 20 { // back-pressure brings the limit to 1
		s.round(fixedLatency(10*time.Millisecond), Backpressure)
	}
	if s.c.Limit() != 1 {
		t.Fatalf("limit %d, want 1", s.c.Limit())
	}
	for range resetWindows - 1 {
		s.round(fixedLatency(100*time.Millisecond), Answered)
	}
	s.round(fixedLatency(10*time.Millisecond), Answered)
	if s.c.Baseline() != 10*time.Millisecond {
		t.Fatalf("baseline %s after %d slow windows, want 10ms still", s.c.Baseline(), resetWindows-1)
	}
}

// TestSerialSinkKeepsTwoInFlight: a sink that serves one request at a time
// (each 1 ms) doubles the round-trip time with a second request in flight,
// and needs it to stay busy: the limit stays between 2 and 4.
func TestSerialSinkKeepsTwoInFlight(t *testing.T) {
	s := newSim(testConfig(512))
	serial := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	s.rounds(50, serial)
	checkBand(t, "serial sink", s, serial, 2, 4)
}

// TestSlowStartEndsWhenRTTRises: a sink whose round-trip time is 1.6× the
// unloaded one from 8 requests in flight: slow start stops doubling there
// (not at 16, which a window later would be over the tolerance). The sink
// answers 500/s at 8, a quarter more than the 400/s at 4: it is nearly
// full, and the bandwidth-delay product holds the limit at 8.
func TestSlowStartEndsWhenRTTRises(t *testing.T) {
	s := newSim(testConfig(512))
	rtt := func(n int) time.Duration {
		if n >= 8 {
			return 16 * time.Millisecond
		}
		return 10 * time.Millisecond
	}
	s.rounds(4, rtt) // baseline, 2, 4, 8
	if s.c.Limit() != 8 {
		t.Fatalf("limit %d, want 8", s.c.Limit())
	}
	for range 20 {
		s.round(rtt, Answered)
		if s.c.Limit() != 8 {
			t.Fatalf("limit %d after windows 1.6× the baseline, want 8", s.c.Limit())
		}
	}
}

func TestDecreaseBounded(t *testing.T) {
	s := newSim(testConfig(512))
	s.rounds(10, fixedLatency(10*time.Millisecond)) // 512
	s.round(fixedLatency(time.Second), Answered)    // 100× the baseline
	if got := s.c.Limit(); got != 256 {
		t.Fatalf("limit %d, want 256: one window halves it at most", got)
	}
}

func TestInitialAndMaxBounds(t *testing.T) {
	c := NewController(Config{Max: 4, Initial: 100}, time.Now())
	if c.Limit() != 4 {
		t.Fatalf("limit %d, want Max 4", c.Limit())
	}
	c = NewController(Config{Max: 4, Initial: 0}, time.Now())
	if c.Limit() != 1 {
		t.Fatalf("limit %d, want 1", c.Limit())
	}
}

// TestSmallSinkWithinItsListenQueue: a single-threaded sink that closes
// each connection after its answer, whose answer takes 0.5 ms when idle
// but only 0.15 ms of its time (the rest is the round trip through the
// kernel and the client, which overlap): it is busy from about 3.3
// requests in flight, and each one more waits in its listen queue.
// Python's http.server has a backlog of 5, so more than 6 in flight
// overflow it. The bandwidth-delay product (6,667/s × 0.5 ms = 3.3, + 3)
// holds it at 6 at most, from slow start on; closing its connections, it
// gets no queueAllowance.
func TestSmallSinkWithinItsListenQueue(t *testing.T) {
	s := newSim(testConfig(512))
	s.closed = true
	sink := func(n int) time.Duration {
		return max(500*time.Microsecond, time.Duration(n)*150*time.Microsecond)
	}
	for i := range 500 {
		s.round(sink, Answered)
		if l := s.c.Limit(); l > 6 {
			t.Fatalf("round %d: limit %d, more than the sink's listen queue holds", i, l)
		}
	}
	checkBand(t, "small sink", s, sink, 3, 6)
}

// TestBackpressureOfOldRequestsCountsOnce: 503s to requests admitted
// under the limit already decreased for them do not decrease it again.
func TestBackpressureOfOldRequestsCountsOnce(t *testing.T) {
	s := newSim(testConfig(512))
	s.rounds(7, fixedLatency(20*time.Millisecond)) // 64
	old := s.c.Epoch()
	s.round(fixedLatency(20*time.Millisecond), Backpressure)
	if got := s.c.Limit(); got != 57 {
		t.Fatalf("limit %d after back-pressure, want 57", got)
	}
	// The rest of the old requests' answers, all 503, over two windows.
	for i := range 40 {
		s.now = s.now.Add(time.Millisecond)
		s.c.Observe(s.now, Sample{RTT: 20 * time.Millisecond, Outcome: Backpressure}, old)
		if got := s.c.Limit(); got != 57 {
			t.Fatalf("answer %d: limit %d, want 57: the decrease answered them", i, got)
		}
	}
}

// TestLoopbackSinkKeepsABatchInFlight: a sink that keeps its connections
// and shares the machine's cores with the exporter, 50 µs unloaded, each
// request in flight 40 µs more (25,000/s at most). Its round-trip time
// doubles from 3 in flight, but a queue of a few hundred microseconds
// costs nothing and is how client and sink batch their work: the limit
// keeps about 8 (queueAllowance), not the 3 of the bandwidth-delay
// product + ceilingQueue. Closing its connections, it gets only those.
func TestLoopbackSinkKeepsABatchInFlight(t *testing.T) {
	sink := func(n int) time.Duration { return max(50*time.Microsecond, time.Duration(n)*40*time.Microsecond) }
	s := newSim(testConfig(512))
	s.rounds(2000, sink)
	checkBand(t, "keep-alive", s, sink, 5, 11)

	s = newSim(testConfig(512))
	s.closed = true
	s.rounds(2000, sink)
	checkBand(t, "closing", s, sink, 1, 4)
}

// TestUnevenSinkWithinItsListenQueue: a single-threaded sink that closes
// its connections and shares its core with another process, so that its
// own time per request is 0.1 ms for 20 ms, then 0.2 ms for 20 ms (0.5 ms
// round trip when idle). A window of 10 ms sees it answer 10,000/s or
// 5,000/s: a bandwidth-delay product from the best window (5 + 3) let
// the limit reach 8, past its listen queue of 5; the rate measured over
// rateSpan windows (7,400/s: 3.7 + 3) keeps it at 6 at most.
func TestUnevenSinkWithinItsListenQueue(t *testing.T) {
	s := newSim(testConfig(512))
	s.closed = true
	sink := func(n int) time.Duration {
		own := 100 * time.Microsecond
		if s.now.UnixNano()/int64(20*time.Millisecond)%2 == 1 {
			own = 200 * time.Microsecond
		}
		return max(500*time.Microsecond, time.Duration(n)*own)
	}
	for i := range 5000 {
		s.round(sink, Answered)
		if l := s.c.Limit(); l > 6 {
			t.Fatalf("round %d: limit %d, more than the sink's listen queue holds", i, l)
		}
	}
}
