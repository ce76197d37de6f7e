package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// liveSQL holds the live stream's queries for the configured tables.
//
// Every changelog row is read, whatever its table and operation, because
// a missing id must be told apart from a row that is merely of no
// interest; only inserts into health_events carry their record id,
// created_at and document, taken from new_values (the row as inserted,
// which NVSentinel's exporter exports too, and which survives a later
// delete of the health_events row).
type liveSQL struct {
	next, gaps string
}

func newLiveSQL(c Config) liveSQL {
	changelog := quoteName(c.ChangelogTable)
	const cols = `id, changed_at,
	CASE WHEN table_name = $1 AND operation = 'INSERT' THEN record_id END,
	CASE WHEN table_name = $1 AND operation = 'INSERT' THEN (new_values->>'created_at')::timestamptz END,
	CASE WHEN table_name = $1 AND operation = 'INSERT' THEN new_values->'document' END`
	return liveSQL{
		next: `SELECT ` + cols + ` FROM ` + changelog + ` WHERE id > $2 ORDER BY id LIMIT $3`,
		gaps: `SELECT ` + cols + ` FROM unnest($2::int8[], $3::int8[]) AS g(lo, hi)
CROSS JOIN LATERAL (SELECT * FROM ` + changelog + ` WHERE id BETWEEN g.lo AND g.hi ORDER BY id LIMIT $4) c
ORDER BY id LIMIT $4`,
	}
}

// change is one changelog row as read. Every change moves the position;
// only an insert into health_events is also a Row (row ≥ 0).
type change struct {
	id  int64
	at  time.Time
	row int
}

// live reads the changelog in id order and keeps the tracker.
type live struct {
	sql     liveSQL
	table   string // health_events' bare name, as in changelog.table_name
	t       tracker
	changes []change // scratch, reused across polls
	lo, hi  []int64  // scratch for the gap bounds
}

// pollResult is what one poll found.
type pollResult struct {
	rows     []Row
	more     bool // a page came back full: poll again without waiting
	resolved int  // gaps dropped as rolled back
}

// poll runs one read in a REPEATABLE READ snapshot S: the open gaps are
// looked up first, then up to max ids above the cursor. Gaps whose
// threshold is ≤ xmin(S) and that are still missing in S are dropped. If
// the new page skips ids, a transaction id is assigned after S has been
// taken and becomes the new gaps' threshold. Nothing changes unless the
// whole poll succeeds, so a failed poll is simply repeated.
func (l *live) poll(ctx context.Context, conn *pgx.Conn, max int) (pollResult, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return pollResult{}, fmt.Errorf("begin changelog read: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // only on the error paths; the success path checks it

	var (
		rows          []Row
		fills         int
		fillsComplete = true
		xmin          uint64
	)
	l.changes = l.changes[:0]
	if len(l.t.gaps) > 0 {
		l.lo, l.hi = l.t.gapBounds(l.lo, l.hi)
		if fills, err = l.read(ctx, tx, l.sql.gaps, &rows, l.table, l.lo, l.hi, max); err != nil {
			return pollResult{}, fmt.Errorf("look up changelog gaps: %w", err)
		}
		fillsComplete = fills < max
		if xmin, err = queryXid8(ctx, tx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`); err != nil {
			return pollResult{}, fmt.Errorf("read snapshot xmin: %w", err)
		}
	}

	var res pollResult
	room := max - fills
	if room > 0 && !l.t.full() {
		n, err := l.read(ctx, tx, l.sql.next, &rows, l.table, l.t.cursor, room)
		if err != nil {
			return pollResult{}, fmt.Errorf("read changelog after id %d: %w", l.t.cursor, err)
		}
		res.more = n == room
	} else if fills == max {
		res.more = true
	}

	var until uint64
	if skipsIDs(l.changes[fills:], l.t.cursor) {
		// Assigned now, after S: larger than the id of every transaction
		// that got a changelog id before S (NVSentinel's trigger writes the
		// changelog after the health_events row, so a writer has its
		// transaction id before it takes a changelog id).
		if until, err = queryXid8(ctx, tx, `SELECT pg_current_xact_id()::text`); err != nil {
			return pollResult{}, fmt.Errorf("assign gap threshold: %w", err)
		}
	}
	// Rollback, not commit: nothing was written, and ending a transaction
	// that holds an id by rollback needs no WAL flush.
	if err := tx.Rollback(ctx); err != nil {
		return pollResult{}, fmt.Errorf("end changelog read: %w", err)
	}

	out := rows[:0]
	for _, c := range l.changes[:fills] {
		if l.t.fill(c.id, c.at) && c.row >= 0 {
			r := rows[c.row]
			r.Token = l.t.token()
			out = append(out, r)
		}
	}
	if len(l.t.gaps) > 0 && fillsComplete && xmin > 0 {
		res.resolved = l.t.resolve(xmin)
	}
	for _, c := range l.changes[fills:] {
		if !l.t.advance(c.id, c.at, until) {
			res.more = false // at the gap bound: wait for gaps to resolve
			break
		}
		if c.row >= 0 {
			r := rows[c.row]
			r.Token = l.t.token()
			out = append(out, r)
		}
	}
	res.rows = out
	return res, nil
}

// read runs one changelog query and appends what it returns to l.changes
// and, for inserts into health_events, to rows. It returns the number of
// changelog rows read.
func (l *live) read(ctx context.Context, tx pgx.Tx, sql string, rows *[]Row, args ...any) (int, error) {
	res, err := tx.Query(ctx, sql, append([]any{binaryResults}, args...)...)
	if err != nil {
		return 0, err
	}
	defer res.Close()
	n := 0
	for res.Next() {
		v := res.RawValues()
		c, err := decodeChange(v)
		if err != nil {
			return 0, err
		}
		if v[2] != nil {
			r, err := decodeLiveRow(c.id, v)
			if err != nil {
				return 0, fmt.Errorf("changelog id %d: %w", c.id, err)
			}
			*rows = append(*rows, r)
			c.row = len(*rows) - 1
		}
		l.changes = append(l.changes, c)
		n++
	}
	return n, res.Err()
}

func decodeChange(v [][]byte) (change, error) {
	id, err := decodeInt8(v[0])
	if err != nil {
		return change{}, fmt.Errorf("changelog id: %w", err)
	}
	at, err := decodeTime(v[1])
	if err != nil {
		return change{}, fmt.Errorf("changelog id %d: changed_at: %w", id, err)
	}
	return change{id: id, at: at, row: -1}, nil
}

func decodeLiveRow(id int64, v [][]byte) (Row, error) {
	recordID, err := decodeUUID(v[2])
	if err != nil {
		return Row{}, fmt.Errorf("record_id: %w", err)
	}
	created, err := decodeTime(v[3])
	if err != nil {
		return Row{}, fmt.Errorf("created_at: %w", err)
	}
	doc, err := decodeJSONB(v[4])
	if err != nil {
		return Row{}, fmt.Errorf("document: %w", err)
	}
	return Row{ID: recordID, CreatedAt: created, Document: doc, ChangelogID: id}, nil
}

// skipsIDs reports whether changes (ascending, all above cursor) leave an
// id out.
func skipsIDs(changes []change, cursor int64) bool {
	prev := cursor
	for _, c := range changes {
		if c.id > prev+1 {
			return true
		}
		prev = c.id
	}
	return false
}

// queryRower is a *pgx.Conn or a pgx.Tx.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queryXid8 runs a query returning one xid8 as text (pgx has no xid8
// type; the text form is the decimal 64-bit id).
func queryXid8(ctx context.Context, q queryRower, sql string) (uint64, error) {
	var s string
	if err := q.QueryRow(ctx, sql).Scan(&s); err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("xid8 %q: %w", s, err)
	}
	return v, nil
}
