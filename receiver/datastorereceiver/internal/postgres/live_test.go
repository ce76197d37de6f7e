package postgres

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestLiveInsertsOnly: inserts come out in changelog order with their
// documents; updates, deletes and other tables' rows move the position
// but are not emitted.
func TestLiveInsertsOnly(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	src := open(t, Config{DSN: dsn})
	ctx := testCtx(t, time.Minute)

	var want []string
	for i := range 30 {
		id := insert(t, conn, fmt.Sprintf("node-%d", i))
		want = append(want, id)
		switch i % 3 {
		case 1:
			if _, err := conn.Exec(ctx, `UPDATE health_events SET node_quarantined = 'Quarantined' WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
		case 2:
			if _, err := conn.Exec(ctx, `INSERT INTO maintenance_events (event_id, csp, cluster_name, status,
				event_received_timestamp, document) VALUES ($1, 'gcp', 'c', 'PENDING', now(), '{}')`, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := conn.Exec(ctx, `DELETE FROM health_events WHERE id = $1`, want[0]); err != nil {
		t.Fatal(err)
	}

	rows := collect(t, src, len(want), 30*time.Second)
	if !slices.Equal(ids(rows), want) {
		t.Fatalf("rows = %v\nwant   %v", ids(rows), want)
	}
	for i, r := range rows {
		var doc struct {
			HealthEvent struct {
				NodeName string `json:"nodeName"`
			} `json:"healthevent"`
		}
		if err := json.Unmarshal(r.Document, &doc); err != nil || doc.HealthEvent.NodeName != fmt.Sprintf("node-%d", i) {
			t.Errorf("row %d document %s: %v", i, r.Document, err)
		}
		if r.CreatedAt.IsZero() || r.ChangelogID == 0 {
			t.Errorf("row %d: created_at %v, changelog id %d", i, r.CreatedAt, r.ChangelogID)
		}
		if r.Token.EventID != r.ChangelogID {
			t.Errorf("row %d: token %d, want its own changelog id %d (nothing is open below it)", i, r.Token.EventID, r.ChangelogID)
		}
	}
	// The deleted row was still emitted (from the changelog); the delete
	// and the updates were not.
	expectNothing(t, src, 300*time.Millisecond)
}

// TestNotifyWakesNext: with a poll interval of an hour, only a NOTIFY can
// deliver the row.
func TestNotifyWakesNext(t *testing.T) {
	dsn := srv.NewDB(t)
	src := open(t, Config{DSN: dsn, PollInterval: time.Hour})
	conn := connect(t, dsn)
	got := make(chan []Row, 1)
	go func() {
		ctx := testCtx(t, 30*time.Second)
		rows, err := src.Next(ctx, 10)
		if err != nil {
			t.Error(err)
		}
		got <- rows
	}()
	time.Sleep(100 * time.Millisecond) // let Next reach its wait
	id := insert(t, conn, "node-1")
	select {
	case rows := <-got:
		if len(rows) != 1 || rows[0].ID != id {
			t.Fatalf("rows = %v, want [%s]", ids(rows), id)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a NOTIFY did not wake Next")
	}
	if st := src.Stats(); st.NotifyWakeups == 0 {
		t.Errorf("stats %+v: no NOTIFY wake-up counted", st)
	}
}

// TestFallbackPoll: notifications go to a channel nobody sends on, as if
// every NOTIFY were lost; rows still arrive by polling.
func TestFallbackPoll(t *testing.T) {
	dsn := srv.NewDB(t)
	src := open(t, Config{DSN: dsn, NotifyChannel: "nobody_sends_here", PollInterval: 50 * time.Millisecond})
	conn := connect(t, dsn)
	expectNothing(t, src, 200*time.Millisecond)
	if st := src.Stats(); st.FallbackWakeups == 0 {
		t.Errorf("stats %+v: no fallback poll counted", st)
	}
	id := insert(t, conn, "node-1")
	rows := collect(t, src, 1, 20*time.Second)
	if rows[0].ID != id {
		t.Fatalf("got %s, want %s", rows[0].ID, id)
	}
}

// TestLateCommitNotSkipped: a transaction takes a lower changelog id and
// commits after rows above it were delivered and their token saved. The
// row is delivered, by the running source and by one resumed from the
// saved token, and the token never passes it while it is open.
func TestLateCommitNotSkipped(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	src := open(t, Config{DSN: dsn, PollInterval: 50 * time.Millisecond})
	ctx := testCtx(t, time.Minute)

	long, err := connect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lateID := insert(t, long, "late")
	var after []string
	for i := range 3 {
		after = append(after, insert(t, conn, fmt.Sprintf("after-%d", i)))
	}
	rows := collect(t, src, 3, 20*time.Second)
	if !slices.Equal(ids(rows), after) {
		t.Fatalf("rows = %v, want %v", ids(rows), after)
	}
	// The late transaction drew its changelog id first: just below the
	// others. No token may pass it while it is open.
	openID := rows[0].ChangelogID - 1
	for _, r := range rows {
		if r.Token.EventID != openID-1 {
			t.Errorf("token of row %d = %d, want %d (just below the open id %d)", r.ChangelogID, r.Token.EventID, openID-1, openID)
		}
	}
	saved := rows[2].Token
	if err := src.SaveToken(ctx, saved); err != nil {
		t.Fatal(err)
	}

	if err := long.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	late := collect(t, src, 1, 20*time.Second)
	if late[0].ID != lateID {
		t.Fatalf("got %s, want the late row %s", late[0].ID, lateID)
	}
	if late[0].ChangelogID != openID {
		t.Fatalf("late row's changelog id = %d, want %d", late[0].ChangelogID, openID)
	}
	if late[0].Token.EventID != rows[2].ChangelogID {
		t.Errorf("token after the late row = %d, want %d (everything delivered)", late[0].Token.EventID, rows[2].ChangelogID)
	}

	// A source opened on the token saved before the late commit delivers
	// the late row too (and the rows above it again: at least once).
	_ = src.Close()
	again := open(t, Config{DSN: dsn, PollInterval: 50 * time.Millisecond})
	redo := collect(t, again, 4, 20*time.Second)
	if !slices.Equal(ids(redo), append([]string{lateID}, after...)) {
		t.Errorf("resumed from the saved token: %v, want %v", ids(redo), append([]string{lateID}, after...))
	}
}

// TestRollbackGapResolves: a rolled-back insert leaves an id that never
// commits. Later rows flow at once, and the gap is dropped, so the token
// moves past it.
func TestRollbackGapResolves(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	src := open(t, Config{DSN: dsn, PollInterval: 50 * time.Millisecond})
	ctx := testCtx(t, time.Minute)

	tx, err := connect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	insert(t, tx, "rolled-back")
	a := insert(t, conn, "a")
	// The open transaction does not stall rows above it.
	rows := collect(t, src, 1, 20*time.Second)
	if rows[0].ID != a || src.Stats().OpenGaps != 1 {
		t.Fatalf("rows %v, stats %+v; want [%s] with one open gap", ids(rows), src.Stats(), a)
	}
	if rows[0].Token.EventID != rows[0].ChangelogID-2 {
		t.Errorf("token %d passes the open id %d", rows[0].Token.EventID, rows[0].ChangelogID-1)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Polls continue on their own; the next one resolves the gap.
	expectNothing(t, src, 300*time.Millisecond)
	if st := src.Stats(); st.OpenGaps != 0 || st.ResolvedGaps != 1 {
		t.Fatalf("stats %+v: want the gap resolved", st)
	}
	b := insert(t, conn, "b")
	rows = collect(t, src, 1, 20*time.Second)
	if rows[0].ID != b || rows[0].Token.EventID != rows[0].ChangelogID {
		t.Errorf("row %s token %d, want %s with token = its changelog id %d", rows[0].ID, rows[0].Token.EventID, b, rows[0].ChangelogID)
	}
}

// TestResumeFromNVSentinelToken: a token written by NVSentinel's exporter
// (by hand here, in its exact format, with and without the timestamp)
// resumes exactly after its eventID; and what we save, NVSentinel's own
// resume query continues from correctly.
func TestResumeFromNVSentinelToken(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	ctx := testCtx(t, time.Minute)
	var all []string
	for i := range 10 {
		all = append(all, insert(t, conn, fmt.Sprintf("node-%d", i)))
	}
	fifth := changelogID(t, conn, all[4])
	var changedAt time.Time
	if err := conn.QueryRow(ctx, `SELECT changed_at FROM datastore_changelog WHERE id = $1`, fifth).Scan(&changedAt); err != nil {
		t.Fatal(err)
	}

	for name, token := range map[string]string{
		"with timestamp": fmt.Sprintf(`{"eventID": %d, "timestamp": %q}`, fifth, changedAt.UTC().Format(time.RFC3339Nano)),
		"id only":        fmt.Sprintf(`{"eventID": %d}`, fifth),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := conn.Exec(ctx, `INSERT INTO resume_tokens (client_name, resume_token, last_updated)
				VALUES ('event-exporter', $1, NOW())
				ON CONFLICT (client_name) DO UPDATE SET resume_token = EXCLUDED.resume_token, last_updated = NOW()`, token); err != nil {
				t.Fatal(err)
			}
			src := open(t, Config{DSN: dsn})
			rows := collect(t, src, 5, 20*time.Second)
			if !slices.Equal(ids(rows), all[5:]) {
				t.Fatalf("resumed rows = %v, want %v", ids(rows), all[5:])
			}
			expectNothing(t, src, 200*time.Millisecond)

			// Save the 7th row's token, then run NVSentinel's resume query
			// (fetchNewChanges) with what it would read from it.
			if err := src.SaveToken(ctx, rows[1].Token); err != nil {
				t.Fatal(err)
			}
			var raw []byte
			if err := conn.QueryRow(ctx, `SELECT resume_token FROM resume_tokens WHERE client_name = 'event-exporter'`).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			var m map[string]interface{}
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			ts, err := time.Parse(time.RFC3339Nano, m["timestamp"].(string))
			if err != nil {
				t.Fatal(err)
			}
			var next []string
			res, err := conn.Query(ctx, `SELECT record_id::text FROM datastore_changelog
				WHERE table_name = 'health_events' AND (changed_at > $1 OR (changed_at = $1 AND id > $2))
				ORDER BY changed_at ASC, id ASC LIMIT 100`, ts, int64(m["eventID"].(float64)))
			if err != nil {
				t.Fatal(err)
			}
			for res.Next() {
				var id string
				if err := res.Scan(&id); err != nil {
					t.Fatal(err)
				}
				next = append(next, id)
			}
			if !slices.Equal(next, all[7:]) {
				t.Errorf("NVSentinel resuming from our token reads %v, want %v", next, all[7:])
			}
		})
	}
}

// TestGapBound: with room for one open gap, a second one pauses reading
// (nothing is skipped); it resumes when the transactions end.
func TestGapBound(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	src := open(t, Config{DSN: dsn, MaxGaps: 1, PollInterval: 50 * time.Millisecond})
	ctx := testCtx(t, time.Minute)

	tx1, err := connect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open1 := insert(t, tx1, "open-1")
	a := insert(t, conn, "a")
	tx2, err := connect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open2 := insert(t, tx2, "open-2")
	b := insert(t, conn, "b")

	rows := collect(t, src, 1, 20*time.Second)
	if rows[0].ID != a {
		t.Fatalf("got %v, want [%s]", ids(rows), a)
	}
	// b sits above a second gap: held back at the bound.
	expectNothing(t, src, 300*time.Millisecond)

	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rows = collect(t, src, 3, 20*time.Second)
	got := ids(rows)
	want := []string{open1, open2, b}
	if !slices.Equal(got, want) {
		t.Fatalf("after the commits: %v, want %v", got, want)
	}
}

// TestSecretsNotInErrors: neither a connection failure nor a DSN that does
// not parse shows the password.
func TestSecretsNotInErrors(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	for _, dsn := range []string{
		"postgres://courier:" + secret + "@127.0.0.1:1/nvsentinel?sslmode=disable&connect_timeout=2",
		"host=127.0.0.1 port=1 user=courier password=" + secret + " dbname=x sslmode=disable connect_timeout=2",
		"postgres://courier:" + secret + "@127.0.0.1:notaport/x",
		"host=127.0.0.1 password='" + secret,
	} {
		_, err := Open(testCtx(t, 10*time.Second), Config{DSN: dsn}, zap.NewNop())
		if err == nil {
			t.Fatalf("%q: opened", dsn)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// TestGapHeldByNewestWriter is the case where a snapshot's xmax is not a
// safe gap threshold: the writer holding the missing id has a newer
// transaction id than every finished transaction, so it is at or above
// xmax and not in the snapshot's in-progress list; pg_snapshot_xmin then
// reaches xmax while the writer still runs. The gap must stay open.
func TestGapHeldByNewestWriter(t *testing.T) {
	dsn := srv.NewDB(t)
	src := open(t, Config{DSN: dsn, PollInterval: 50 * time.Millisecond})
	ctx := testCtx(t, time.Minute)

	older, err := connect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := older.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil { // its xid comes first
		t.Fatal(err)
	}
	newer, err := connect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held := insert(t, newer, "held") // newer xid, lower changelog id
	committed := insert(t, older, "committed")
	if err := older.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	rows := collect(t, src, 1, 20*time.Second)
	if rows[0].ID != committed {
		t.Fatalf("got %v, want [%s]", ids(rows), committed)
	}
	expectNothing(t, src, 500*time.Millisecond) // several polls
	if st := src.Stats(); st.OpenGaps != 1 {
		t.Fatalf("stats %+v: the gap of a running writer was dropped", st)
	}
	if err := newer.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rows = collect(t, src, 1, 20*time.Second)
	if rows[0].ID != held {
		t.Fatalf("got %v, want the held row %s", ids(rows), held)
	}
}
