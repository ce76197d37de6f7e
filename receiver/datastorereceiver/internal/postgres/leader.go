package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// DefaultLeaderRetry is how often a standby tries to take the lock, and
// how often the leader checks that its connection (and so its lock) is
// still there.
const DefaultLeaderRetry = 2 * time.Second

// Leader elects one reader among the replicas of a receiver with a
// session-level advisory lock, pg_try_advisory_lock(LockKey(ClientName)),
// held on a connection of its own for as long as it leads. PostgreSQL
// releases the lock when that session ends, so a leader that crashes,
// is killed or is cut off loses it, and a standby takes over within about
// two retry intervals. A leader that loses its connection learns it within
// one retry interval; until then two replicas may both read, which can
// duplicate events but never lose one.
type Leader struct {
	connCfg *pgx.ConnConfig
	key     int64
	retry   time.Duration
	logger  *zap.Logger
	warn    rate.Sometimes
	// reach, if set, hears whether each attempt reached PostgreSQL (nil)
	// or not: a standby that cannot reach it could not take over.
	reach func(error)

	mu   sync.Mutex // guards conn, stop, done against Release
	conn *pgx.Conn
	stop chan struct{}
	done chan struct{}
}

// LockKey is the advisory lock key of a client name: the first 8 bytes of
// FNV-1a-64 of "courier/datastore/" + name. Advisory locks are per
// database, so the same name in two databases does not collide.
func LockKey(clientName string) int64 {
	h := fnv.New64a()
	h.Write([]byte("courier/datastore/" + clientName))
	return int64(h.Sum64())
}

// NewLeader prepares an election for cfg.ClientName in cfg's database;
// retry ≤ 0 means DefaultLeaderRetry.
func NewLeader(cfg Config, retry time.Duration, logger *zap.Logger) (*Leader, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	connCfg, err := cfg.connConfig()
	if err != nil {
		return nil, err
	}
	if retry <= 0 {
		retry = DefaultLeaderRetry
	}
	return &Leader{
		connCfg: connCfg,
		key:     LockKey(cfg.ClientName),
		retry:   retry,
		logger:  logger,
		warn:    rate.Sometimes{Interval: time.Minute},
	}, nil
}

// Acquire blocks until this replica holds the lock or ctx is done. The
// returned channel is closed when leadership is lost (the connection
// failed); call Acquire again to stand for election once more. Release
// gives leadership up; cancel Acquire's context before calling it.
func (l *Leader) Acquire(ctx context.Context) (lost <-chan struct{}, err error) {
	for {
		lost, err := l.attempt(ctx)
		if lost != nil || err != nil {
			return lost, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(l.retry):
		}
	}
}

// OnReachability makes every attempt tell f whether it reached PostgreSQL
// (nil) or why not. Call it before Acquire.
func (l *Leader) OnReachability(f func(error)) { l.reach = f }

// attempt tries once; it returns a channel when the lock is now held.
func (l *Leader) attempt(ctx context.Context) (<-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop != nil {
		return nil, errors.New("acquire leadership: already leading")
	}
	held, err := l.try(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		l.warn.Do(func() { l.logger.Warn("Leader election: cannot reach PostgreSQL, retrying", zap.Error(err)) })
		if l.reach != nil {
			l.reach(err)
		}
		return nil, nil
	}
	if l.reach != nil {
		l.reach(nil)
	}
	if !held {
		return nil, nil
	}
	lost := make(chan struct{})
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.watch(l.conn, l.stop, l.done, lost)
	return lost, nil
}

// try attempts the lock once, connecting first when needed.
func (l *Leader) try(ctx context.Context) (bool, error) {
	if l.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, l.connCfg.Copy())
		if err != nil {
			return false, fmt.Errorf("connect to %s:%d: %w", l.connCfg.Host, l.connCfg.Port, err)
		}
		l.conn = conn
	}
	var held bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&held); err != nil {
		closeQuietly(l.conn)
		l.conn = nil
		return false, fmt.Errorf("try advisory lock %d: %w", l.key, err)
	}
	return held, nil
}

// watch pings the lock's connection every retry interval and closes lost
// when it fails: a session that answers still holds its lock.
func (l *Leader) watch(conn *pgx.Conn, stop, done, lost chan struct{}) {
	defer close(done)
	t := time.NewTicker(l.retry)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.retry)
		err := conn.Ping(ctx)
		cancel()
		if err != nil {
			l.logger.Warn("Leadership lost: the lock's connection failed", zap.Error(err))
			closeQuietly(conn)
			l.mu.Lock()
			if l.conn == conn {
				l.conn = nil
			}
			l.stop, l.done = nil, nil
			l.mu.Unlock()
			close(lost)
			return
		}
	}
}

// Release gives up leadership (if held) and closes the connection.
func (l *Leader) Release(ctx context.Context) error {
	l.mu.Lock()
	stop, done := l.stop, l.done
	l.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stop, l.done = nil, nil
	if l.conn == nil {
		return nil
	}
	var err error
	if _, uerr := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key); uerr != nil {
		err = fmt.Errorf("release advisory lock %d: %w", l.key, uerr)
	}
	closeQuietly(l.conn) // ends the session: the lock goes with it in any case
	l.conn = nil
	return err
}
