package structuredlogreceiver

import (
	"context"
	"errors"
	"fmt"
	"github.com/courier-otel/courier/internal/deadletter"
	"os"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/courier-otel/courier/internal/componenttel"
	"github.com/courier-otel/courier/internal/health"
	"github.com/courier-otel/courier/internal/storageclient"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/checkpoint"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/lockfile"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/matcher"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/metadata"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/modematch"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/reader"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/tailer"
)

// structuredLogReceiver wires the lock, the storage client and the tailer
// to the collector's lifecycle.
type structuredLogReceiver struct {
	cfg  *Config
	set  receiver.Settings
	next consumer.Logs

	telemetry *metadata.Telemetry
	obsreport *receiverhelper.ObsReport

	locks  []*lockfile.Lock
	client storage.Client
	dead   *deadletter.Sink
	tailer *tailer.Tailer

	status  *health.Reporter
	lockErr error // folders where the single-instance lock could not be taken
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*structuredLogReceiver, error) {
	tel, err := metadata.NewTelemetry(componenttel.Receiver(set))
	if err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "file",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, fmt.Errorf("create obsreport: %w", err)
	}
	return &structuredLogReceiver{cfg: cfg, set: set, next: next, telemetry: tel, obsreport: obs, status: health.New(componenttel.Receiver(set))}, nil
}

// Start takes the single-instance lock in every folder it reads, opens the
// storage client if configured and starts tailing.
func (r *structuredLogReceiver) Start(ctx context.Context, host component.Host) error {
	cfg := r.cfg
	m, err := matcher.New(cfg.Include, cfg.Exclude)
	if err != nil {
		return err
	}
	mode, err := parseMode(cfg.Mode)
	if err != nil {
		return fmt.Errorf("mode: %w", err)
	}
	match, err := modematch.Parse(cfg.MessageMatchMode, mode)
	if err != nil {
		return fmt.Errorf("message_match_mode: %w", err)
	}
	r.status.Start(host)
	if err := r.lock(m.Dirs()); err != nil {
		r.unlock()
		return err
	}
	var store *checkpoint.Store
	if cfg.Storage != nil {
		client, err := storageclient.ForReceiver(ctx, host, *cfg.Storage, r.set.ID)
		if err != nil {
			r.unlock()
			return fmt.Errorf("storage: %w", err)
		}
		r.client = client
		store = checkpoint.New(client)
	}
	dead, err := deadletter.NewSink(r.set.TelemetrySettings, metadata.ScopeName, r.set.ID, "courier.structured_log.", cfg.DeadLetter)
	if err != nil {
		err = errors.Join(err, r.closeClient(ctx))
		r.unlock()
		return err
	}
	r.dead = dead
	r.tailer = tailer.New(tailer.Settings{
		Matcher:            m,
		PollInterval:       cfg.PollInterval,
		MaxBatchEvents:     cfg.MaxBatchEvents,
		MaxInFlightBatches: cfg.MaxInFlightBatches,
		MaxConcurrentFiles: cfg.MaxConcurrentFiles,
		SeekTagName:        cfg.SeekTagName,
		WriteSeekTag:       cfg.WriteSeekTag,
		Reader: reader.Config{
			MaxEventSize: cfg.MaxEventSize,
			SeekTagName:  cfg.SeekTagName,
			ResendEvents: cfg.ResendEvents,
			StartAtEnd:   cfg.StartAt == StartAtEnd,
			Match:        match,
		},
		Store:         store,
		MaxSplitDepth: cfg.MaxSplitDepth,
		DeadLetter:    dead,
		Next:          r.next,
		Logger:        r.set.Logger,
		Telemetry:     r.telemetry,
		ObsReport:     r.obsreport,
		FolderStatus:  r.folderStatus,
	})
	if err := r.tailer.Start(ctx); err != nil {
		r.tailer = nil
		err = errors.Join(err, r.closeClient(ctx), r.dead.Close())
		r.dead = nil
		r.unlock()
		return err
	}
	r.set.Logger.Info("Reading structured logs",
		zap.Strings("include", cfg.Include), zap.Strings("exclude", cfg.Exclude),
		zap.String("seek_tag_name", cfg.SeekTagName), zap.Stringer("message_modes", match))
	return nil
}

// lock takes the single-instance lock of every folder. A folder that does
// not exist yet is created (Omniverse applications create it the same way),
// so the lock and the notifications work from the start; a folder that
// cannot hold a lock file (read-only) only gets a warning.
func (r *structuredLogReceiver) lock(dirs []string) error {
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			r.set.Logger.Warn("Cannot create the log folder; the single-instance lock is not taken there",
				zap.String("folder", dir), zap.Error(err))
			r.lockErr = errors.Join(r.lockErr, fmt.Errorf("cannot create the folder %s for the single-instance lock: %w", dir, err))
			continue
		}
		l, err := lockfile.Acquire(dir, r.cfg.SeekTagName)
		if errors.Is(err, lockfile.ErrHeld) {
			return err
		}
		if err != nil {
			r.set.Logger.Warn("Cannot take the single-instance lock", zap.String("folder", dir), zap.Error(err))
			r.lockErr = errors.Join(r.lockErr, fmt.Errorf("cannot take the single-instance lock in %s: %w", dir, err))
			continue
		}
		r.locks = append(r.locks, l)
	}
	return nil
}

// folderStatus sets the status after a poll: a folder that cannot be read,
// or a single-instance lock that could not be taken, is a recoverable error
// (permissions can be fixed while Courier runs; the folders are read again
// every poll).
func (r *structuredLogReceiver) folderStatus(folders error) {
	if err := errors.Join(folders, r.lockErr); err != nil {
		if r.status.Recoverable(err) && folders != nil {
			r.set.Logger.Warn("Cannot read a log folder; its files are not read until it can be", zap.Error(folders))
		}
		return
	}
	r.status.OK()
}

func (r *structuredLogReceiver) unlock() {
	for _, l := range r.locks {
		if err := l.Release(); err != nil {
			r.set.Logger.Warn("Cannot release lock", zap.Error(err))
		}
	}
	r.locks = nil
}

func (r *structuredLogReceiver) closeClient(ctx context.Context) error {
	if r.client == nil {
		return nil
	}
	err := r.client.Close(ctx)
	r.client = nil
	if err != nil {
		return fmt.Errorf("close storage client: %w", err)
	}
	return nil
}

// Shutdown stops tailing, saves progress and releases the lock. Events read
// but not yet accepted downstream stay uncommitted and are read again after
// the next start.
func (r *structuredLogReceiver) Shutdown(ctx context.Context) error {
	if r.tailer != nil {
		r.tailer.Stop()
		r.tailer = nil
	}
	err := errors.Join(r.closeClient(ctx), r.dead.Close())
	r.dead = nil
	r.unlock()
	return err
}
