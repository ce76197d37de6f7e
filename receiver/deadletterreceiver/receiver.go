package deadletterreceiver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/courier-otel/courier/internal/storageclient"
	"github.com/courier-otel/courier/receiver/deadletterreceiver/internal/metadata"
)

// Why a line was not re-emitted, the reason of events_rejected (besides
// the pkg/cloudevent decoding reasons).
const (
	ReasonNotRecord = "not_record"      // not a dead-letter record (JSON object)
	ReasonNoEvent   = "no_event"        // a record with neither event nor log_record
	ReasonTooLarge  = "too_large"       // longer than max_record_size
	ReasonTruncated = "truncated"       // a last line without its newline, in a finished file
	ReasonPermanent = "permanent_error" // refused for good downstream; it stays in the replayed file
)

// deadLetterReceiver replays the files of one directory, one at a time,
// in name order (per writer, the order they were written).
type deadLetterReceiver struct {
	cfg  *Config
	set  receiver.Settings
	next consumer.Logs
	log  *zap.Logger
	tel  *metadata.Telemetry
	obs  *receiverhelper.ObsReport

	client storage.Client // storage, or nil
	// progress is the offset up to which each unfinished file's events
	// were accepted (or skipped); loaded from storage on first sight.
	progress map[string]int64
	// finished are files replayed in this run whose move failed: never
	// read again while the receiver runs.
	finished map[string]bool
	sets     map[string]metric.MeasurementOption
	warnLim  *rate.Limiter
	backoff  time.Duration

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Backoff after the next consumer refused a batch: the file is read again
// from its last accepted event after this wait, doubling up to the max.
const (
	backoffInitial = 100 * time.Millisecond
	backoffMax     = 10 * time.Second
)

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*deadLetterReceiver, error) {
	tel, err := metadata.NewTelemetry(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: set.ID, Transport: "file", ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, fmt.Errorf("create obsreport: %w", err)
	}
	return &deadLetterReceiver{
		cfg: cfg, set: set, next: next, log: set.Logger, tel: tel, obs: obs,
		progress: map[string]int64{}, finished: map[string]bool{},
		sets:    map[string]metric.MeasurementOption{},
		warnLim: rate.NewLimiter(rate.Every(time.Second), 10),
		backoff: backoffInitial,
	}, nil
}

// Start opens the storage client, if configured, and starts replaying.
func (r *deadLetterReceiver) Start(ctx context.Context, host component.Host) error {
	if r.cfg.Storage != nil {
		client, err := storageclient.ForReceiver(ctx, host, *r.cfg.Storage, r.set.ID)
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		r.client = client
	}
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.run(runCtx)
	}()
	r.log.Info("Replaying dead letters", zap.String("directory", r.cfg.Directory),
		zap.String("pattern", r.cfg.Pattern), zap.Strings("reasons_include", r.cfg.Reasons.Include),
		zap.Strings("reasons_exclude", r.cfg.Reasons.Exclude))
	return nil
}

// Shutdown stops replaying; events handed over but not accepted are
// replayed again after the next start.
func (r *deadLetterReceiver) Shutdown(ctx context.Context) error {
	if r.cancel != nil {
		r.cancel()
		r.wg.Wait()
		r.cancel = nil
	}
	if r.client != nil {
		err := r.client.Close(ctx)
		r.client = nil
		if err != nil {
			return fmt.Errorf("storage: close: %w", err)
		}
	}
	return nil
}

func (r *deadLetterReceiver) run(ctx context.Context) {
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		wait := r.scan(ctx)
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scan replays the matching files in name order. It returns the backoff
// to wait when the next consumer refused a batch (the scan stops there, so
// the files stay in order), or 0.
func (r *deadLetterReceiver) scan(ctx context.Context) time.Duration {
	entries, err := os.ReadDir(r.cfg.Directory)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.warn("Cannot read the dead-letter directory", zap.String("directory", r.cfg.Directory), zap.Error(err))
		}
		return 0
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !r.finished[e.Name()] {
			if ok, _ := filepath.Match(r.cfg.Pattern, e.Name()); ok {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if ctx.Err() != nil {
			return 0
		}
		if err := r.replayFile(ctx, name); err != nil {
			if ctx.Err() != nil {
				return 0
			}
			wait := r.backoff
			r.backoff = min(2*r.backoff, backoffMax)
			r.warn("The next consumer refused replayed events; replaying them again",
				zap.String("file", name), zap.Duration("backoff", wait), zap.Error(err))
			return wait
		}
	}
	return 0
}

// replayFile re-emits the events of one file past its progress, batch by
// batch, moving its progress past each accepted batch, and moves or
// deletes the file once every event was accepted and no writer touched it
// for min_file_age. It returns the error of a refused batch.
func (r *deadLetterReceiver) replayFile(ctx context.Context, name string) error {
	path := filepath.Join(r.cfg.Directory, name)
	start, err := r.offset(ctx, name)
	if err != nil {
		r.warn("Cannot read a file's progress from storage; replaying it from its start", zap.String("file", name), zap.Error(err))
	}
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.warn("Cannot open a dead-letter file", zap.String("file", path), zap.Error(err))
		}
		return nil
	}
	defer func() { _ = f.Close() }()
	rd, err := newFileReader(f, start, r.cfg.MaxRecordSize)
	if err != nil {
		r.warn("Cannot read a dead-letter file", zap.String("file", path), zap.Error(err))
		return nil
	}
	b := newBatch()
	for {
		line, end, err := rd.next()
		if err != nil {
			break // EOF, or a last line without its newline yet
		}
		switch {
		case line.tooLong:
			r.reject(ReasonTooLarge, fmt.Errorf("a record longer than max_record_size (%d bytes) at offset %d", r.cfg.MaxRecordSize, end))
		default:
			reason, rerr := b.add(line.data, r.cfg.wants)
			switch {
			case rerr != nil:
				r.reject(rerr.reason, fmt.Errorf("%s at offset %d: %w", name, end, rerr.err))
			case reason != "":
				r.tel.EventsSkipped.Add(context.Background(), 1, r.set_(reason))
			}
		}
		b.end = end
		if b.events >= r.cfg.MaxBatchEvents {
			if err := r.deliver(ctx, name, b); err != nil {
				return err
			}
			b = newBatch()
		}
	}
	if b.end > 0 || b.events > 0 {
		if err := r.deliver(ctx, name, b); err != nil {
			return err
		}
	}
	r.finish(ctx, name, path, rd)
	return nil
}

// deliver hands b's events over and, once accepted, moves the file's
// progress to b.end.
func (r *deadLetterReceiver) deliver(ctx context.Context, name string, b *batch) error {
	if b.events > 0 {
		opCtx := r.obs.StartLogsOp(ctx)
		err := r.next.ConsumeLogs(opCtx, b.logs)
		r.obs.EndLogsOp(opCtx, metadata.Type.String(), b.events, err)
		switch {
		case err == nil:
			r.tel.EventsReplayed.Add(context.Background(), int64(b.events))
			r.backoff = backoffInitial
		case consumererror.IsPermanent(err):
			// Nothing is lost: the events stay in the file, which is moved
			// to done_directory with the others.
			r.tel.EventsRejected.Add(context.Background(), int64(b.events), r.set_(ReasonPermanent))
			r.warn("The next consumer refused replayed events for good; they stay in the replayed file",
				zap.String("file", name), zap.Int("events", b.events), zap.Error(err))
		default:
			return err
		}
	}
	if b.end > 0 {
		r.saveOffset(ctx, name, b.end)
	}
	return nil
}

// finish moves or deletes a file whose events were all accepted, once no
// writer touched it for min_file_age.
func (r *deadLetterReceiver) finish(ctx context.Context, name, path string, rd *fileReader) {
	st, err := os.Stat(path)
	if err != nil || time.Since(st.ModTime()) < r.cfg.MinFileAge {
		return // gone, or a writer may still append
	}
	if st.Size() != rd.pos {
		if !rd.partial || st.Size() != rd.pos+int64(rd.partialLen) {
			return // written to since it was read: read it again next time
		}
		// A last line never completed (its writer stopped mid-line).
		r.reject(ReasonTruncated, fmt.Errorf("%s: %d bytes at offset %d without a newline", name, rd.partialLen, rd.pos))
	}
	switch r.cfg.AfterReplay {
	case AfterReplayDelete:
		err = os.Remove(path)
	default:
		done := r.cfg.doneDirectory()
		if err = os.MkdirAll(done, 0o750); err == nil {
			err = os.Rename(path, filepath.Join(done, name))
		}
		if err == nil {
			r.trimDone(done)
		}
	}
	if err != nil {
		// Never replay it twice in this run; after a restart it is read
		// again (duplicates of one file).
		r.finished[name] = true
		r.warn("Cannot move or delete a replayed dead-letter file", zap.String("file", path), zap.Error(err))
	}
	syncDir(r.cfg.Directory)
	r.tel.FilesReplayed.Add(context.Background(), 1)
	delete(r.progress, name)
	if r.client != nil {
		if err := r.client.Delete(ctx, storageKey(name)); err != nil {
			r.warn("Cannot delete a file's progress from storage", zap.String("file", name), zap.Error(err))
		}
	}
	r.log.Info("Replayed a dead-letter file", zap.String("file", name), zap.String("after_replay", r.cfg.AfterReplay))
}

// trimDone deletes the oldest files of the done directory (by name: the
// writers' names sort in time order) while they hold more than
// done_max_size bytes.
func (r *deadLetterReceiver) trimDone(done string) {
	if r.cfg.DoneMaxSize == 0 {
		return
	}
	entries, err := os.ReadDir(done)
	if err != nil {
		return
	}
	type file struct {
		name string
		mod  time.Time
		size int64
	}
	var files []file
	var total int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			files = append(files, file{e.Name(), info.ModTime(), info.Size()})
			total += info.Size()
		}
	}
	slices.SortFunc(files, func(a, b file) int { return a.mod.Compare(b.mod) })
	for _, f := range files {
		if total <= r.cfg.DoneMaxSize {
			return
		}
		if err := os.Remove(filepath.Join(done, f.name)); err != nil {
			r.warn("Cannot delete an old replayed file", zap.String("file", f.name), zap.Error(err))
			continue
		}
		total -= f.size
		r.tel.DoneFilesDeleted.Add(context.Background(), 1)
		r.warn("Deleted an old replayed dead-letter file to stay within done_max_size; the records it kept (those not replayed) are gone",
			zap.String("file", f.name), zap.Int64("done_max_size", r.cfg.DoneMaxSize))
	}
}

// syncDir makes a rename durable, so that a crash right after it cannot
// bring a replayed file back.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func storageKey(name string) string { return "offset/" + name }

func (r *deadLetterReceiver) offset(ctx context.Context, name string) (int64, error) {
	if off, ok := r.progress[name]; ok {
		return off, nil
	}
	r.progress[name] = 0
	if r.client == nil {
		return 0, nil
	}
	v, err := r.client.Get(ctx, storageKey(name))
	if err != nil || v == nil {
		return 0, err
	}
	off, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || off < 0 {
		return 0, fmt.Errorf("bad stored offset %q", v)
	}
	r.progress[name] = off
	return off, nil
}

func (r *deadLetterReceiver) saveOffset(ctx context.Context, name string, off int64) {
	r.progress[name] = off
	if r.client == nil {
		return
	}
	if err := r.client.Set(ctx, storageKey(name), []byte(strconv.FormatInt(off, 10))); err != nil {
		r.warn("Cannot save a file's progress to storage", zap.String("file", name), zap.Error(err))
	}
}

func (r *deadLetterReceiver) reject(reason string, err error) {
	r.tel.EventsRejected.Add(context.Background(), 1, r.set_(reason))
	r.warn("Skipping a dead-letter line", zap.String("reason", reason), zap.Error(err))
}

func (r *deadLetterReceiver) set_(reason string) metric.MeasurementOption {
	o, ok := r.sets[reason]
	if !ok {
		o = metadata.ReasonSet(reason)
		r.sets[reason] = o
	}
	return o
}

func (r *deadLetterReceiver) warn(msg string, fields ...zap.Field) {
	if r.warnLim.Allow() {
		r.log.Warn(msg, fields...)
	}
}
