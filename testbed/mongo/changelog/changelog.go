// Package changelog records every change FerretDB makes to a collection
// in a PostgreSQL table, in commit order, and reads it back: the oplog of
// the stand-in. Statement triggers with transition tables (attached to each
// of FerretDB's collection tables by an event trigger on CREATE TABLE, and
// at setup to the tables that exist) append one row per changed document,
// under a transaction-scoped advisory lock, so that sequence order is
// commit order; each statement NOTIFYs the readers.
package changelog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Channel is the NOTIFY channel of new entries.
const Channel = "courier_mongo"

// lockKey serialises the writers of the changelog (and the setup).
const lockKey = 7262023017

// setupSQL creates the changelog and its triggers; it is idempotent.
const setupSQL = `
CREATE SCHEMA IF NOT EXISTS courier_mongo;
CREATE SEQUENCE IF NOT EXISTS courier_mongo.seq;
CREATE TABLE IF NOT EXISTS courier_mongo.changelog (
	seq  bigint PRIMARY KEY,
	ts_t bigint NOT NULL,
	ts_i bigint NOT NULL,
	wall timestamptz NOT NULL,
	op   "char" NOT NULL,
	db   text NOT NULL,
	coll text NOT NULL,
	old  text,
	new  text
);
-- The documents are kept as text, the form the readers decode (an oplog
-- keeps what it sends): converting jsonb to text on every read cost more
-- than the rest of a change stream's work. Changelogs of older versions
-- are converted.
DO $do$ BEGIN
	IF (SELECT data_type FROM information_schema.columns
	    WHERE table_schema = 'courier_mongo' AND table_name = 'changelog' AND column_name = 'new') = 'jsonb' THEN
		ALTER TABLE courier_mongo.changelog ALTER COLUMN old TYPE text, ALTER COLUMN new TYPE text;
	END IF;
END $do$;
CREATE INDEX IF NOT EXISTS changelog_ns ON courier_mongo.changelog (db, coll, seq);
-- The retained history: entries up to trimmed are gone; tokens older than
-- (start_t, 0) are too.
CREATE TABLE IF NOT EXISTS courier_mongo.history (
	id      int PRIMARY KEY CHECK (id = 1),
	trimmed bigint NOT NULL,
	start_t bigint NOT NULL
);
INSERT INTO courier_mongo.history VALUES (1, 0, floor(extract(epoch FROM now()))::bigint) ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION courier_mongo.capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
	c  text;
	lt bigint;
	t  bigint;
BEGIN
	EXECUTE format('SELECT _jsonb->>''_id'' FROM %I._ferretdb_database_metadata WHERE _jsonb->>''table'' = $1', TG_TABLE_SCHEMA)
		INTO c USING TG_TABLE_NAME;
	IF c IS NULL THEN
		RETURN NULL;
	END IF;
	-- Held until commit: the next writer takes its sequence numbers after
	-- this transaction is visible, so a reader never sees a gap fill later.
	PERFORM pg_advisory_xact_lock(7262023017);
	SELECT ts_t INTO lt FROM courier_mongo.changelog ORDER BY seq DESC LIMIT 1;
	t := greatest(floor(extract(epoch FROM clock_timestamp()))::bigint, coalesce(lt, 0));
	IF TG_OP = 'INSERT' THEN
		INSERT INTO courier_mongo.changelog
		SELECT s, t, s % 4294967296, clock_timestamp(), 'i', TG_TABLE_SCHEMA, c, NULL, j
		FROM (SELECT nextval('courier_mongo.seq') AS s, _courier_text AS j FROM new_rows) r;
	ELSIF TG_OP = 'UPDATE' THEN
		INSERT INTO courier_mongo.changelog
		SELECT s, t, s % 4294967296, clock_timestamp(), 'u', TG_TABLE_SCHEMA, c, o, j
		FROM (SELECT nextval('courier_mongo.seq') AS s, n._courier_text AS j, o._courier_text AS o
		      FROM new_rows n JOIN old_rows o ON o._jsonb->'_id' = n._jsonb->'_id') r;
	ELSE
		INSERT INTO courier_mongo.changelog
		SELECT s, t, s % 4294967296, clock_timestamp(), 'd', TG_TABLE_SCHEMA, c, o, NULL
		FROM (SELECT nextval('courier_mongo.seq') AS s, _courier_text AS o FROM old_rows) r;
	END IF;
	PERFORM pg_notify('courier_mongo', '');
	RETURN NULL;
END
$fn$;

-- Each collection table gets _courier_text, its documents as text, computed
-- once when a row is written (TextColumn): the changelog and the backfill's
-- finds (package sqlfind) read it, where converting jsonb to text on each
-- read was most of their cost. Adding it to a table that has rows rewrites
-- the table once.
CREATE OR REPLACE FUNCTION courier_mongo.attach_table(tbl regclass) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
	EXECUTE format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS _courier_text text GENERATED ALWAYS AS (_jsonb::text) STORED', tbl);
	EXECUTE format('CREATE OR REPLACE TRIGGER courier_mongo_i AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION courier_mongo.capture()', tbl);
	EXECUTE format('CREATE OR REPLACE TRIGGER courier_mongo_u AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION courier_mongo.capture()', tbl);
	EXECUTE format('CREATE OR REPLACE TRIGGER courier_mongo_d AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION courier_mongo.capture()', tbl);
END
$fn$;

-- FerretDB's collection tables: a _jsonb column, outside the system and
-- our own schemas, not its metadata tables.
CREATE OR REPLACE FUNCTION courier_mongo.is_collection(tbl regclass) RETURNS boolean LANGUAGE sql AS $fn$
	SELECT c.relkind = 'r'
		AND n.nspname NOT IN ('courier_mongo', 'pg_catalog', 'information_schema')
		AND c.relname NOT LIKE '\_ferretdb\_%'
		AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '_jsonb' AND NOT a.attisdropped)
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl
$fn$;

CREATE OR REPLACE FUNCTION courier_mongo.attach() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
		IF courier_mongo.is_collection(r.objid::regclass) THEN
			PERFORM courier_mongo.attach_table(r.objid::regclass);
		END IF;
	END LOOP;
END
$fn$;

DROP EVENT TRIGGER IF EXISTS courier_mongo_attach;
CREATE EVENT TRIGGER courier_mongo_attach ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION courier_mongo.attach();

SELECT courier_mongo.attach_table(c.oid::regclass) FROM pg_class c
WHERE c.relkind = 'r' AND courier_mongo.is_collection(c.oid::regclass);
`

// TextColumn is the column of every collection table that holds its
// document as text (FerretDB's sjson), kept by PostgreSQL on each write.
const TextColumn = "_courier_text"

// Entry is one changed document.
type Entry struct {
	Seq      int64
	T, I     uint32 // cluster time
	Wall     time.Time
	Op       byte // 'i', 'u', 'd'
	DB, Coll string
	Old, New []byte // FerretDB's stored documents (sjson), nil when none
}

// Log reads the changelog.
type Log struct {
	pool *pgxpool.Pool

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on each notification
	cancel  context.CancelFunc
	done    chan struct{}
}

// Open sets the changelog up in the database of dsn (which needs the
// rights to create event triggers: a superuser) and listens for changes.
func Open(ctx context.Context, dsn string) (*Log, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("changelog: connect: %w", err)
	}
	if err := setup(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &Log{pool: pool, changed: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	ready := make(chan error, 1)
	go l.listen(lctx, dsn, ready)
	select {
	case err := <-ready:
		if err != nil {
			l.Close()
			return nil, err
		}
	case <-ctx.Done():
		l.Close()
		return nil, ctx.Err()
	}
	return l, nil
}

func setup(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("changelog: connect: %w", err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(lockKey)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, setupSQL); err != nil {
		return fmt.Errorf("changelog: set up (the user needs to be a superuser to create event triggers): %w", err)
	}
	return tx.Commit(ctx)
}

// listen LISTENs on its own connection, reconnecting, and wakes Wait.
func (l *Log) listen(ctx context.Context, dsn string, ready chan<- error) {
	defer close(l.done)
	first := true
	for ctx.Err() == nil {
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+Channel)
		}
		if first {
			ready <- err
			first = false
		}
		if err == nil {
			l.wake() // changes while not listening
			for {
				if _, err = conn.WaitForNotification(ctx); err != nil {
					break
				}
				l.wake()
			}
		}
		if conn != nil {
			_ = conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (l *Log) wake() {
	l.mu.Lock()
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// Changed returns a channel closed at the next notification: take it
// before reading, then wait on it.
func (l *Log) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// Close stops listening and closes the connections.
func (l *Log) Close() {
	l.cancel()
	<-l.done
	l.pool.Close()
}

// Read returns up to limit entries after seq, of collection coll of db
// (of every collection of db when coll is empty), in order.
func (l *Log) Read(ctx context.Context, db, coll string, after int64, limit int) ([]Entry, error) {
	q := `SELECT seq, ts_t, ts_i, wall, op, db, coll, old, new FROM courier_mongo.changelog
		WHERE db = $1 AND coll = $2 AND seq > $3 ORDER BY seq LIMIT $4`
	args := []any{db, coll, after, limit}
	if coll == "" {
		q = `SELECT seq, ts_t, ts_i, wall, op, db, coll, old, new FROM courier_mongo.changelog
		WHERE db = $1 AND seq > $2 ORDER BY seq LIMIT $3`
		args = []any{db, after, limit}
	}
	rows, err := l.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			e    Entry
			t, i int64
			op   byte
		)
		// NULL scans as a nil slice.
		if err := rows.Scan(&e.Seq, &t, &i, &e.Wall, &op, &e.DB, &e.Coll, &e.Old, &e.New); err != nil {
			return nil, err
		}
		e.T, e.I, e.Op = uint32(t), uint32(i), op
		out = append(out, e)
	}
	return out, rows.Err()
}

// Head is the last entry's position, or the retained history's start
// when the changelog is empty.
type Head struct {
	Seq  int64
	T, I uint32
}

// Head returns the newest position.
func (l *Log) Head(ctx context.Context) (Head, error) {
	var h Head
	var t, i int64
	err := l.pool.QueryRow(ctx, `SELECT seq, ts_t, ts_i FROM courier_mongo.changelog ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &t, &i)
	if errors.Is(err, pgx.ErrNoRows) {
		hist, err := l.History(ctx)
		return Head{Seq: hist.Trimmed, T: hist.StartT}, err
	}
	h.T, h.I = uint32(t), uint32(i)
	return h, err
}

// History is what the changelog still holds: every entry after Trimmed,
// from cluster time (StartT, 0) on.
type History struct {
	Trimmed int64
	StartT  uint32
}

// History returns the retained history's bounds.
func (l *Log) History(ctx context.Context) (History, error) {
	var h History
	var t int64
	err := l.pool.QueryRow(ctx, `SELECT trimmed, start_t FROM courier_mongo.history`).Scan(&h.Trimmed, &t)
	h.StartT = uint32(t)
	return h, err
}

// Trim drops every entry written so far, as an oplog that rolled over: a
// resume token from before now gets ChangeStreamHistoryLost.
func (l *Log) Trim(ctx context.Context) error {
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(lockKey)); err != nil {
		return err
	}
	// The start moves one second on, so that tokens of this second are
	// lost too; the next entries take it as their least time.
	if _, err := tx.Exec(ctx, `UPDATE courier_mongo.history SET
		trimmed = coalesce((SELECT max(seq) FROM courier_mongo.changelog), trimmed),
		start_t = greatest(floor(extract(epoch FROM clock_timestamp()))::bigint,
			coalesce((SELECT max(ts_t) FROM courier_mongo.changelog), 0)) + 1`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM courier_mongo.changelog`); err != nil {
		return err
	}
	// Later entries must not take a cluster time before the new start.
	if _, err := tx.Exec(ctx, `INSERT INTO courier_mongo.changelog
		SELECT nextval('courier_mongo.seq'), start_t, 0, clock_timestamp(), 'n', '', '', NULL, NULL FROM courier_mongo.history`); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// SeqBefore returns the position just before the first entry at or after
// cluster time (t, i), or the head when none is.
func (l *Log) SeqBefore(ctx context.Context, t, i uint32) (int64, error) {
	var seq int64
	err := l.pool.QueryRow(ctx, `SELECT seq FROM courier_mongo.changelog WHERE (ts_t, ts_i) >= ($1, $2) ORDER BY seq LIMIT 1`,
		int64(t), int64(i)).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		h, err := l.Head(ctx)
		return h.Seq, err
	}
	return seq - 1, err
}
