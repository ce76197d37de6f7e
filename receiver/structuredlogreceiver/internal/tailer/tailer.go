// Package tailer runs the receiver's poll loop: it matches files, reads new
// complete lines into batches, delivers each batch downstream (retrying
// until it is accepted) and then commits the files' progress. See design.md
// beside the receiver for the algorithm.
package tailer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/courier-otel/courier/internal/deadletter"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/checkpoint"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/fileid"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/matcher"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/metadata"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/reader"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/tracker"
)

// ReasonPermanent labels events a downstream consumer refused with a
// permanent error: retrying cannot help, so they are counted and skipped.
const ReasonPermanent = "permanent_error"

// Timing of retries. Busy is how soon a file whose lock a writer held is
// tried again; the backoff applies to downstream errors.
const (
	retryBusy      = 10 * time.Millisecond
	backoffInitial = 100 * time.Millisecond
	backoffMax     = 10 * time.Second
)

// MaxBatchBytes bounds the event line bytes in one batch, so that
// max_batch_events large events cannot take unbounded memory; a single
// event up to max_event_size always fits.
const MaxBatchBytes = 16 << 20

// Settings configures a Tailer.
type Settings struct {
	Matcher            *matcher.Matcher
	PollInterval       time.Duration
	MaxBatchEvents     int
	MaxInFlightBatches int
	MaxConcurrentFiles int
	SeekTagName        string
	WriteSeekTag       bool
	// Reader is the reader's configuration; the tailer fills in the
	// callbacks.
	Reader reader.Config
	// Store, if not nil, keeps progress in a storage extension.
	Store *checkpoint.Store
	// MaxSplitDepth bounds the halvings of a batch refused for good.
	MaxSplitDepth int
	// DeadLetter takes the events refused for good, alone.
	DeadLetter *deadletter.Sink

	Next      consumer.Logs
	Logger    *zap.Logger
	Telemetry *metadata.Telemetry
	ObsReport *receiverhelper.ObsReport
	// FolderStatus, if set, is told after every poll whether the folders
	// of the patterns can be read: nil, or why not.
	FolderStatus func(error)
}

// Tailer reads the matched files and delivers their events.
type Tailer struct {
	s       Settings
	log     *zap.Logger
	tracker *tracker.Tracker
	reader  *reader.Reader
	batch   *reader.Batch

	// stored is the progress loaded from storage by identity, kept until
	// the file is read (then its live progress replaces it) or forgotten.
	stored map[fileid.ID]checkpoint.Entry

	polls uint64
	busy  bool
	wake  chan struct{}
	warn  *rate.Limiter
	quiet int // warnings suppressed since the last one
	// inflight are the batches being delivered, oldest first.
	inflight []*delivery
	// backoff is the wait before the next delivery after a refused one.
	backoff time.Duration
	// careful is the number of events, read again after a batch was
	// refused for good, still to be delivered by isolate.Deliver.
	careful int
	reason  map[string]metric.MeasurementOption
	// permanentSet is the reason set of events refused for good.
	permanentSet metric.MeasurementOption

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Tailer; Start runs it.
func New(s Settings) *Tailer {
	t := &Tailer{
		s:       s,
		log:     s.Logger,
		batch:   reader.NewBatch(s.MaxBatchEvents, MaxBatchBytes),
		wake:    make(chan struct{}, 1),
		warn:    rate.NewLimiter(rate.Every(time.Second), 10),
		backoff: backoffInitial,
		reason:  make(map[string]metric.MeasurementOption),
		stored:  make(map[fileid.ID]checkpoint.Entry),
	}
	t.permanentSet = metadata.ReasonSet(ReasonPermanent)
	t.tracker = tracker.New(s.MaxConcurrentFiles, s.WriteSeekTag, tracker.Counters{
		Tracked: func(delta int) { s.Telemetry.FilesTracked.Add(context.Background(), int64(delta)) },
		Open:    func(delta int) { s.Telemetry.FilesOpen.Add(context.Background(), int64(delta)) },
	})
	rc := s.Reader
	rc.Stored = t.storedOffset
	rc.OnRejectLine = t.rejectLine
	rc.OnRejectFile = t.rejectFile
	t.reader = reader.New(rc)
	return t
}

// Start loads stored progress and starts polling and watching.
func (t *Tailer) Start(ctx context.Context) error {
	if t.s.Store != nil {
		entries, err := t.s.Store.Load(ctx)
		if err != nil {
			// Never crash-loop on bad state: fall back to seek tags and start_at.
			t.log.Warn("Ignoring the progress kept in storage", zap.Error(err))
		}
		for _, e := range entries {
			t.stored[e.Key.ID] = e
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	dirs := t.s.Matcher.Dirs()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.run(runCtx)
	}()
	if err := t.watch(runCtx, dirs); err != nil {
		t.log.Warn("File-system notifications unavailable; relying on poll_interval", zap.Error(err))
	}
	return nil
}

// Stop ends polling, closes every file and saves progress. Events read but
// not yet accepted downstream are not committed: they are read again on the
// next start (the in-flight window).
func (t *Tailer) Stop() {
	if t.cancel == nil {
		return
	}
	t.cancel()
	t.wg.Wait()
	t.cancel = nil
	t.save(context.Background())
	t.tracker.All(func(f *tracker.File) { t.tracker.Forget(f) })
}

// wakeUp asks for a poll now.
func (t *Tailer) wakeUp() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *Tailer) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	// On the way out, wait for the deliveries in flight (their context is
	// cancelled, so a consumer waiting for a result returns at once): the
	// accepted batches before the first unaccepted one still have their
	// seek tags written (Stop then saves to storage).
	defer t.settle(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-t.wake:
		}
		t.poll(ctx)
		delay := t.s.PollInterval
		if t.busy {
			delay = min(delay, retryBusy)
		}
		timer.Reset(delay)
	}
}

// poll runs one poll cycle: match, read, deliver, commit, forget.
func (t *Tailer) poll(ctx context.Context) {
	t.polls++
	t.busy = false
	first := t.polls == 1
	if t.s.FolderStatus != nil {
		t.s.FolderStatus(t.checkFolders())
	}
	for _, m := range t.scan() {
		f := t.tracker.Get(m.info.ID)
		switch {
		case f == nil:
			f = t.tracker.Add(m.info.ID, m.path, first, m.info.Size)
			t.log.Debug("Tracking file", zap.String("path", m.path))
		case f.Seen == t.polls:
			continue // a second name (hard link) for a file already matched
		case f.Path != m.path:
			t.log.Debug("File renamed", zap.String("from", f.Path), zap.String("to", m.path))
			f.SetPath(m.path)
		}
		f.Seen, f.Missed, f.Size, f.Mtime = t.polls, 0, m.info.Size, m.info.Mtime
	}

	var work []*tracker.File
	t.tracker.All(func(f *tracker.File) {
		if f.Seen != t.polls {
			f.Missed++
			t.checkUnmatched(f)
		}
		if t.pending(f) {
			work = append(work, f)
		}
	})
	// Files already being read go first, oldest (by header time) first, so
	// a rotated file is finished before its successor is started; then new
	// files, least recently modified first, so that files rotated several
	// times between two polls are also read in the order they were written.
	slices.SortFunc(work, func(a, b *tracker.File) int {
		aa, ba := a.State == tracker.StateActive, b.State == tracker.StateActive
		switch {
		case aa && !ba:
			return -1
		case !aa && ba:
			return 1
		case aa:
			return cmp.Or(cmp.Compare(a.HeaderTime, b.HeaderTime), cmp.Compare(a.Path, b.Path))
		}
		return cmp.Or(cmp.Compare(a.Mtime, b.Mtime), cmp.Compare(a.Path, b.Path))
	})
	// A file that cannot be read to its end now (a writer holds its lock)
	// holds back the later files of its family, so that a rotated file's
	// last lines are never delivered after its successor's first ones.
	var blocked map[string]bool
	for _, f := range work {
		if ctx.Err() != nil {
			return
		}
		if blocked[f.Family] {
			t.busy = true
			continue
		}
		done, ok := t.readFile(ctx, f)
		if !ok {
			return
		}
		if !done {
			if blocked == nil {
				blocked = make(map[string]bool)
			}
			blocked[f.Family] = true
		}
	}
	if !t.flush(ctx) {
		return
	}
	t.s.Telemetry.BytesRead.Add(ctx, t.reader.TakeBytes())
	t.age()
}

// checkFolders opens every folder of the patterns: a folder the receiver
// may not read would otherwise just match nothing, silently. A folder that
// does not exist is no error (no application has written there yet).
func (t *Tailer) checkFolders() error {
	var errs []error
	for _, dir := range t.s.Matcher.Dirs() {
		d, err := os.Open(dir)
		if err == nil {
			_, err = d.Readdirnames(1)
			_ = d.Close() // read-only: nothing to lose
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("cannot read the folder %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

type match struct {
	path string
	info fileid.Info
}

// scanAttempts bounds how often a scan is repeated while files keep moving.
const scanAttempts = 5

// scan lists the matching files. Reading a folder is not atomic: a file
// renamed meanwhile (X.log → X.1.log during a rotation) can be missed while
// its successor is listed. A missed file the tracker knows is still read
// through its descriptor, but a missed new one would be read after its
// successor; so when a scan finds a new file, the folder is read again, and
// the scan is only used once two in a row agree.
func (t *Tailer) scan() []match {
	ms := t.scanOnce()
	for range scanAttempts - 1 {
		if !slices.ContainsFunc(ms, func(m match) bool { return t.tracker.Get(m.info.ID) == nil }) {
			break
		}
		again := t.scanOnce()
		same := slices.EqualFunc(ms, again, func(a, b match) bool { return a.path == b.path && a.info.ID == b.info.ID })
		ms = again
		if same {
			break
		}
	}
	return ms
}

func (t *Tailer) scanOnce() []match {
	paths := t.s.Matcher.Match()
	ms := make([]match, 0, len(paths))
	for _, path := range paths {
		info, err := fileid.Stat(path)
		if err != nil || !info.Regular {
			continue // gone since the folder was read, or not a file
		}
		ms = append(ms, match{path: path, info: info})
	}
	return ms
}

// checkUnmatched looks, through its descriptor, at a file the poll did not
// match: renamed out of the patterns or deleted, it can still be read to its
// end.
func (t *Tailer) checkUnmatched(f *tracker.File) {
	fd := f.FD()
	if fd == nil {
		return
	}
	info, err := fileid.Fstat(fd)
	if err != nil {
		return
	}
	f.Size, f.Gone = info.Size, info.Nlink == 0
}

// pending reports whether f may have something to read.
func (t *Tailer) pending(f *tracker.File) bool {
	if f.Seen != t.polls && f.FD() == nil {
		return false // unmatched and closed: nothing can be read
	}
	switch f.State {
	case tracker.StateRejected:
		return false
	case tracker.StateNew:
		return f.Size != f.Scanned
	}
	// A closed file that changed in any way may be another file on the
	// same inode (see tracker.File.ClosedMtime): reopening checks it.
	return f.Size != f.Scanned || f.ReadPos > f.Size || f.FD() == nil && f.Mtime != f.ClosedMtime
}

// readFile reads f until it has nothing more or the poll must stop. done
// is false when f could not be read to its end (busy, or an error); ok is
// false when the receiver is shutting down.
func (t *Tailer) readFile(ctx context.Context, f *tracker.File) (done, ok bool) {
	for {
		fd := f.FD()
		if fd == nil {
			if f.Seen != t.polls {
				return true, true
			}
			var err error
			fd, err = t.tracker.Open(f)
			if errors.Is(err, tracker.ErrAllBusy) {
				if !t.flush(ctx) {
					return false, false
				}
				continue
			}
			if err != nil {
				if errors.Is(err, os.ErrPermission) && !f.OpenWarned {
					f.OpenWarned = true
					t.log.Warn("Cannot open file; trying again every poll", zap.String("path", f.Path), zap.Error(err))
				} else {
					t.log.Debug("Cannot open file; trying again next poll", zap.String("path", f.Path), zap.Error(err))
				}
				return false, true
			}
			f.OpenWarned = false
		}
		st, err := t.reader.Read(fd, f, t.batch)
		if err != nil {
			t.warnf("Cannot read file; trying again next poll", zap.String("path", f.Path), zap.Error(err))
			return false, true
		}
		switch st {
		case reader.StatusFull:
			if !t.handOff(ctx) {
				return false, false
			}
			continue
		case reader.StatusBusy:
			t.busy = true
			return false, true
		case reader.StatusRejected, reader.StatusWait:
			t.reader.Forget(f)
			t.tracker.Close(f)
		}
		if f.State == tracker.StateActive && f.TagReadOnly && t.s.WriteSeekTag && !f.TagFull {
			f.TagFull = true // warn once
			t.log.Warn("Cannot write seek tags to a read-only file; "+t.fallback(),
				zap.String("path", f.Path))
		}
		return true, true
	}
}

// age forgets files the poll did not match: at once when they are deleted
// and read to the end, else after a few polls. Their descriptors stay open
// until then: besides keeping a renamed-away file readable, an open
// descriptor keeps the inode from being reused by a new file that would
// then pass for the old one.
func (t *Tailer) age() {
	t.tracker.All(func(f *tracker.File) {
		if f.Seen == t.polls {
			return
		}
		done := f.Done() && f.SkipScan == 0
		if f.Gone && done || f.Missed >= tracker.ForgetAfter && (done || f.FD() == nil) {
			t.log.Debug("Forgetting file", zap.String("path", f.Path))
			t.reader.Forget(f)
			t.tracker.Forget(f)
			delete(t.stored, f.ID)
		}
	})
}
