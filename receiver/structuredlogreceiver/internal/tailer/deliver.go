package tailer

import (
	"context"
	"errors"
	"github.com/courier-otel/courier/internal/isolate"
	"go.opentelemetry.io/collector/pdata/plog"
	"slices"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/courier-otel/courier/pkg/structuredlog"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/checkpoint"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/metadata"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/reader"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/tracker"
)

// delivery is a batch handed to the next consumer: ConsumeLogs runs on its
// own goroutine while the tailer reads on, so that decoding and the
// pipeline use both cores and a consumer that waits for its result (the
// cloudevents exporter's default) does not stall reading. Up to
// MaxInFlightBatches are in flight; they are settled in the order they
// were handed over, so progress is committed in order whatever order the
// pipeline finishes them in.
type delivery struct {
	events int
	marks  []reader.Mark
	done   chan error
	// careful: delivered by isolate.Deliver, which dead-letters (dead)
	// the events refused for good alone; set before done is.
	careful bool
	dead    int
}

// handOff starts delivering the batch being built, once fewer than
// MaxInFlightBatches are in flight. It returns false when the receiver is
// shutting down.
func (t *Tailer) handOff(ctx context.Context) bool {
	if len(t.inflight) >= t.s.MaxInFlightBatches && !t.settleOldest(ctx) {
		return false // shutting down: what was read is read again next time
	}
	if ctx.Err() != nil {
		return false
	}
	if t.batch.Empty() {
		return true
	}
	events := t.batch.Len()
	ld, marks := t.batch.Take()
	for _, m := range marks {
		m.File.Delivering++ // keep its descriptor for the seek tag
	}
	d := &delivery{events: events, marks: marks, done: make(chan error, 1)}
	t.inflight = append(t.inflight, d)
	if events == 0 {
		// Only progress (skipped lines, a truncation): nothing to deliver,
		// but it is committed after the batches before it.
		d.done <- nil
		return true
	}
	if t.careful > 0 {
		// Read again after a batch was refused for good: offer it so that
		// a refusal splits it (copies, on this slow path only).
		t.careful -= events
		d.careful = true
		go func() {
			opCtx := t.s.ObsReport.StartLogsOp(ctx)
			res, err := isolate.Deliver(opCtx, t.s.Next, ld, isolate.Options{MaxDepth: t.s.MaxSplitDepth}, t.deadLetter)
			t.s.ObsReport.EndLogsOp(opCtx, metadata.Type.String(), res.Accepted, err)
			d.dead = res.Dead
			d.done <- err
		}()
		return true
	}
	go func() {
		opCtx := t.s.ObsReport.StartLogsOp(ctx)
		err := t.s.Next.ConsumeLogs(opCtx, ld)
		t.s.ObsReport.EndLogsOp(opCtx, metadata.Type.String(), events, err)
		d.done <- err
	}()
	return true
}

// flush delivers the batch being built and waits until every batch in
// flight is settled.
func (t *Tailer) flush(ctx context.Context) bool {
	return t.handOff(ctx) && t.settle(ctx)
}

// settle waits for every batch in flight, oldest first, committing their
// progress. It returns false when the receiver is shutting down.
func (t *Tailer) settle(ctx context.Context) bool {
	for len(t.inflight) > 0 {
		if !t.settleOldest(ctx) {
			return false
		}
	}
	return true
}

// settleOldest waits for the oldest batch in flight and commits the
// progress of the files it read. When the next consumer refused it for
// good, the files are rewound as below and the events read again are
// delivered carefully (t.careful): a refused batch is split until the
// refused events stand alone, and those are dead-lettered, so the others
// are not lost with them. When the next consumer refused it otherwise,
// settleOldest waits for the later batches too, then (after a growing
// backoff) rewinds every file read since the last commit, so the same
// events are read and decoded again in order; the later batches' events
// are delivered again even if they were accepted (duplicates within the
// in-flight window), since committing them would pass the refused ones. A
// refused batch is never offered twice, since the consumers may have
// changed it, and so it need not be read-only (which would make every
// mutating processor copy every batch). settleOldest returns false when
// the receiver is shutting down before the batch was accepted.
func (t *Tailer) settleOldest(ctx context.Context) bool {
	d := t.inflight[0]
	err := <-d.done
	t.inflight = t.inflight[1:]
	for _, m := range d.marks {
		m.File.Delivering--
	}
	switch {
	case err == nil:
		if n := d.events - d.dead; n > 0 {
			t.s.Telemetry.EventsEmitted.Add(ctx, int64(n))
		}
		if d.events > 0 {
			t.backoff = backoffInitial
		}
	case ctx.Err() != nil:
		t.abandon()
		return false
	case consumererror.IsPermanent(err) && !d.careful:
		t.warnf("The next consumer refused a batch for good; reading it again to isolate the events it refuses",
			zap.Int("events", d.events), zap.Error(err))
		abandoned, events := t.abandonCounting()
		t.careful = max(t.careful, 0) + d.events + events
		t.rewind(slices.Concat(d.marks, abandoned))
		return true
	default:
		t.warnf("The next consumer refused events; reading them again",
			zap.Int("events", d.events), zap.Duration("backoff", t.backoff), zap.Error(err))
		abandoned, events := t.abandonCounting()
		if d.careful {
			t.careful = max(t.careful, 0) + d.events + events
		}
		refused := slices.Concat(d.marks, abandoned)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(t.backoff):
		}
		t.backoff = min(2*t.backoff, backoffMax)
		t.rewind(refused)
		return true
	}
	t.commit(ctx, d.marks)
	return true
}

// abandon waits for the later batches in flight without committing them,
// since a batch before them was not accepted, and returns their marks.
func (t *Tailer) abandon() []reader.Mark {
	marks, _ := t.abandonCounting()
	return marks
}

// abandonCounting is abandon that also returns the number of events of
// those batches.
func (t *Tailer) abandonCounting() (marks []reader.Mark, events int) {
	for _, d := range t.inflight {
		events += d.events
		if err := <-d.done; err != nil {
			// Its result no longer matters: the batch is read again.
			t.log.Debug("A batch after a refused one failed too", zap.Error(err))
		}
		for _, m := range d.marks {
			m.File.Delivering--
		}
		marks = append(marks, d.marks...)
	}
	t.inflight = t.inflight[:0]
	return marks, events
}

// deadLetter settles events the next consumer refused for good, alone.
func (t *Tailer) deadLetter(ctx context.Context, ld plog.Logs, reason string, err error) {
	// On a delivery goroutine: the attribute set made by New, not reasonSet.
	t.s.Telemetry.EventsRejected.Add(ctx, int64(ld.LogRecordCount()), t.permanentSet)
	t.s.DeadLetter.Put(ctx, ld, reason, err)
}

// rewind drops the batch being built and moves the files of the refused
// batches and of the one being built back to their committed progress.
func (t *Tailer) rewind(refused []reader.Mark) {
	back := func(f *tracker.File) {
		t.reader.Forget(f) // the read window assumes the old position
		// Progress before the header's end (0 after a truncation) means
		// right after it.
		f.ReadPos, f.SkipScan = max(f.Offset, f.HeaderLen), 0
		f.Scanned = min(f.Scanned, f.Offset) // so the next poll reads it again
	}
	for _, m := range refused {
		back(m.File)
	}
	for _, f := range t.batch.Files() {
		back(f)
	}
	t.batch.Reset()
}

// commit records the progress of the files of a delivered batch.
func (t *Tailer) commit(ctx context.Context, marks []reader.Mark) {
	changed := false
	for _, m := range marks {
		f := m.File
		if f.Gen != m.Gen || m.Pos == f.Offset || f.State != tracker.StateActive {
			continue // started over since (truncated): that progress is void
		}
		f.Offset = m.Pos
		changed = true
		delete(t.stored, f.ID) // the live progress supersedes what was loaded
		fd := f.FD()
		if !t.s.WriteSeekTag || f.TagFull || f.TagReadOnly || f.Gone || fd == nil {
			continue
		}
		err := structuredlog.WriteSeekTag(fd, t.s.SeekTagName, f.Offset)
		switch {
		case errors.Is(err, structuredlog.ErrHeaderFull):
			f.TagFull = true
			t.log.Warn("The seek tag no longer fits in the file's header; "+t.fallback(),
				zap.String("path", f.Path), zap.String("seek_tag_name", t.s.SeekTagName))
		case err != nil:
			t.warnf("Cannot write seek tag", zap.String("path", f.Path), zap.Error(err))
		}
	}
	if changed && ctx.Err() == nil { // when stopping, Stop saves
		t.save(ctx)
	}
}

func (t *Tailer) fallback() string {
	if t.s.Store != nil {
		return "its progress is kept in storage only"
	}
	return "its progress is kept in memory only and will be read again after a restart"
}

// save writes every file's progress to storage, if configured.
func (t *Tailer) save(ctx context.Context) {
	if t.s.Store == nil {
		return
	}
	var entries []checkpoint.Entry
	t.tracker.All(func(f *tracker.File) {
		switch f.State {
		case tracker.StateActive:
			entries = append(entries, checkpoint.Entry{Key: f.Key(), Path: f.Path, Offset: f.Offset})
		case tracker.StateNew:
			if e, ok := t.stored[f.ID]; ok {
				entries = append(entries, e) // not read yet in this run: keep
			}
		}
	})
	if err := t.s.Store.Save(ctx, entries); err != nil {
		t.warnf("Cannot save progress to storage", zap.Error(err))
	}
}

func (t *Tailer) storedOffset(k checkpoint.Key) (int64, bool) {
	e, ok := t.stored[k.ID]
	if !ok || e.Key != k {
		return 0, false
	}
	return e.Offset, true
}

func (t *Tailer) rejectLine(f *tracker.File, reason string, err error) {
	t.s.Telemetry.EventsRejected.Add(context.Background(), 1, t.reasonSet(reason))
	if err == nil {
		return // skipped by message_match_mode: expected, not worth a warning
	}
	t.warnf("Skipping event line", zap.String("path", f.Path), zap.String("reason", reason), zap.Error(err))
}

func (t *Tailer) rejectFile(f *tracker.File, reason string, err error) {
	t.s.Telemetry.FilesRejected.Add(context.Background(), 1, t.reasonSet(reason))
	if reason == reader.ReasonNotStructuredLog {
		// Other files in the folder (the transmitter's own log, …) are
		// expected.
		t.log.Debug("Skipping file that is not a structured log", zap.String("path", f.Path), zap.Error(err))
		return
	}
	t.log.Warn("Skipping file", zap.String("path", f.Path), zap.String("reason", reason), zap.Error(err))
}

func (t *Tailer) reasonSet(reason string) metric.MeasurementOption {
	o, ok := t.reason[reason]
	if !ok {
		o = metadata.ReasonSet(reason)
		t.reason[reason] = o
	}
	return o
}

// warnf logs a warning unless too many were logged lately; the next one
// that gets through says how many were suppressed.
func (t *Tailer) warnf(msg string, fields ...zap.Field) {
	if !t.warn.Allow() {
		t.quiet++
		return
	}
	if t.quiet > 0 {
		fields = append(fields, zap.Int("suppressed_warnings", t.quiet))
		t.quiet = 0
	}
	t.log.Warn(msg, fields...)
}
