// Package loadgen generates the testbed's load and keeps account of it:
// structured log files written through pkg/structuredlog (WriteLogs) and
// NVSentinel health events inserted into PostgreSQL with the real table,
// trigger and document shapes (InsertHealthEvents) or into MongoDB as
// NVSentinel's platform connector stores them (InsertMongoHealthEvents). Each generator tells a
// Recorder the id of every event it wrote and when the event became
// readable (appended to a file, committed), so that a scenario can count
// lost and duplicated events and measure write→sink latency. The command
// testbed/cmd/courier-load runs the generators in processes of their own
// and prints the records in the text form of Encoder, which Ledger reads
// back.
package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Recorder is told of every event a generator wrote, and of the bad
// lines it wrote on purpose. Implementations are safe for concurrent use.
type Recorder interface {
	// Written: event id became readable at at.
	Written(id string, at time.Time)
	// Bad: n lines that are not events were written.
	Bad(n int)
}

// Record is one event written.
type Record struct {
	ID string
	At time.Time
}

// Ledger is a Recorder that keeps every record in memory.
type Ledger struct {
	mu      sync.Mutex
	records []Record
	bad     int64
}

// Written records an event.
func (l *Ledger) Written(id string, at time.Time) {
	l.mu.Lock()
	l.records = append(l.records, Record{ID: id, At: at})
	l.mu.Unlock()
}

// Bad counts bad lines.
func (l *Ledger) Bad(n int) {
	l.mu.Lock()
	l.bad += int64(n)
	l.mu.Unlock()
}

// Records returns a copy of the records so far, in the order recorded.
func (l *Ledger) Records() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Record(nil), l.records...)
}

// Len is the number of events recorded.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.records)
}

// BadLines is the number of bad lines recorded.
func (l *Ledger) BadLines() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bad
}

// ReadFrom adds the records of Encoder's text form read from r.
func (l *Ledger) ReadFrom(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	var n int64
	for sc.Scan() {
		line := sc.Text()
		n += int64(len(line)) + 1
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "w":
			ns, id, ok := strings.Cut(rest, " ")
			t, err := strconv.ParseInt(ns, 10, 64)
			if !ok || err != nil || id == "" {
				return n, fmt.Errorf("bad record %q", line)
			}
			l.Written(id, time.Unix(0, t))
		case "b":
			k, err := strconv.Atoi(rest)
			if err != nil {
				return n, fmt.Errorf("bad record %q", line)
			}
			l.Bad(k)
		default:
			return n, fmt.Errorf("bad record %q", line)
		}
	}
	return n, sc.Err()
}

// Encoder is a Recorder that writes each record as a line: "w <unix
// nanoseconds> <id>" for an event, "b <n>" for bad lines. Call Flush at
// the end.
type Encoder struct {
	mu  sync.Mutex
	w   *bufio.Writer
	buf []byte
}

// NewEncoder writes records to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: bufio.NewWriterSize(w, 64<<10)} }

// Written writes an event record.
func (e *Encoder) Written(id string, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = append(e.buf[:0], "w "...)
	e.buf = strconv.AppendInt(e.buf, at.UnixNano(), 10)
	e.buf = append(e.buf, ' ')
	e.buf = append(e.buf, id...)
	e.buf = append(e.buf, '\n')
	_, _ = e.w.Write(e.buf) // a write error shows in Flush
}

// Bad writes a bad-lines record.
func (e *Encoder) Bad(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = fmt.Fprintf(e.w, "b %d\n", n)
}

// Flush writes out what is buffered.
func (e *Encoder) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.w.Flush()
}

// pacer spaces events at a rate: event i is due at start + i/rate. It
// sleeps only when it is at least a millisecond ahead, so high rates are
// kept on average rather than event by event.
type pacer struct {
	start    time.Time
	interval time.Duration // 0: no pacing
}

func newPacer(rate float64) pacer {
	p := pacer{start: time.Now()}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// wait returns when event i is due, or with ctx's error.
func (p pacer) wait(ctx context.Context, i int) error {
	if p.interval == 0 {
		return ctx.Err()
	}
	d := time.Until(p.start.Add(time.Duration(i) * p.interval))
	if d < time.Millisecond {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
