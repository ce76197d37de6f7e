package pgtest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestServer covers the whole harness on one server: schema, an insert as
// the platform connector does it (row, changelog row, NOTIFY payload,
// document shape) and a restart that keeps the data and the port.
func TestServer(t *testing.T) {
	s := Start(t)
	dsn := s.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	listener, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = listener.Close(ctx) }()
	if _, err := listener.Exec(ctx, "LISTEN nvsentinel_changes"); err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	id, err := InsertHealthEvent(ctx, conn, SampleEvent("node-1"))
	if err != nil {
		t.Fatal(err)
	}

	var (
		changelogID         int64
		table, op, recordID string
		newDoc              []byte
	)
	err = conn.QueryRow(ctx, `SELECT id, table_name, operation, record_id::text, new_values->'document'
		FROM datastore_changelog`).Scan(&changelogID, &table, &op, &recordID, &newDoc)
	if err != nil {
		t.Fatal(err)
	}
	if table != "health_events" || op != "INSERT" || recordID != id {
		t.Errorf("changelog row = (%s, %s, %s), want (health_events, INSERT, %s)", table, op, recordID, id)
	}

	n, err := listener.WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var payload struct {
		ID        int64  `json:"id"`
		Table     string `json:"table"`
		Operation string `json:"operation"`
	}
	if err := json.Unmarshal([]byte(n.Payload), &payload); err != nil {
		t.Fatalf("NOTIFY payload %q: %v", n.Payload, err)
	}
	if payload.ID != changelogID || payload.Table != "health_events" || payload.Operation != "INSERT" {
		t.Errorf("NOTIFY payload = %q, want changelog id %d, health_events, INSERT", n.Payload, changelogID)
	}

	var doc map[string]json.RawMessage
	if err := json.Unmarshal(newDoc, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"createdAt", "healthevent", "healtheventstatus", "RawEvent"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("document has no %q: %s", key, newDoc)
		}
	}
	he := string(doc["healthevent"])
	for _, want := range []string{`"checkName": "GpuXidError"`, `"recommendedAction": 15`,
		`"generatedTimestamp": {"nanos": 123456789, "seconds": 1784025000}`} {
		if !strings.Contains(he, want) {
			t.Errorf("healthevent lacks %s: %s", want, he)
		}
	}
	if strings.Contains(he, "isHealthy") {
		t.Errorf("healthevent has isHealthy although it is false (omitempty): %s", he)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}

	port := s.Port()
	s.Restart(t)
	if s.Port() != port {
		t.Fatalf("port changed across restart: %d → %d", port, s.Port())
	}
	conn, err = pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var count int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM health_events").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		t.Errorf("after restart: %d health events, want 1", count)
	}
}

func TestBulkInsert(t *testing.T) {
	s := Start(t)
	dsn := s.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := BulkInsertHealthEvents(ctx, conn, 100, SampleEvent("node-2"), first, time.Second); err != nil {
		t.Fatal(err)
	}
	var events, changes int
	var last time.Time
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM health_events), (SELECT max(created_at) FROM health_events),
		(SELECT count(*) FROM datastore_changelog WHERE operation = 'INSERT')`).Scan(&events, &last, &changes)
	if err != nil {
		t.Fatal(err)
	}
	if events != 100 || changes != 100 || !last.Equal(first.Add(99*time.Second)) {
		t.Errorf("got %d events, %d changelog inserts, last created %s; want 100, 100, %s", events, changes, last, first.Add(99*time.Second))
	}
}

func TestDBName(t *testing.T) {
	for in, want := range map[string]string{
		"TestX":        "testx",
		"TestX/sub-1":  "testx_sub_1",
		"Test_Ünicode": "test___nicode",
	} {
		if got := dbName(in); got != want {
			t.Errorf("dbName(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("a", 100)
	if got := dbName(long); len(got) != 63 || got == dbName(long+"b") {
		t.Errorf("dbName of a long name = %q (%d bytes), want 63 bytes distinct from a longer one", got, len(got))
	}
}

func TestMissingBinariesSayWhatToInstall(t *testing.T) {
	_, err := findBinaries(filepath.Join(t.TempDir(), "*", "bin"))
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("error = %v, want it to say `apt-get install postgresql`", err)
	}
	if bin, err := findBinaries(BinariesGlob); err == nil && !strings.HasPrefix(bin, "/usr/lib/postgresql/") {
		t.Errorf("found binaries in %s", bin)
	}
}
