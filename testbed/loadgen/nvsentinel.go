package loadgen

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courier-otel/courier/internal/pgtest"
)

// NVSentinelConfig says what InsertHealthEvents inserts.
type NVSentinelConfig struct {
	// DSN is the database, which holds NVSentinel's schema (pgtest.Schema).
	DSN string
	// Count is how many events to insert; 0: until the context ends.
	Count int
	// Rate is events per second; 0: as fast as possible.
	Rate float64
	// Batch is how many events one transaction inserts; default 1, as the
	// platform connector does.
	Batch int
	// Node prefixes the node names; default "load-node". Event i is for
	// node Node-i.
	Node string
	// Event, if set, makes event i instead of pgtest.SampleEvent.
	Event func(i int) pgtest.HealthEvent
}

// insertTimeout bounds one transaction: PostgreSQL restarting refuses at
// once, so only a hung server takes this long.
const insertTimeout = 10 * time.Second

// InsertHealthEvents inserts health events the way NVSentinel's platform
// connector does (pgtest.InsertHealthEvent: the trigger writes the
// changelog row and sends the NOTIFY) until cfg.Count are committed or ctx
// ends, and tells rec of each event (its health_events.id) with the time
// its transaction committed. A failed transaction (PostgreSQL restarting)
// is retried on a new connection, as the platform connector would; a
// commit whose outcome is unknown (the connection broke during COMMIT) is
// retried too, so such events may be in the database without being
// recorded (Result.Unrecorded in package scenario). It returns an error only when ctx ends before the first
// connection.
func InsertHealthEvents(ctx context.Context, cfg NVSentinelConfig, rec Recorder) error {
	if cfg.Batch <= 0 {
		cfg.Batch = 1
	}
	if cfg.Node == "" {
		cfg.Node = "load-node"
	}
	if cfg.Event == nil {
		cfg.Event = func(i int) pgtest.HealthEvent { return pgtest.SampleEvent(cfg.Node + "-" + strconv.Itoa(i)) }
	}
	conn, err := pgx.Connect(ctx, cfg.DSN)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	p := newPacer(cfg.Rate)
	ids := make([]string, 0, cfg.Batch)
	for i := 0; cfg.Count == 0 || i < cfg.Count; {
		if err := p.wait(ctx, i); err != nil {
			return nil // the context ended: done
		}
		n := cfg.Batch
		if cfg.Count > 0 {
			n = min(n, cfg.Count-i)
		}
		// The context ends the load between transactions, not during
		// one: an insert cut short could commit without being recorded.
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), insertTimeout)
		ids, err = insertBatch(ictx, conn, cfg.Event, i, n, ids[:0])
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			_ = conn.Close(context.Background())
			if conn, err = reconnect(ctx, cfg.DSN); err != nil {
				return nil // the context ended while PostgreSQL was away
			}
			continue
		}
		at := time.Now()
		for _, id := range ids {
			rec.Written(id, at)
		}
		i += n
	}
	return nil
}

// insertBatch inserts events first … first+n-1 in one transaction and
// appends their ids to ids. One event is inserted on its own, as the
// platform connector does: one round trip instead of three.
func insertBatch(ctx context.Context, conn *pgx.Conn, event func(int) pgtest.HealthEvent, first, n int, ids []string) ([]string, error) {
	if n == 1 {
		id, err := pgtest.InsertHealthEvent(ctx, conn, event(first))
		if err != nil {
			return ids, err
		}
		return append(ids, id), nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return ids, err
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // a no-op after Commit
	for k := range n {
		id, err := pgtest.InsertHealthEvent(ctx, tx, event(first+k))
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, tx.Commit(ctx)
}

// reconnect connects again, every 50 ms, until it succeeds or ctx ends.
func reconnect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	for {
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
