package datastorereceiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/metadata"
)

// One throwaway PostgreSQL server for the package's tests, each test in a
// database of its own (pgtest.Server.NewDB).
var pg struct {
	once sync.Once
	s    *pgtest.Server
	err  error
}

func pgServer(t testing.TB) *pgtest.Server {
	t.Helper()
	pg.once.Do(func() { pg.s, pg.err = pgtest.New() })
	if pg.err != nil {
		t.Fatalf("PostgreSQL for the datastore receiver tests: %v (%s)", pg.err, pgtest.InstallHint)
	}
	return pg.s
}

type mainWithServer struct{ m *testing.M }

func (w mainWithServer) Run() int {
	code := w.m.Run()
	if pg.s != nil {
		pg.s.Close()
	}
	return code
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(mainWithServer{m})
}

const waitTimeout = 30 * time.Second

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testConfig reads the database at dsn with quick polls and elections. The
// backfill is on without a rate limit: events inserted before the receiver
// has opened its source (it starts from "now" without a token) are then
// delivered too.
func testConfig(dsn string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.PostgreSQL.DSN = configopaque.String(dsn)
	cfg.PostgreSQL.PollInterval = 100 * time.Millisecond
	cfg.Backfill.RateLimit = 0
	cfg.LeaderElection.RetryInterval = 100 * time.Millisecond
	return cfg
}

// started is a running receiver with its telemetry.
type started struct {
	receiver.Logs
	tel *componenttest.Telemetry
}

func start(t *testing.T, cfg *Config, next consumer.Logs) *started {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	s := &started{Logs: r, tel: tel}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop shuts the receiver down (a second call does nothing).
func (s *started) stop(t testing.TB) {
	t.Helper()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// insert inserts n sample events, one transaction each, and returns their
// ids.
func insert(t testing.TB, conn *pgx.Conn, n int, node string) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		id, err := pgtest.InsertHealthEvent(context.Background(), conn, pgtest.SampleEvent(fmt.Sprintf("%s-%d", node, i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

// storedToken returns the resume token of client, or "" when none.
func storedToken(t testing.TB, conn *pgx.Conn, client string) (eventID int64, ok bool) {
	t.Helper()
	var raw []byte
	err := conn.QueryRow(context.Background(), "SELECT resume_token FROM resume_tokens WHERE client_name = $1", client).Scan(&raw)
	if err == pgx.ErrNoRows {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		EventID int64 `json:"eventID"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil {
		t.Fatalf("token %s: %v", raw, err)
	}
	return tok.EventID, true
}

// changelogID returns the changelog id of the insert of health event id.
func changelogID(t testing.TB, conn *pgx.Conn, id string) int64 {
	t.Helper()
	var cl int64
	if err := conn.QueryRow(context.Background(),
		"SELECT id FROM datastore_changelog WHERE record_id = $1 AND operation = 'INSERT'", id).Scan(&cl); err != nil {
		t.Fatal(err)
	}
	return cl
}

// sink records the ids of accepted events; it can refuse calls first.
type sink struct {
	mu        sync.Mutex
	ids       []string
	calls     int
	failFirst int
	failWith  error
	// refuse: a batch holding one of these events is refused for good.
	refuse map[string]bool
	// gate, when set, holds the first call whose batch has this event
	// until release gets a value (its result) or the context ends.
	gate    string
	gated   bool
	release chan error
}

func (s *sink) Capabilities() consumer.Capabilities { return consumer.Capabilities{MutatesData: true} }

func (s *sink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	ids := recordIDs(ld)
	s.mu.Lock()
	s.calls++
	fail := s.calls <= s.failFirst
	gated := s.gate != "" && !s.gated && slices.Contains(ids, s.gate)
	s.gated = s.gated || gated
	for _, id := range ids {
		if s.refuse[id] {
			fail = true
		}
	}
	s.mu.Unlock()
	if gated {
		select {
		case err := <-s.release:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail {
		// Change the batch, as a processor before a failing exporter may.
		ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
			lr.Attributes().PutStr(cloudevent.AttrID, "changed")
			return true
		})
		if s.refuse != nil {
			return consumererror.NewPermanent(errors.New("refused"))
		}
		if s.failWith != nil {
			return s.failWith
		}
		return fmt.Errorf("sink failure %d", s.calls)
	}
	s.mu.Lock()
	s.ids = append(s.ids, ids...)
	s.mu.Unlock()
	return nil
}

func (s *sink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func recordIDs(ld plog.Logs) []string {
	var ids []string
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				v, _ := lr.Attributes().Get(cloudevent.AttrID)
				ids = append(ids, v.Str())
			}
		}
	}
	return ids
}

// sameSet reports whether got holds each of want exactly once, in any order.
func sameSet(got, want []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)))
}

// recordSink hands each record, encoded as a structured CloudEvent, to
// onRecord.
type recordSink struct {
	mu       sync.Mutex
	onRecord func([]byte)
}

func (c *recordSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *recordSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				b, err := cloudevent.Structured{}.AppendEvent(nil, lr)
				if err != nil {
					return err
				}
				c.onRecord(b)
			}
		}
	}
	return nil
}

// gauge returns the last value of an int64 gauge of r, or -1.
func gauge(t testing.TB, r *started, name string) int64 {
	t.Helper()
	m, err := r.tel.GetMetric(name)
	if err != nil {
		return -1
	}
	g, ok := m.Data.(metricdata.Gauge[int64])
	if !ok || len(g.DataPoints) == 0 {
		return -1
	}
	return g.DataPoints[len(g.DataPoints)-1].Value
}
