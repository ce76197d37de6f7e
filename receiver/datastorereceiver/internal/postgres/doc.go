// Package postgres reads the health events NVSentinel inserts into
// PostgreSQL, in order, without losing one, and writes resume tokens that
// NVSentinel's own exporter can read (and reads its tokens).
//
// # What NVSentinel writes
//
// Its platform connector inserts each event into health_events (id UUID,
// document JSONB, created_at DEFAULT now(), …). A row trigger on
// health_events appends to datastore_changelog (id BIGSERIAL, table_name,
// record_id, operation INSERT|UPDATE|DELETE, new_values = to_jsonb(NEW),
// changed_at DEFAULT now()) and calls pg_notify('nvsentinel_changes',
// '{"id" : <changelog id>, "table" : …, "operation" : …}'). Its exporter
// keeps {"timestamp": changed_at, "eventID": changelog id} per client in
// resume_tokens and polls changed_at > timestamp OR (changed_at = timestamp
// AND id > eventID) ORDER BY changed_at, id.
//
// That bookmark can skip rows. changed_at is the transaction's start and
// ids are taken at insert, but rows become visible at commit: a
// transaction may commit a row below a bookmark already past it.
//
// # The live stream
//
// The source reads the changelog by id: WHERE id > cursor ORDER BY id
// LIMIT n, all rows (so a missing id is told apart from an update), in a
// REPEATABLE READ snapshot S. Inserts into health_events become Rows, the
// document taken from new_values.
//
// An id below the highest id seen that is missing from S is a gap: its
// transaction may still commit. Each run of missing ids is kept with a
// threshold: a transaction id (xid8) assigned by pg_current_xact_id()
// after S was taken. Every poll first looks the open gaps up again
// (WHERE id BETWEEN lo AND hi) and emits those that committed. A gap is
// dropped as rolled back when, in the same snapshot that found it still
// missing, pg_snapshot_xmin ≥ its threshold: no transaction older than the
// threshold is running, and every writer that held one of the ids was
// older, because NVSentinel's trigger inserts the changelog row after the
// health_events row, so the writer has its transaction id before it draws
// the changelog id, and that happened before S. (The snapshot's own xmax is
// not a safe threshold: it is one past the newest *finished* transaction,
// and a running writer whose transaction id is above every finished one is
// neither below it nor in its in-progress list.) Assigning the id costs a
// transaction id per poll that finds a new gap, never one per row.
//
// Gaps are bounded (Config.MaxGaps runs of ids). At the bound the source
// reads no row that would open another gap, and keeps polling the open
// ones until some resolve: back-pressure, not loss. Rows after a gap are
// emitted at once; only the token waits for the gap.
//
// The token on each row is the frontier: the largest id X such that every
// changelog id ≤ X has been emitted (at or before this row), was not an
// insert into health_events, or was resolved as rolled back. Its timestamp
// is the changed_at of the nearest existing row ≤ X, which is what
// NVSentinel's exporter writes for X. A source resumed from a token reads
// id > eventID; NVSentinel resumed from ours reads from (timestamp, X).
//
// A NOTIFY wakes Next at once; without one Next polls every PollInterval,
// so a lost notification costs latency only.
//
// # The backfill
//
// With no token and backfill enabled, the source first exports history:
// health_events rows with created_at ≥ now − MaxAge, the newest MaxEvents
// of them, oldest first in (created_at, id) order, in keyset-paginated
// pages, rate-limited. Backfill and live stream split the rows by the id
// of their INSERT changelog row: handover is the changelog's last id at
// the start, rows with an insert id ≤ handover (or none) are history and
// the live stream starts after handover. Before the first page the
// backfill waits for every transaction that was running when handover was
// read to end (the same threshold argument), so that set is final: every
// row is exported exactly once, by one side or the other. Each backfill
// row's token is {"timestamp", "eventID": handover, "backfill":
// {"createdAt", "id", "count"}}: a source opened on it resumes the backfill
// after that row; NVSentinel, which ignores the extra member, continues
// with the live stream from handover.
//
// The page query's anti-join probes the changelog by (table_name,
// record_id). Right after a bulk load, before autovacuum has analyzed the
// tables, the planner believes the changelog small and scans every one of
// its health_events entries once per page instead (measured: 64 ms a page
// of 500 at 200k rows, against 1 ms once analyzed): a history restored in
// bulk should be ANALYZEd before a backfill reads it.
//
// # Connections
//
// One connection LISTENs and reads (Next), one writes tokens (SaveToken may
// run while Next waits), and Leader holds an advisory lock on a third.
// After a connection error Next returns ErrDisconnected and reconnects on
// its next call, continuing from memory.
package postgres
