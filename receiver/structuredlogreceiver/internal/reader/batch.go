package reader

import (
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/tracker"
)

// Batch collects decoded events, from one or more files, for one
// ConsumeLogs call, and remembers which files it read so that their
// progress can be committed once the batch is delivered.
type Batch struct {
	maxEvents, maxBytes int

	logs    plog.Logs
	records plog.LogRecordSlice
	events  int
	bytes   int
	// spare: the last record is a slot left by a rejected line, to be
	// reused by the next line (records cannot be removed cheaply).
	spare bool
	files []*tracker.File
}

// NewBatch returns an empty batch that is full at maxEvents events or
// maxBytes bytes of event lines, whichever comes first.
func NewBatch(maxEvents, maxBytes int) *Batch {
	b := &Batch{maxEvents: maxEvents, maxBytes: maxBytes}
	b.reset()
	return b
}

func (b *Batch) reset() {
	b.logs = plog.NewLogs()
	b.records = b.logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	b.records.EnsureCapacity(min(b.maxEvents, 1024))
	b.events, b.bytes, b.spare = 0, 0, false
	for _, f := range b.files {
		f.InBatch = false
	}
	b.files = b.files[:0]
}

// Len is the number of events in the batch.
func (b *Batch) Len() int { return b.events }

// Full reports whether no more events may be added.
func (b *Batch) Full() bool { return b.events >= b.maxEvents || b.bytes >= b.maxBytes }

// Files returns the files read into the batch since the last Take, with
// tracker.File.InBatch set.
func (b *Batch) Files() []*tracker.File { return b.files }

// Empty reports whether the batch holds neither events nor progress.
func (b *Batch) Empty() bool { return b.events == 0 && len(b.files) == 0 }

// Mark is where reading of a file stood when a batch was taken: the
// progress to commit once the batch's events are delivered, unless the file
// started over (a new Gen) meanwhile.
type Mark struct {
	File *tracker.File
	Gen  uint64
	Pos  int64
}

// Take hands over the batch's events and the marks of the files it read,
// and empties the batch for the next events.
func (b *Batch) Take() (plog.Logs, []Mark) {
	if b.spare {
		n := b.records.Len() - 1
		i := 0
		b.records.RemoveIf(func(plog.LogRecord) bool { i++; return i > n })
	}
	marks := make([]Mark, len(b.files))
	for i, f := range b.files {
		marks[i] = Mark{File: f, Gen: f.Gen, Pos: f.ReadPos}
	}
	logs := b.logs
	b.reset()
	return logs, marks
}

// Reset drops the batch's events (to be read again).
func (b *Batch) Reset() { b.reset() }

func (b *Batch) touch(f *tracker.File) {
	if !f.InBatch {
		f.InBatch = true
		b.files = append(b.files, f)
	}
}

// slot returns the record the next line is decoded into.
func (b *Batch) slot() plog.LogRecord {
	if b.spare {
		b.spare = false
		lr := b.records.At(b.records.Len() - 1)
		plog.NewLogRecord().MoveTo(lr) // clear what the rejected line left
		return lr
	}
	return b.records.AppendEmpty()
}

// release marks the record from slot as unused.
func (b *Batch) release() { b.spare = true }

// added counts the record from slot as an event of n bytes.
func (b *Batch) added(n int) {
	b.events++
	b.bytes += n
}
