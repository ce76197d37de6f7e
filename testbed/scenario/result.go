package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/courier-otel/courier/internal/deadletter"
	"github.com/courier-otel/courier/testbed/loadgen"
)

// Result is what a scenario measured. Events are counted by id: an event
// is "written" when a load recorded it (appended to a file, committed).
type Result struct {
	Written  int   // events written or committed
	BadLines int64 // lines written that are not events
	// Delivered counts the written events the sink accepted at least once.
	Delivered int
	// DeadLettered counts the written events found in the dead-letter
	// files, by reason.
	DeadLettered map[string]int
	// Lost counts the written events neither delivered nor dead-lettered.
	Lost int
	// Duplicates counts deliveries beyond the first of an event.
	Duplicates int64
	// Unrecorded counts distinct events delivered that no load recorded:
	// inserts whose COMMIT took effect although the connection broke
	// before its answer (PostgreSQL restarting).
	Unrecorded int
	// Elapsed runs from the first write to the first delivery of the last
	// event delivered; EventsPerSecond is Delivered over it.
	Elapsed         time.Duration
	EventsPerSecond float64
	// CPU is the collectors' CPU time while healthy (start-up excluded),
	// over every process the scenario ran; PeakRSS the highest VmHWM.
	CPU     time.Duration
	PeakRSS int64
	// Latency percentiles, write → first delivery, of the delivered events.
	P50, P90, P99, Max time.Duration
}

// String is a one-line summary for the test log.
func (r Result) String() string {
	dead := 0
	for _, n := range r.DeadLettered {
		dead += n
	}
	return fmt.Sprintf("written %d (+%d bad lines), delivered %d, dead-lettered %d %v, lost %d, duplicates %d, unrecorded %d; "+
		"%.0f events/s over %.2f s; collector CPU %.2f s (%.1f µs/event), peak RSS %.1f MiB; latency p50 %s p90 %s p99 %s max %s",
		r.Written, r.BadLines, r.Delivered, dead, r.DeadLettered, r.Lost, r.Duplicates, r.Unrecorded,
		r.EventsPerSecond, r.Elapsed.Seconds(), r.CPU.Seconds(), r.cpuPerEvent(), float64(r.PeakRSS)/(1<<20),
		ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
}

func (r Result) cpuPerEvent() float64 {
	if r.Delivered == 0 {
		return 0
	}
	return float64(r.CPU.Nanoseconds()) / 1000 / float64(r.Delivered)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// Report reports the result as benchmark metrics, in the units the bench
// report reads: events/s, cpu-µs/event, peak-RSS-MiB, p50-ms, p90-ms,
// p99-ms, lost, duplicates.
func (r Result) Report(b *testing.B) {
	b.ReportMetric(r.EventsPerSecond, "events/s")
	b.ReportMetric(r.cpuPerEvent(), "cpu-µs/event")
	b.ReportMetric(float64(r.PeakRSS)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.P90.Microseconds())/1000, "p90-ms")
	b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(r.Lost), "lost")
	b.ReportMetric(float64(r.Duplicates), "duplicates")
}

// Finish waits for the loads to end and, for at most timeout, for every
// event written to be delivered or dead-lettered; stops the collector;
// and returns the Result. It fails the test when an event is lost, when
// an event is dead-lettered that was not expected to be (or with another
// reason), or when an expected one is not.
func (e *Env) Finish(timeout time.Duration) Result {
	e.t.Helper()
	for _, l := range e.loads {
		l.Wait(e.t)
	}
	written := e.Written.Records()
	deadline := time.Now().Add(timeout)
	var dead map[string]string
	for {
		var missing int
		dead, missing = e.account(written)
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		if e.c != nil {
			select {
			case <-e.c.Done():
				e.t.Fatalf("scenario: the collector exited with %d events outstanding", missing)
			default:
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if e.c != nil {
		e.Stop()
	}
	r := e.result(written, dead)
	e.t.Logf("scenario: %s", r)
	if r.Lost > 0 {
		e.t.Errorf("scenario: %d of %d events lost (not delivered within %s, not dead-lettered); first: %v",
			r.Lost, r.Written, timeout, e.firstMissing(written, dead, 5))
	}
	e.checkDeadLetters(dead)
	return r
}

// account returns the dead-lettered ids and how many written events are
// neither delivered nor dead-lettered yet.
func (e *Env) account(written []loadgen.Record) (map[string]string, int) {
	e.mu.Lock()
	undelivered := 0
	for _, w := range written {
		if _, ok := e.arrived[w.ID]; !ok {
			undelivered++
		}
	}
	e.mu.Unlock()
	if undelivered == 0 {
		return nil, 0
	}
	dead := e.deadLetters()
	missing := 0
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range written {
		if _, ok := e.arrived[w.ID]; !ok && dead[w.ID] == "" {
			missing++
		}
	}
	return dead, missing
}

func (e *Env) result(written []loadgen.Record, dead map[string]string) Result {
	if dead == nil {
		dead = e.deadLetters()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r := Result{
		Written: len(written), BadLines: e.Written.BadLines(), DeadLettered: map[string]int{},
		Duplicates: e.Sink.Stats().Duplicates, CPU: e.cpu, PeakRSS: e.peakRSS,
	}
	var first, last time.Time
	lat := make([]time.Duration, 0, len(written))
	recorded := make(map[string]struct{}, len(written))
	for _, w := range written {
		recorded[w.ID] = struct{}{}
		if first.IsZero() || w.At.Before(first) {
			first = w.At
		}
		at, ok := e.arrived[w.ID]
		switch {
		case ok:
			r.Delivered++
			lat = append(lat, max(0, at.Sub(w.At)))
			if at.After(last) {
				last = at
			}
		case dead[w.ID] != "":
			r.DeadLettered[dead[w.ID]]++
		default:
			r.Lost++
		}
	}
	for id := range e.arrived {
		if _, ok := recorded[id]; !ok {
			r.Unrecorded++
		}
	}
	if r.Delivered > 0 {
		r.Elapsed = last.Sub(first)
		r.EventsPerSecond = float64(r.Delivered) / r.Elapsed.Seconds()
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
		r.P50, r.P90, r.P99, r.Max = pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1]
	}
	return r
}

// firstMissing returns up to n lost ids.
func (e *Env) firstMissing(written []loadgen.Record, dead map[string]string, n int) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, w := range written {
		if _, ok := e.arrived[w.ID]; !ok && dead[w.ID] == "" && len(out) < n {
			out = append(out, w.ID)
		}
	}
	return out
}

// checkDeadLetters compares the dead letters with ExpectDeadLetters.
func (e *Env) checkDeadLetters(dead map[string]string) {
	e.t.Helper()
	if dead == nil {
		dead = e.deadLetters()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, reason := range dead {
		if want, ok := e.expectDead[id]; !ok || want != reason {
			e.t.Errorf("scenario: event %s dead-lettered with reason %q, want %q", id, reason, want)
		}
	}
	for id, want := range e.expectDead {
		if _, ok := dead[id]; !ok {
			e.t.Errorf("scenario: event %s not dead-lettered, want reason %q", id, want)
		}
	}
}

// DeadLetters reads the dead-letter files: event id → reason.
func (e *Env) DeadLetters() map[string]string { return e.deadLetters() }

func (e *Env) deadLetters() map[string]string {
	e.t.Helper()
	files, err := filepath.Glob(filepath.Join(e.deadLetterDir, "*.jsonl"))
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			e.t.Fatal(err)
		}
		lines := bytes.Split(raw, []byte{'\n'})
		// The last piece is empty, or a line the exporter is writing now.
		for _, line := range lines[:len(lines)-1] {
			var rec deadletter.Record
			var ev struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(line, &rec); err != nil {
				e.t.Fatalf("dead letter in %s: %v", name, err)
			}
			if len(rec.Event) > 0 {
				if err := json.Unmarshal(rec.Event, &ev); err != nil {
					e.t.Fatalf("dead letter in %s: event: %v", name, err)
				}
			}
			if ev.ID == "" {
				ev.ID = "(no event id: " + strings.TrimSpace(rec.Error) + ")"
			}
			out[ev.ID] = rec.Reason
		}
	}
	return out
}
