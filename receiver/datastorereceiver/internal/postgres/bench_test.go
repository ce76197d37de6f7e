package postgres

import (
	"testing"
	"time"

	"github.com/courier-otel/courier/internal/pgtest"
)

// Each op is one row. The rows are inserted before the timer starts; run
// with a fixed count, e.g. -benchtime=200000x, so they are inserted once.

// BenchmarkLive reads pre-inserted rows through the live stream (changelog
// pages, gap bookkeeping, binary decoding, token per row).
func BenchmarkLive(b *testing.B) {
	dsn := srv.NewDB(b)
	src := open(b, Config{DSN: dsn})
	conn := connect(b, dsn)
	ctx := testCtx(b, time.Hour)
	if err := pgtest.BulkInsertHealthEvents(ctx, conn, b.N, pgtest.SampleEvent("bench"), time.Now(), 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for got := 0; got < b.N; {
		rows, err := src.Next(ctx, 5000)
		if err != nil {
			b.Fatal(err)
		}
		got += len(rows)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkBackfill exports pre-inserted history in pages, from Open
// (handover, page queries) to the last row.
func BenchmarkBackfill(b *testing.B) {
	dsn := srv.NewDB(b)
	conn := connect(b, dsn)
	ctx := testCtx(b, time.Hour)
	first := time.Now().Add(-time.Duration(b.N) * time.Millisecond)
	if err := pgtest.BulkInsertHealthEvents(ctx, conn, b.N, pgtest.SampleEvent("bench"), first, time.Millisecond); err != nil {
		b.Fatal(err)
	}
	for _, table := range []string{"health_events", "datastore_changelog"} {
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	src := open(b, Config{DSN: dsn, Backfill: BackfillConfig{Enabled: true, BatchSize: 5000}})
	for got := 0; got < b.N; {
		rows, err := src.Next(ctx, 5000)
		if err != nil {
			b.Fatal(err)
		}
		got += len(rows)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
