package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/courier-otel/courier/internal/pgtest"
)

// srv is the package's shared server; each test gets its own database.
// Tests that restart the server start their own.
var srv *pgtest.Server

func TestMain(m *testing.M) {
	s, err := pgtest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	srv = s
	code := m.Run()
	s.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { closeQuietly(conn) })
	return conn
}

func open(t testing.TB, cfg Config) *Source {
	t.Helper()
	src, err := Open(testCtx(t, 30*time.Second), cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("open source: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// insert adds one event for node and returns its health_events id.
func insert(t testing.TB, q pgtest.Querier, node string) string {
	t.Helper()
	id, err := pgtest.InsertHealthEvent(testCtx(t, 10*time.Second), q, pgtest.SampleEvent(node))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// collect calls Next until it has n rows, failing after timeout.
func collect(t testing.TB, src *Source, n int, timeout time.Duration) []Row {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var rows []Row
	for len(rows) < n {
		got, err := src.Next(ctx, n-len(rows))
		if err != nil {
			t.Fatalf("after %d of %d rows: %v", len(rows), n, err)
		}
		rows = append(rows, got...)
	}
	return rows
}

// expectNothing asserts that Next returns no row within d.
func expectNothing(t testing.TB, src *Source, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	rows, err := src.Next(ctx, 100)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want no rows, got %d rows (first %+v), error %v", len(rows), first(rows), err)
	}
}

func first(rows []Row) any {
	if len(rows) == 0 {
		return nil
	}
	return rows[0].ID
}

func ids(rows []Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// changelogID returns the changelog id of record's insert.
func changelogID(t testing.TB, conn *pgx.Conn, record string) int64 {
	t.Helper()
	var id int64
	err := conn.QueryRow(testCtx(t, 10*time.Second),
		`SELECT id FROM datastore_changelog WHERE record_id = $1 AND operation = 'INSERT'`, record).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
