package datastorereceiver

import (
	"github.com/courier-otel/courier/internal/deadletter"

	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/courier-otel/courier/internal/componenttel"
	"github.com/courier-otel/courier/internal/health"
	"github.com/courier-otel/courier/internal/storageclient"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/metadata"
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

// datastoreReceiver runs the leader election and, while it leads, one
// session reading the datastore (session.go).
type datastoreReceiver struct {
	cfg  *Config
	set  receiver.Settings
	next consumer.Logs
	log  *zap.Logger

	tel *metadata.Telemetry
	obs *receiverhelper.ObsReport

	host      component.Host
	tokens    *tokenStorage // resume::storage, or nil
	dead      *deadletter.Sink
	status    *health.Reporter
	warnLimit *rate.Limiter

	cancel context.CancelFunc
	done   chan struct{}
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*datastoreReceiver, error) {
	tel, err := metadata.NewTelemetry(componenttel.Receiver(set))
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
		status:    health.New(componenttel.Receiver(set)),
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
	r.status.Start(host)
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
			if l, ok := lead.(interface{ OnReachability(func(error)) }); ok {
				l.OnReachability(r.standbyReach)
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
	r.status.State(health.StateConnecting)
	for src == nil {
		var err error
		if src, err = openSource(readCtx, r.cfg, r.tokens, r.log); err != nil {
			if readCtx.Err() != nil {
				return
			}
			if msg, ok := permanent(err); ok {
				// Retrying cannot help: say so once and stop reading.
				r.status.Permanent(msg, err)
				<-readCtx.Done()
				return
			}
			r.tel.SourceErrors.Add(context.Background(), 1)
			r.failed("Cannot open the datastore; retrying", err)
			backoff = sleep(readCtx, backoff)
		}
	}
	r.reading()
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
		r.reading()
		if b.len() > 0 && !s.handOff(readCtx, runCtx, b) {
			return
		}
	}
}

// leading records whether this replica reads now. A standby is healthy (it
// serves by taking over), so its status is OK, in state standby.
func (r *datastoreReceiver) leading(yes bool) {
	if yes {
		// The status follows from read: connecting, then leading.
		r.tel.Leader.Record(context.Background(), 1)
		return
	}
	r.tel.Leader.Record(context.Background(), 0)
	r.status.State(health.StateStandby)
}

// standbyReach is told, on every attempt of a replica waiting for the
// lease, whether it reached the datastore: a standby that cannot could not
// take over, a recoverable error (the election logs it).
func (r *datastoreReceiver) standbyReach(err error) {
	if msg, ok := permanent(err); ok {
		r.status.Permanent(msg, err)
		return
	}
	if err != nil {
		r.status.Recoverable(err)
		return
	}
	r.status.State(health.StateStandby)
}

// reading reports that this replica reads the datastore.
func (r *datastoreReceiver) reading() {
	if r.cfg.LeaderElection.Enabled {
		r.status.State(health.StateLeading)
		return
	}
	r.status.OK()
}

// failed logs (rate-limited) and reports a recoverable error: the
// datastore is unreachable or refused a query, and is retried.
func (r *datastoreReceiver) failed(msg string, err error) {
	r.warn(msg, zap.Error(err))
	r.status.Recoverable(err)
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
