package postgres

import (
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/backlog"

	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// backfillSQL holds the backfill's queries for the configured tables.
//
// The backfill and the live stream split the health events by the id of
// their INSERT changelog row: a row whose insert has an id ≤ handover (or
// has no changelog row at all: history older than the trigger, or cleaned
// up) belongs to the backfill, every other row to the live stream, which
// starts after handover. The anti-join below is that split.
type backfillSQL struct {
	head, start, pageFrom, pageAfter string
}

func newBackfillSQL(c Config) backfillSQL {
	events, changelog := quoteName(c.HealthEventsTable), quoteName(c.ChangelogTable)
	notLive := `NOT EXISTS (SELECT 1 FROM ` + changelog + ` c
	WHERE c.table_name = $3 AND c.record_id = he.id AND c.operation = 'INSERT' AND c.id > $4)`
	page := func(cmp string) string {
		// created_at >= $1 repeats the key's first column so that the
		// created_at index bounds the scan.
		return `SELECT he.id, he.created_at, he.document FROM ` + events + ` he
WHERE he.created_at >= $1 AND (he.created_at, he.id) ` + cmp + ` ($1, $2::uuid) AND ` + notLive + `
ORDER BY he.created_at, he.id LIMIT $5`
	}
	return backfillSQL{
		head: `SELECT id, changed_at FROM ` + changelog + ` ORDER BY id DESC LIMIT 1`,
		// The oldest of the newest MaxEvents backfill rows ($5 = MaxEvents-1).
		start: `SELECT he.created_at, he.id::text FROM ` + events + ` he
WHERE he.created_at >= $1 AND (he.created_at, he.id) >= ($1, $2::uuid) AND ` + notLive + `
ORDER BY he.created_at DESC, he.id DESC OFFSET $5 LIMIT 1`,
		pageFrom:  page(">="),
		pageAfter: page(">"),
	}
}

// nilUUID sorts before every other UUID: (cutoff, nilUUID) is the first
// key at or after cutoff.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// backfill exports history, oldest first, then hands over to the live
// stream at handover.
type backfill struct {
	cfg    BackfillConfig
	sql    backfillSQL
	table  string
	logger *zap.Logger

	started      bool      // handover known and the backfill set fixed
	handover     int64     // the live stream starts after this changelog id
	handoverTime time.Time // its changed_at
	key          BackfillPosition
	inclusive    bool  // the next page includes key itself
	count        int64 // rows read so far, as in the token
	buf          []Row // read, not yet returned
	exhausted    bool  // the last page has been read
	pacer        backlog.Pacer
}

func newBackfill(cfg BackfillConfig, sql backfillSQL, table string, logger *zap.Logger) *backfill {
	b := &backfill{cfg: cfg, sql: sql, table: table, logger: logger}
	b.pacer = backlog.NewPacer(cfg.RateLimit, cfg.BatchSize)
	return b
}

// resume continues a backfill from a token written during it.
func (b *backfill) resume(t Token) {
	b.started = true
	b.handover, b.handoverTime = t.EventID, t.Timestamp
	b.key = t.Backfill
	b.count = t.Backfill.Count
}

// next returns up to max rows, or done once the history is exhausted.
func (b *backfill) next(ctx context.Context, conn *pgx.Conn, max int, pollInterval time.Duration) (rows []Row, done bool, err error) {
	if !b.started {
		if err := b.start(ctx, conn, pollInterval); err != nil {
			return nil, false, err
		}
	}
	if len(b.buf) == 0 {
		if b.exhausted {
			return nil, true, nil
		}
		if err := b.fetch(ctx, conn); err != nil {
			return nil, false, err
		}
		if len(b.buf) == 0 {
			return nil, true, nil
		}
	}
	rows, err = backlog.Take(ctx, b.pacer, &b.buf, max)
	return rows, false, err
}

// start fixes the split between backfill and live stream. handover is the
// highest changelog id visible now. Ids below it may belong to
// transactions still running, whose rows, committed later, must fall on
// the backfill's side: so the backfill waits until every transaction that
// was running when handover was read has ended (a transaction id taken
// after reading handover is older than all of them, see live.go); from
// then on the set of rows with an insert id ≤ handover no longer changes.
func (b *backfill) start(ctx context.Context, conn *pgx.Conn, pollInterval time.Duration) error {
	var (
		now   time.Time
		until uint64
	)
	err := func() error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.Background()) //nolint:errcheck // read-only; ending it is all that matters
		var at *time.Time
		switch err := tx.QueryRow(ctx, b.sql.head).Scan(&b.handover, &at); {
		case errors.Is(err, pgx.ErrNoRows):
			b.handover, b.handoverTime = 0, time.Time{}
		case err != nil:
			return fmt.Errorf("read the changelog's last id: %w", err)
		case at != nil:
			b.handoverTime = at.UTC()
		}
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return err
		}
		if until, err = queryXid8(ctx, tx, `SELECT pg_current_xact_id()::text`); err != nil {
			return fmt.Errorf("assign handover threshold: %w", err)
		}
		return tx.Rollback(ctx)
	}()
	if err != nil {
		return fmt.Errorf("start backfill: %w", err)
	}
	if err := waitForXmin(ctx, conn, until, pollInterval, b.logger); err != nil {
		return fmt.Errorf("start backfill: %w", err)
	}

	b.key = BackfillPosition{ID: nilUUID}
	if b.cfg.MaxAge > 0 {
		b.key.CreatedAt = now.Add(-b.cfg.MaxAge)
	}
	b.inclusive = true
	if b.cfg.MaxEvents > 0 {
		var (
			at time.Time
			id string
		)
		err := conn.QueryRow(ctx, b.sql.start, b.key.CreatedAt, b.key.ID, b.table, b.handover, b.cfg.MaxEvents-1).Scan(&at, &id)
		switch {
		case err == nil:
			b.key = BackfillPosition{CreatedAt: at, ID: id}
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("start backfill: find the oldest of the newest %d events: %w", b.cfg.MaxEvents, err)
		}
	}
	b.started = true
	b.logger.Info("Backfill started",
		zap.Int64("handover_changelog_id", b.handover),
		zap.Time("from", b.key.CreatedAt),
		zap.Int("max_events", b.cfg.MaxEvents))
	return nil
}

// fetch reads the next page after key.
func (b *backfill) fetch(ctx context.Context, conn *pgx.Conn) error {
	limit := b.cfg.BatchSize
	if b.cfg.MaxEvents > 0 {
		limit = min(limit, b.cfg.MaxEvents-int(b.count))
	}
	if limit <= 0 {
		b.exhausted = true
		return nil
	}
	sql := b.sql.pageAfter
	if b.inclusive {
		sql = b.sql.pageFrom
	}
	res, err := conn.Query(ctx, sql, binaryResults, b.key.CreatedAt, b.key.ID, b.table, b.handover, limit)
	if err != nil {
		return fmt.Errorf("read backfill page after %s: %w", b.key.CreatedAt.Format(time.RFC3339Nano), err)
	}
	defer res.Close()
	rows := make([]Row, 0, limit)
	for res.Next() {
		v := res.RawValues()
		r, err := decodeBackfillRow(v)
		if err != nil {
			return fmt.Errorf("read backfill page: %w", err)
		}
		rows = append(rows, r)
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("read backfill page after %s: %w", b.key.CreatedAt.Format(time.RFC3339Nano), err)
	}
	// Only now, with the whole page in hand, does the position move.
	for i := range rows {
		b.count++
		b.key = BackfillPosition{CreatedAt: rows[i].CreatedAt, ID: rows[i].ID, Count: b.count}
		rows[i].Token = Token{EventID: b.handover, Timestamp: b.handoverTime, Backfill: b.key}
	}
	b.inclusive = false
	b.buf = rows
	b.exhausted = len(rows) < limit
	return nil
}

func decodeBackfillRow(v [][]byte) (Row, error) {
	id, err := decodeUUID(v[0])
	if err != nil {
		return Row{}, fmt.Errorf("id: %w", err)
	}
	created, err := decodeTime(v[1])
	if err != nil {
		return Row{}, fmt.Errorf("health event %s: created_at: %w", id, err)
	}
	doc, err := decodeJSONB(v[2])
	if err != nil {
		return Row{}, fmt.Errorf("health event %s: document: %w", id, err)
	}
	return Row{ID: id, CreatedAt: created, Document: doc}, nil
}

// waitForXmin returns once no transaction older than until is running.
func waitForXmin(ctx context.Context, conn *pgx.Conn, until uint64, pollInterval time.Duration, logger *zap.Logger) error {
	const warnAfter = 5 * time.Second
	begin := time.Now()
	warned := false
	delay := 10 * time.Millisecond
	for {
		xmin, err := queryXid8(ctx, conn, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`)
		if err != nil {
			return fmt.Errorf("read snapshot xmin: %w", err)
		}
		if xmin >= until {
			return nil
		}
		if !warned && time.Since(begin) > warnAfter {
			warned = true
			logger.Warn("Backfill waits for transactions that were running when it started to end",
				zap.Uint64("oldest_running_xid", xmin), zap.Uint64("waiting_for_xid_below", until))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, pollInterval)
	}
}
