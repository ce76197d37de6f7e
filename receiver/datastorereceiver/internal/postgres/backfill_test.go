package postgres

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courier-otel/courier/internal/pgtest"
)

// history inserts n events created one second apart, the last one `ago`
// before now, and returns their ids oldest first.
func history(t testing.TB, conn *pgx.Conn, n int, ago time.Duration, node string) []string {
	t.Helper()
	ctx := testCtx(t, 5*time.Minute)
	first := time.Now().Add(-ago - time.Duration(n-1)*time.Second)
	if err := pgtest.BulkInsertHealthEvents(ctx, conn, n, pgtest.SampleEvent(node), first, time.Second); err != nil {
		t.Fatal(err)
	}
	res, err := conn.Query(ctx, `SELECT id::text FROM health_events WHERE node_name = $1 ORDER BY created_at, id`, node)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(res, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func backfillConfig(dsn string, b BackfillConfig) Config {
	b.Enabled = true
	return Config{DSN: dsn, PollInterval: 50 * time.Millisecond, Backfill: b}
}

// TestBackfillThenLive: history comes first, oldest first, then the live
// stream; rows inserted while the backfill runs come once, from the live
// stream.
func TestBackfillThenLive(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	old := history(t, conn, 300, time.Hour, "old")
	src := open(t, backfillConfig(dsn, BackfillConfig{BatchSize: 40}))

	var (
		got  []Row
		live []string
	)
	ctx := testCtx(t, time.Minute)
	for len(got) < len(old)+50 {
		rows, err := src.Next(ctx, 25)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rows...)
		if len(live) < 50 {
			live = append(live, insert(t, conn, fmt.Sprintf("live-%d", len(live))))
		}
	}
	want := append(slices.Clone(old), live...)
	if !slices.Equal(ids(got), want) {
		t.Fatalf("got %d rows, want %d: history in (created_at, id) order then live rows in changelog order\ngot  %v\nwant %v",
			len(got), len(want), ids(got), want)
	}
	for i, r := range got[:len(old)] {
		if r.ChangelogID != 0 || !r.Token.Backfill.Active() || r.Token.Backfill.Count != int64(i+1) || r.Token.Backfill.ID != r.ID {
			t.Fatalf("backfill row %d: changelog id %d, token %+v", i, r.ChangelogID, r.Token)
		}
	}
	for _, r := range got[len(old):] {
		if r.ChangelogID == 0 || r.Token.Backfill.Active() {
			t.Fatalf("live row %s: changelog id %d, token %+v", r.ID, r.ChangelogID, r.Token)
		}
	}
	expectNothing(t, src, 200*time.Millisecond)
}

func TestBackfillMaxAge(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	history(t, conn, 20, 2*time.Hour, "too-old")
	recent := history(t, conn, 20, 10*time.Minute, "recent")
	src := open(t, backfillConfig(dsn, BackfillConfig{MaxAge: time.Hour, BatchSize: 7}))
	got := collect(t, src, 20, 20*time.Second)
	if !slices.Equal(ids(got), recent) {
		t.Fatalf("got %v, want only the recent %v", ids(got), recent)
	}
	expectNothing(t, src, 200*time.Millisecond)
}

// TestBackfillMaxEvents: the newest MaxEvents, oldest first, so the
// history joins the live stream without a hole.
func TestBackfillMaxEvents(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	all := history(t, conn, 30, time.Minute, "n")
	src := open(t, backfillConfig(dsn, BackfillConfig{MaxEvents: 10, BatchSize: 4}))
	got := collect(t, src, 10, 20*time.Second)
	if !slices.Equal(ids(got), all[20:]) {
		t.Fatalf("got %v, want the newest ten %v", ids(got), all[20:])
	}
	expectNothing(t, src, 200*time.Millisecond)
}

// TestBackfillResume: a source closed mid-backfill and opened again on the
// saved token continues the backfill after the saved row, then goes live.
// NVSentinel reads that token as a plain live position.
func TestBackfillResume(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	old := history(t, conn, 100, time.Hour, "old")
	cfg := backfillConfig(dsn, BackfillConfig{BatchSize: 10})

	src := open(t, cfg)
	first := collect(t, src, 35, 20*time.Second)
	ctx := testCtx(t, time.Minute)
	if err := src.SaveToken(ctx, first[34].Token); err != nil {
		t.Fatal(err)
	}
	_ = src.Close()
	liveID := insert(t, conn, "live")

	var raw []byte
	if err := conn.QueryRow(ctx, `SELECT resume_token FROM resume_tokens WHERE client_name = 'event-exporter'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["eventID"].(float64); !ok || !strings.Contains(string(raw), `"backfill"`) {
		t.Errorf("stored backfill token %s: want a numeric eventID and a backfill member", raw)
	}

	src = open(t, cfg)
	rest := collect(t, src, 66, 20*time.Second)
	if want := append(slices.Clone(old[35:]), liveID); !slices.Equal(ids(rest), want) {
		t.Fatalf("after reopening: %v\nwant %v", ids(rest), want)
	}
}

// TestBackfillRateLimit: the rate holds; the bound is loose on purpose
// (shared machine), the measured ratio is logged.
func TestBackfillRateLimit(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	const n, perSecond = 300, 200.0
	history(t, conn, n, time.Hour, "old")
	src := open(t, backfillConfig(dsn, BackfillConfig{RateLimit: perSecond, BatchSize: 100}))
	// The first group comes out of the initial burst; time the rest.
	first := collect(t, src, 1, 20*time.Second)
	start := time.Now()
	collect(t, src, n-len(first), 30*time.Second)
	elapsed := time.Since(start)
	burst := int(perSecond / 10)
	ideal := time.Duration(float64(n-burst) / perSecond * float64(time.Second))
	ratio := elapsed.Seconds() / ideal.Seconds()
	t.Logf("%d rows at %.0f/s: %v, ideal %v, ratio %.3f", n, perSecond, elapsed, ideal, ratio)
	if ratio < 0.9 || ratio > 1.5 {
		t.Errorf("rate off: %v for %d rows at %.0f/s (ratio %.2f)", elapsed, n-len(first), perSecond, ratio)
	}
}

// TestBackfillWaitsForRunningWriters: a transaction that drew a changelog
// id below the handover point and is still running when the backfill
// starts commits later; its row comes exactly once.
func TestBackfillWaitsForRunningWriters(t *testing.T) {
	dsn := srv.NewDB(t)
	conn := connect(t, dsn)
	ctx := testCtx(t, time.Minute)
	tx, err := connect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	late := insert(t, tx, "late")
	before := insert(t, conn, "committed")
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = tx.Commit(ctx)
	}()
	src := open(t, backfillConfig(dsn, BackfillConfig{}))
	got := collect(t, src, 2, 20*time.Second)
	if !slices.ContainsFunc(got, func(r Row) bool { return r.ID == late }) ||
		!slices.ContainsFunc(got, func(r Row) bool { return r.ID == before }) {
		t.Fatalf("got %v, want %s and %s", ids(got), late, before)
	}
	expectNothing(t, src, 300*time.Millisecond)
}
