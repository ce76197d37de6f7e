package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// LeaderConfig tunes the election. Zero values take the defaults.
type LeaderConfig struct {
	// RenewInterval is how often the leader renews its lease and a
	// standby looks at it. Default 2s.
	RenewInterval time.Duration
	// LeaseDuration is how long a lease must stay unrenewed before a
	// standby takes it over; more than twice RenewInterval. Default 10s: a
	// standby leads within LeaseDuration + 2×RenewInterval of the leader's
	// death.
	LeaseDuration time.Duration
	// Collection holds the lease document; default Config.TokenCollection,
	// where NVSentinel's token documents live (it reads them by clientName
	// only, and the lease document has none).
	Collection string
	// Identity names this replica in the lease; default host name, process
	// id and a random suffix.
	Identity string
}

// Election defaults.
const (
	DefaultRenewInterval = 2 * time.Second
	DefaultLeaseDuration = 10 * time.Second
)

// LeaseID is the _id of the lease document of a client name.
func LeaseID(clientName string) string { return "courier-lease/" + clientName }

// Leader elects one reader among the replicas of a receiver with a lease
// document {_id: LeaseID(ClientName), holder, version, renewedAt}. See
// elector for the algorithm: no replica compares its clock with another's.
// A leader cut off from MongoDB gives the lease up on its own before a
// standby can take it; a leader killed with -9 is replaced within
// LeaseDuration + 2×RenewInterval.
type Leader struct {
	opts     *options.ClientOptions
	uri      string // for redaction only
	db, coll string
	id       string
	lc       LeaderConfig
	logger   *zap.Logger
	warn     rate.Sometimes
	// reach, if set, hears whether each attempt reached MongoDB (nil) or
	// not: a standby that cannot reach it could not take over.
	reach func(error)

	mu      sync.Mutex // guards all below against Release
	client  *mongo.Client
	e       elector
	holding bool
	cancel  context.CancelFunc // stops the renewal goroutine
	done    chan struct{}
}

// NewLeader prepares an election for cfg.ClientName in cfg's database.
func NewLeader(cfg Config, lc LeaderConfig, logger *zap.Logger) (*Leader, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if lc.RenewInterval <= 0 {
		lc.RenewInterval = DefaultRenewInterval
	}
	if lc.LeaseDuration <= 0 {
		lc.LeaseDuration = DefaultLeaseDuration
	}
	if lc.LeaseDuration <= 2*lc.RenewInterval {
		return nil, fmt.Errorf("leader: lease duration %v must be more than twice the renew interval %v", lc.LeaseDuration, lc.RenewInterval)
	}
	if lc.Collection == "" {
		lc.Collection = cfg.TokenCollection
	}
	if lc.Identity == "" {
		lc.Identity = defaultIdentity()
	}
	opts, err := cfg.clientOptions()
	if err != nil {
		return nil, err
	}
	return &Leader{
		opts:   opts,
		uri:    cfg.URI,
		db:     cfg.Database,
		coll:   lc.Collection,
		id:     LeaseID(cfg.ClientName),
		lc:     lc,
		logger: logger,
		warn:   rate.Sometimes{Interval: time.Minute},
		e:      elector{id: lc.Identity, duration: lc.LeaseDuration, renew: lc.RenewInterval},
	}, nil
}

func defaultIdentity() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Identity is the name this replica holds the lease under.
func (l *Leader) Identity() string { return l.lc.Identity }

// Acquire blocks until this replica holds the lease or ctx is done. The
// returned channel is closed when leadership is lost (taken over, or not
// renewed in time); call Acquire again to stand for election once more.
// Release gives leadership up; cancel Acquire's context before calling it.
func (l *Leader) Acquire(ctx context.Context) (lost <-chan struct{}, err error) {
	for {
		lost, err := l.attempt(ctx)
		if lost != nil || err != nil {
			return lost, err
		}
		t := time.NewTimer(l.lc.RenewInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// OnReachability makes every attempt tell f whether it reached MongoDB
// (nil) or why not. Call it before Acquire.
func (l *Leader) OnReachability(f func(error)) { l.reach = f }

// attempt tries once; it returns a channel when the lease is now held.
func (l *Leader) attempt(ctx context.Context) (<-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holding {
		return nil, errors.New("acquire leadership: already leading")
	}
	st, err := l.store()
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, l.lc.LeaseDuration)
	won, err := l.e.tryAcquire(actx, st, time.Now)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		l.warn.Do(func() {
			l.logger.Warn("Leader election: cannot reach MongoDB, retrying", zap.String("hosts", hosts(l.opts)), zap.Error(redactErr(err, l.uri)))
		})
		if l.reach != nil {
			l.reach(redactErr(err, l.uri))
		}
		return nil, nil
	}
	if l.reach != nil {
		l.reach(nil)
	}
	if !won {
		return nil, nil
	}
	l.logger.Info("Leadership acquired", zap.String("lease", l.id), zap.String("identity", l.lc.Identity))
	lost := make(chan struct{})
	rctx, stop := context.WithCancel(context.Background())
	l.holding, l.cancel, l.done = true, stop, make(chan struct{})
	go l.renew(rctx, st, l.done, lost)
	return lost, nil
}

func (l *Leader) store() (leaseStore, error) {
	if l.client == nil {
		c, err := mongo.Connect(l.opts)
		if err != nil {
			return nil, fmt.Errorf("leader: connect to %s: %w", hosts(l.opts), err)
		}
		l.client = c
	}
	coll := l.client.Database(l.db).Collection(l.coll, options.Collection().
		SetReadPreference(readpref.Primary()).
		SetReadConcern(readconcern.Majority()).
		SetWriteConcern(writeconcern.Majority()))
	return mongoLeases{coll: coll, id: l.id, duration: l.lc.LeaseDuration}, nil
}

// renew keeps the lease until ctx is cancelled (Release) or it is lost.
func (l *Leader) renew(ctx context.Context, st leaseStore, done, lost chan struct{}) {
	defer close(done)
	t := time.NewTimer(l.lc.RenewInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := l.e.renewLease(ctx, st, time.Now)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errLeaseLost) {
			l.logger.Warn("Leadership lost: the lease was taken over or could not be renewed in time",
				zap.String("lease", l.id))
			l.mu.Lock()
			l.holding = false
			l.mu.Unlock()
			close(lost)
			return
		}
		if err != nil {
			l.warn.Do(func() { l.logger.Warn("Lease renewal failed, retrying", zap.Error(redactErr(err, l.uri))) })
		}
		// Wake at the next renewal, or at the deadline to give up in time.
		t.Reset(max(0, min(l.lc.RenewInterval, time.Until(l.e.deadline()))))
	}
}

// Release gives up leadership (if held), freeing the lease for a standby
// at once, and closes the connection.
func (l *Leader) Release(ctx context.Context) error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel, l.done = nil, nil
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.holding {
		l.holding = false
		if st, serr := l.store(); serr == nil {
			if rerr := l.e.release(ctx, st); rerr != nil {
				err = redactErr(fmt.Errorf("release lease %s: %w", l.id, rerr), l.uri)
			}
		}
	}
	if l.client != nil {
		_ = l.client.Disconnect(ctx)
		l.client = nil
	}
	return err
}

// mongoLeases is the lease document.
type mongoLeases struct {
	coll     *mongo.Collection
	id       string
	duration time.Duration
}

func (m mongoLeases) load(ctx context.Context) (lease, bool, error) {
	raw, err := m.coll.FindOne(ctx, bson.D{{Key: "_id", Value: m.id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return lease{}, false, nil
	}
	if err != nil {
		return lease{}, false, fmt.Errorf("read lease %s: %w", m.id, err)
	}
	var l lease
	l.Holder, _ = raw.Lookup("holder").StringValueOK()
	l.Version, _ = raw.Lookup("version").AsInt64OK()
	return l, true, nil
}

func (m mongoLeases) fields(l lease) bson.D {
	// renewedAt (the writer's clock) and leaseDurationMs are for people
	// looking at the document; the election does not read them.
	return bson.D{
		{Key: "holder", Value: l.Holder},
		{Key: "version", Value: l.Version},
		{Key: "renewedAt", Value: time.Now()},
		{Key: "leaseDurationMs", Value: m.duration.Milliseconds()},
	}
}

func (m mongoLeases) create(ctx context.Context, l lease) (bool, error) {
	_, err := m.coll.InsertOne(ctx, append(bson.D{{Key: "_id", Value: m.id}}, m.fields(l)...))
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create lease %s: %w", m.id, err)
	}
	return true, nil
}

func (m mongoLeases) swap(ctx context.Context, old, new lease) (bool, error) {
	res, err := m.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: m.id}, {Key: "holder", Value: old.Holder}, {Key: "version", Value: old.Version}},
		bson.D{{Key: "$set", Value: m.fields(new)}})
	if err != nil {
		return false, fmt.Errorf("update lease %s: %w", m.id, err)
	}
	return res.MatchedCount == 1, nil
}
