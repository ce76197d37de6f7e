package datastorereceiver

import (
	"github.com/courier-otel/courier/internal/deadletter"

	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/courier-otel/courier/internal/storageclient"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/metadata"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/mongo"
)

// Timing of retries: reconnecting to the datastore and redelivering a
// refused batch both back off from 100 ms to 10 s.
const (
	backoffInitial = 100 * time.Millisecond
	backoffMax     = 10 * time.Second
	// tokenTimeout bounds one resume token write, the last one at shutdown
	// included.
	tokenTimeout = 10 * time.Second
)

// errStandby is the status of a replica that waits for the leadership.
var errStandby = errors.New("standby: another replica is reading the datastore")

// datastoreReceiver runs the leader election and, while it leads, one
// session reading the datastore (session.go).
type datastoreReceiver struct {
	cfg  *Config
	set  receiver.Settings
	next consumer.Logs
	log  *zap.Logger

	tel *metadata.Telemetry
	obs *receiverhelper.ObsReport

	host       component.Host
	tokens     *tokenStorage // resume::storage, or nil
	dead       *deadletter.Sink
	statusMu   sync.Mutex
	lastStatus componentstatus.Status
	warnLimit  *rate.Limiter

	cancel context.CancelFunc
	done   chan struct{}
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*datastoreReceiver, error) {
	tel, err := metadata.NewTelemetry(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              cfg.Provider,
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, fmt.Errorf("create obsreport: %w", err)
	}
	return &datastoreReceiver{
		cfg: cfg, set: set, next: next, log: set.Logger, tel: tel, obs: obs,
		warnLimit: rate.NewLimiter(rate.Every(time.Second), 10),
	}, nil
}

// Start checks what can be checked without the datastore (TLS files) and
// starts reading in the background: a datastore that is down is retried,
// never a reason to crash-loop.
func (r *datastoreReceiver) Start(ctx context.Context, host component.Host) error {
	if err := r.check(ctx); err != nil {
		return err
	}
	if id := r.cfg.Resume.Storage; id != nil {
		client, err := storageclient.ForReceiver(ctx, host, *id, r.set.ID)
		if err != nil {
			return fmt.Errorf("resume::storage: %w", err)
		}
		r.tokens = &tokenStorage{client: client, key: "resume_token/" + r.cfg.ClientName}
	}
	dead, err := deadletter.NewSink(r.set.TelemetrySettings, metadata.ScopeName, r.set.ID, "courier.datastore.", r.cfg.DeadLetter)
	if err != nil {
		return err
	}
	r.dead = dead
	r.host = host
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		r.run(runCtx)
	}()
	return nil
}

// check fails Start on settings that can never work.
func (r *datastoreReceiver) check(ctx context.Context) error {
	switch r.cfg.Provider {
	case ProviderPostgreSQL:
		_, err := postgresConfig(ctx, r.cfg)
		return err
	case ProviderMongoDB:
		_, err := mongoConfig(ctx, r.cfg)
		return err
	}
	return nil
}

// Shutdown stops reading, cancels the deliveries in flight (their events
// were not checkpointed: the next reader reads them again), writes the
// last token and gives up the leadership.
func (r *datastoreReceiver) Shutdown(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	<-r.done
	r.cancel = nil
	if err := r.dead.Close(); err != nil {
		r.log.Warn("Closing the dead-letter files", zap.Error(err))
	}
	if r.tokens != nil {
		if err := r.tokens.client.Close(ctx); err != nil {
			return fmt.Errorf("resume::storage: close: %w", err)
		}
		r.tokens = nil
	}
	return nil
}

// run elects, then reads while leading, until shutdown.
func (r *datastoreReceiver) run(ctx context.Context) {
	if !r.cfg.LeaderElection.Enabled {
		r.leading(true)
		r.read(ctx, ctx)
		return
	}
	var lead leader
	defer func() {
		if lead != nil {
			releaseCtx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
			defer cancel()
			_ = lead.Release(releaseCtx)
		}
		r.tel.Leader.Record(context.Background(), 0)
	}()
	backoff := backoffInitial
	for ctx.Err() == nil {
		if lead == nil {
			var err error
			if lead, err = newLeader(ctx, r.cfg, r.log); err != nil {
				r.failed("Cannot set up leader election; retrying", err)
				backoff = sleep(ctx, backoff)
				continue
			}
		}
		r.leading(false)
		lost, err := lead.Acquire(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.failed("Leader election failed; retrying", err)
				backoff = sleep(ctx, backoff)
			}
			continue
		}
		backoff = backoffInitial
		r.log.Info("Leading: reading the datastore", zap.String("client_name", r.cfg.ClientName))
		r.leading(true)
		readCtx, stop := context.WithCancel(ctx)
		go func() {
			select {
			case <-lost:
				r.log.Warn("Lost the leadership; another replica takes over", zap.String("client_name", r.cfg.ClientName))
				stop()
			case <-readCtx.Done():
			}
		}()
		r.read(readCtx, ctx)
		stop()
	}
}

// read runs one session while readCtx lasts: it opens the source (retrying),
// reads batches and hands them over. Deliveries run on runCtx, so that
// batches read before the leadership was lost are still delivered and
// checkpointed.
func (r *datastoreReceiver) read(readCtx, runCtx context.Context) {
	backoff := backoffInitial
	var src source
	for src == nil {
		var err error
		if src, err = openSource(readCtx, r.cfg, r.tokens, r.log); err != nil {
			if readCtx.Err() != nil {
				return
			}
			if errors.Is(err, mongo.ErrNoChangeStreams) {
				// Retrying cannot help: say so once and stop reading.
				r.log.Error("Cannot read the datastore: MongoDB must run as a replica set", zap.Error(err))
				r.report(componentstatus.NewPermanentErrorEvent(err))
				<-readCtx.Done()
				return
			}
			r.tel.SourceErrors.Add(context.Background(), 1)
			r.failed("Cannot open the datastore; retrying", err)
			backoff = sleep(readCtx, backoff)
		}
	}
	s := newSession(r, src)
	defer s.close()
	backoff = backoffInitial
	for readCtx.Err() == nil {
		b, err := src.next(readCtx, r.cfg.MaxBatchEvents)
		if err != nil {
			if readCtx.Err() != nil {
				return
			}
			r.tel.SourceErrors.Add(context.Background(), 1)
			r.failed("Cannot read the datastore; retrying", err)
			backoff = sleep(readCtx, backoff)
			continue
		}
		backoff = backoffInitial
		r.report(componentstatus.NewEvent(componentstatus.StatusOK))
		if b.len() > 0 && !s.handOff(readCtx, runCtx, b) {
			return
		}
	}
}

// leading records whether this replica reads now.
func (r *datastoreReceiver) leading(yes bool) {
	if yes {
		r.tel.Leader.Record(context.Background(), 1)
		r.report(componentstatus.NewEvent(componentstatus.StatusOK))
		return
	}
	r.tel.Leader.Record(context.Background(), 0)
	r.report(componentstatus.NewRecoverableErrorEvent(errStandby))
}

// failed logs (rate-limited) and reports a recoverable error.
func (r *datastoreReceiver) failed(msg string, err error) {
	r.warn(msg, zap.Error(err))
	r.report(componentstatus.NewRecoverableErrorEvent(err))
}

// report sends a status event when the status changes.
func (r *datastoreReceiver) report(ev *componentstatus.Event) {
	r.statusMu.Lock()
	changed := ev.Status() != r.lastStatus || ev.Err() != nil
	r.lastStatus = ev.Status()
	r.statusMu.Unlock()
	if changed && r.host != nil {
		componentstatus.ReportStatus(r.host, ev)
	}
}

// warn logs at most a few warnings a second.
func (r *datastoreReceiver) warn(msg string, fields ...zap.Field) {
	if r.warnLimit.Allow() {
		r.log.Warn(msg, fields...)
	}
}

// sleep waits d (or until ctx is done) and returns the next backoff.
func sleep(ctx context.Context, d time.Duration) time.Duration {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return min(2*d, backoffMax)
}
