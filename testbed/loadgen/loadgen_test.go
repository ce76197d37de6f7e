package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courier-otel/courier/internal/pgtest"
)

// TestWriteLogs: every event recorded is in the files exactly once, the
// bad lines are there too, files rotate, and lines are about EventSize.
func TestWriteLogs(t *testing.T) {
	dir := t.TempDir()
	var l Ledger
	cfg := LogsConfig{Dir: dir, Files: 2, Count: 2000, EventSize: 500, SizeLimit: 64 << 10, RetentionCount: 1000, BadShare: 0.05, Seed: 1}
	if err := WriteLogs(context.Background(), cfg, &l); err != nil {
		t.Fatal(err)
	}
	if l.Len() != 2000 {
		t.Fatalf("%d events recorded, want 2000", l.Len())
	}
	if l.BadLines() == 0 {
		t.Fatal("no bad lines written at a 5 % share")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(files) < 10 {
		t.Fatalf("%d files: 2 files of 64 KiB limit should have rotated", len(files))
	}
	seen := map[string]int{}
	var bad int64
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			var ev struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.ID == "" {
				bad++
				continue
			}
			seen[ev.ID]++
			if n := len(sc.Bytes()); n < 450 || n > 550 {
				t.Errorf("event line of %d bytes, want about 500", n)
			}
		}
		_ = f.Close()
	}
	for _, r := range l.Records() {
		if seen[r.ID] != 1 {
			t.Fatalf("event %s is in the files %d times", r.ID, seen[r.ID])
		}
	}
	if len(seen) != 2000 || bad != l.BadLines() {
		t.Fatalf("files hold %d events and %d bad lines, recorded 2000 and %d", len(seen), bad, l.BadLines())
	}
}

// TestWriteLogsRate: a rate is kept, and the context ends the run.
func TestWriteLogsRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var l Ledger
	if err := WriteLogs(ctx, LogsConfig{Dir: t.TempDir(), Rate: 1000}, &l); err != nil {
		t.Fatal(err)
	}
	if n := l.Len(); n < 300 || n > 520 {
		t.Fatalf("%d events in 0.5 s at 1,000/s", n)
	}
}

func TestEncoder(t *testing.T) {
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	at := time.Unix(1700000000, 123456789)
	e.Written("a-1", at)
	e.Bad(3)
	e.Written("42", at.Add(time.Second))
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	var l Ledger
	if _, err := l.ReadFrom(&buf); err != nil {
		t.Fatal(err)
	}
	r := l.Records()
	if len(r) != 2 || r[0].ID != "a-1" || !r[0].At.Equal(at) || r[1].ID != "42" || l.BadLines() != 3 {
		t.Fatalf("read back %+v, %d bad", r, l.BadLines())
	}
	if _, err := l.ReadFrom(bytes.NewBufferString("x y\n")); err == nil {
		t.Fatal("no error for a bad record")
	}
}

// TestInsertHealthEvents: batches commit every recorded event, and only
// those, through NVSentinel's trigger.
func TestInsertHealthEvents(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.NewDB(t)
	var l Ledger
	if err := InsertHealthEvents(context.Background(), NVSentinelConfig{DSN: dsn, Count: 25, Batch: 10}, &l); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var rows, changes int
	if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM health_events), (SELECT count(*) FROM datastore_changelog)`).Scan(&rows, &changes); err != nil {
		t.Fatal(err)
	}
	if l.Len() != 25 || rows != 25 || changes != 25 {
		t.Fatalf("%d recorded, %d rows, %d changelog rows; want 25", l.Len(), rows, changes)
	}
	for _, r := range l.Records() {
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM health_events WHERE id = $1`, r.ID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("recorded id %s: %d rows (%v)", r.ID, n, err)
		}
	}
}
