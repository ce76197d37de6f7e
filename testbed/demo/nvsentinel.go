package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courier-otel/courier/internal/pgtest"
)

// nvsentinelMix is how many health events the demo inserts, before the
// collector starts (history: the backfill exports it) and after (live: the
// changelog brings them).
type nvsentinelMix struct {
	History, Live int
	// NoAction of each phase recommend NONE: cel_filter drops them.
	NoAction int
	// Poison events (live) are refused by the sink with 400: dead-lettered.
	Poison int
}

func defaultNVSentinelMix() nvsentinelMix {
	return nvsentinelMix{History: 30, Live: 30, NoAction: 5, Poison: 1}
}

func (m nvsentinelMix) total() int    { return m.History + m.Live }
func (m nvsentinelMix) filtered() int { return 2 * m.NoAction }

// nvsentinelDB is a throwaway PostgreSQL holding NVSentinel's schema.
type nvsentinelDB struct {
	server *pgtest.Server
	dsn    string
}

func startNVSentinelDB(ctx context.Context) (*nvsentinelDB, error) {
	s, err := pgtest.New()
	if err != nil {
		return nil, err
	}
	dsn, err := s.CreateNVSentinelDB(ctx, "nvsentinel")
	if err != nil {
		s.Close()
		return nil, err
	}
	return &nvsentinelDB{server: s, dsn: dsn}, nil
}

func (db *nvsentinelDB) Close() { db.server.Close() }

// insert inserts n health events the way NVSentinel's platform connector
// does, the first noAction of them healthy (recommended action NONE), in
// one transaction, created at createdAt(i) (nil: now, as live events are).
// Before it commits, beforeCommit gets the ids of the last poison events,
// so that the sink knows them before they can arrive.
func (db *nvsentinelDB) insert(ctx context.Context, n, noAction, poison int, createdAt func(i int) time.Time, beforeCommit func(poisonIDs []string) error) error {
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var poisonIDs []string
	for i := 0; i < n; i++ {
		ev := pgtest.SampleEvent(fmt.Sprintf("gpu-node-%02d", i%8))
		at := time.Now()
		if createdAt != nil {
			at = createdAt(i)
		}
		ev.GeneratedTimestamp = &pgtest.Timestamp{Seconds: at.Unix(), Nanos: int32(at.Nanosecond())}
		if i < noAction {
			ev.IsFatal, ev.IsHealthy, ev.RecommendedAction = false, true, 0 // NONE
			ev.Message, ev.ErrorCode = "GPU healthy", nil
		}
		var id string
		if createdAt != nil {
			id, err = pgtest.InsertHealthEventAt(ctx, tx, ev, at)
		} else { // live: created_at is the server's now(), as NVSentinel leaves it
			id, err = pgtest.InsertHealthEvent(ctx, tx, ev)
		}
		if err != nil {
			return err
		}
		if i >= n-poison {
			poisonIDs = append(poisonIDs, id)
		}
	}
	if beforeCommit != nil {
		if err := beforeCommit(poisonIDs); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
