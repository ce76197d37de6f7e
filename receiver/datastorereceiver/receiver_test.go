package datastorereceiver

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"

	"github.com/courier-otel/courier/internal/jsontest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/metadata"
)

func TestLifecycle(t *testing.T) {
	cfg := testConfig(pgServer(t).NewDB(t))
	testutil.ReceiverLifecycle(t, NewFactory(), cfg, nil)
}

// TestLiveStream: events inserted the way NVSentinel does arrive as
// CloudEvents with the stored id, and the resume token follows them.
func TestLiveStream(t *testing.T) {
	dsn := pgServer(t).NewDB(t)
	conn := connect(t, dsn)
	s := &sink{}
	r := start(t, testConfig(dsn), s)
	want := insert(t, conn, 50, "live")
	waitFor(t, "50 events", func() bool { return s.count() >= 50 })
	if got := s.received(); !sameSet(got, want) {
		t.Fatalf("got %v, want each of %v once", got, want)
	}
	last := changelogID(t, conn, want[len(want)-1])
	waitFor(t, "the token at the last event", func() bool {
		id, ok := storedToken(t, conn, "event-exporter")
		return ok && id == last
	})
	if n := testutil.Counter(t, r.tel, metadata.MetricEventsEmitted); n != 50 {
		t.Fatalf("events_emitted = %d", n)
	}
}

// TestRecordShape: one record is the CloudEvent of SPEC.md A.3 (before
// event_metadata adds data.metadata and the source).
func TestRecordShape(t *testing.T) {
	dsn := pgServer(t).NewDB(t)
	conn := connect(t, dsn)
	var got []byte
	done := make(chan struct{})
	c := &recordSink{onRecord: func(b []byte) {
		if got == nil {
			got = b
			close(done)
		}
	}}
	start(t, testConfig(dsn), c)
	id := insert(t, conn, 1, "node")[0]
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("no record")
	}
	want := `{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1","source":"nvsentinel://unknown/healthevents","id":"` + id + `","time":"2026-07-14T10:30:00.123456789Z",` +
		`"data":{"healthEvent":{"version":1,"agent":"gpu-health-monitor","componentClass":"GPU","checkName":"GpuXidError","isFatal":true,"isHealthy":false,"message":"XID error occurred","recommendedAction":"RESTART_VM","errorCode":["79"],"entitiesImpacted":[{"entityType":"GPU","entityValue":"0"}],"metadata":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"},"generatedTimestamp":"2026-07-14T10:30:00.123456789Z","nodeName":"node-0","processingStrategy":"EXECUTE_REMEDIATION"}}}`
	if ok, err := jsontest.Equal([]byte(want), got); err != nil || !ok {
		t.Fatalf("got  %s\nwant %s (%v)", got, want, err)
	}
}

// TestResumeAfterRestart: a receiver started again continues after the
// token the last one wrote: the events inserted meanwhile, nothing again.
func TestResumeAfterRestart(t *testing.T) {
	dsn := pgServer(t).NewDB(t)
	conn := connect(t, dsn)
	s := &sink{}
	first := start(t, testConfig(dsn), s)
	want := insert(t, conn, 10, "a")
	waitFor(t, "10 events", func() bool { return s.count() >= 10 })
	first.stop(t)
	want = append(want, insert(t, conn, 10, "b")...)
	start(t, testConfig(dsn), s)
	waitFor(t, "20 events", func() bool { return s.count() >= 20 })
	if got := s.received(); !sameSet(got, want) {
		t.Fatalf("got %d events %v, want each of %d once", len(got), got, len(want))
	}
}

// TestTokenWaitsForEarlierBatch: later batches are accepted while the
// first is still pending; the token must not pass the first batch. Stopped
// then, the receiver loses nothing: the next one delivers the first batch
// (and the later ones again, duplicates within max_in_flight).
func TestTokenWaitsForEarlierBatch(t *testing.T) {
	dsn := pgServer(t).NewDB(t)
	conn := connect(t, dsn)
	want := insert(t, conn, 20, "w")
	cfg := testConfig(dsn)
	cfg.MaxBatchEvents = 5
	cfg.Backfill.BatchSize = 5
	g := &sink{gate: want[0], release: make(chan error, 1)}
	r := start(t, cfg, g)
	waitFor(t, "the later batches", func() bool { return g.count() == 15 })
	if id, ok := storedToken(t, conn, "event-exporter"); ok {
		t.Fatalf("token %d written while the first batch is pending", id)
	}
	r.stop(t)

	s := &sink{}
	start(t, cfg, s)
	waitFor(t, "every event after the restart", func() bool {
		got := s.received()
		for _, id := range want {
			if !contains(got, id) {
				return false
			}
		}
		return true
	})
}

// TestRefusedBatchOfferedAgain: a consumer that fails gets the events
// again, decoded anew (the failing calls changed their batch), until it
// accepts them; nothing lost, nothing twice.
func TestRefusedBatchOfferedAgain(t *testing.T) {
	dsn := pgServer(t).NewDB(t)
	conn := connect(t, dsn)
	s := &sink{failFirst: 3}
	start(t, testConfig(dsn), s)
	want := insert(t, conn, 10, "r")
	waitFor(t, "10 events", func() bool { return s.count() >= 10 })
	if got := s.received(); !sameSet(got, want) {
		t.Fatalf("got %v, want each of %v once", got, want)
	}
}

// TestPermanentErrorSkips: a permanent refusal is counted and the token
// moves on.
func TestPermanentErrorSkips(t *testing.T) {
	dsn := pgServer(t).NewDB(t)
	conn := connect(t, dsn)
	s := &sink{failFirst: 1, failWith: consumererror.NewPermanent(errors.New("never"))}
	r := start(t, testConfig(dsn), s)
	skipped := insert(t, conn, 1, "p")
	waitFor(t, "the refused event counted", func() bool {
		return testutil.Counter(t, r.tel, metadata.MetricEventsRejected, attribute.String("reason", ReasonRefused)) == 1
	})
	want := insert(t, conn, 3, "q")
	waitFor(t, "3 events", func() bool { return s.count() >= 3 })
	if got := s.received(); !sameSet(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	last := changelogID(t, conn, want[2])
	waitFor(t, "the token past the refused event", func() bool {
		id, ok := storedToken(t, conn, "event-exporter")
		return ok && id == last && id > changelogID(t, conn, skipped[0])
	})
}

// TestPermanentErrorIsolates: a batch refused for good because of one of
// its events is split until that event stands alone; it is dead-lettered
// (file, counter by reason), the other events of the batch are delivered
// once each, and the token moves past all of them.
func TestPermanentErrorIsolates(t *testing.T) {
	dsn := pgServer(t).NewDB(t)
	conn := connect(t, dsn)
	ids := insert(t, conn, 40, "b") // stored before the start: one backfill batch
	s := &sink{refuse: map[string]bool{ids[13]: true}}
	cfg := testConfig(dsn)
	cfg.DeadLetter.Directory = t.TempDir()
	r := start(t, cfg, s)
	want := slices.Concat(ids[:13], ids[14:])
	waitFor(t, "39 events", func() bool { return s.count() >= 39 })
	waitFor(t, "the refused event dead-lettered", func() bool {
		return testutil.Counter(t, r.tel, "courier.datastore.events_dead_lettered", attribute.String("reason", "rejected")) == 1
	})
	if got := s.received(); !sameSet(got, want) {
		t.Fatalf("got %v, want each of %v once", got, want)
	}
	last := changelogID(t, conn, ids[39])
	waitFor(t, "the token past the batch", func() bool {
		id, ok := storedToken(t, conn, "event-exporter")
		return ok && id == last
	})
	r.stop(t)
	files, _ := filepath.Glob(filepath.Join(cfg.DeadLetter.Directory, "datastore*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("dead-letter files %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Reason string `json:"reason"`
		Event  struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.Reason != "rejected" || rec.Event.ID != ids[13] {
		t.Fatalf("dead letter %s: %+v %v", b, rec, err)
	}
}

// TestNotAHealthEvent: a row whose document is not a health event is
// counted with its reason and passed over; the events around it arrive
// and the token moves past it.
func TestNotAHealthEvent(t *testing.T) {
	dsn := pgServer(t).NewDB(t)
	conn := connect(t, dsn)
	s := &sink{}
	r := start(t, testConfig(dsn), s)
	want := insert(t, conn, 2, "before")
	if _, err := conn.Exec(context.Background(),
		`INSERT INTO health_events (node_name, document) VALUES ('bad', '{"createdAt":"2026-07-14T10:30:00Z","something":"else"}')`); err != nil {
		t.Fatal(err)
	}
	want = append(want, insert(t, conn, 2, "after")...)
	waitFor(t, "4 events", func() bool { return s.count() >= 4 })
	waitFor(t, "the bad document counted", func() bool {
		return testutil.Counter(t, r.tel, metadata.MetricEventsRejected, attribute.String("reason", "not_health_event")) == 1
	})
	if got := s.received(); !sameSet(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	last := changelogID(t, conn, want[3])
	waitFor(t, "the token at the last event", func() bool {
		id, ok := storedToken(t, conn, "event-exporter")
		return ok && id == last
	})
}

// TestTwoReplicas: with leader election only one replica reads; when it
// stops, the other takes over from its token: every event once.
func TestTwoReplicas(t *testing.T) {
	dsn := pgServer(t).NewDB(t)
	conn := connect(t, dsn)
	a, b := &sink{}, &sink{}
	ra := start(t, testConfig(dsn), a)
	waitFor(t, "a to lead", func() bool { return gauge(t, ra, metadata.MetricLeader) == 1 })
	rb := start(t, testConfig(dsn), b)
	want := insert(t, conn, 10, "one")
	waitFor(t, "10 events", func() bool { return a.count()+b.count() >= 10 })
	if b.count() != 0 || gauge(t, rb, metadata.MetricLeader) != 0 {
		t.Fatalf("the standby read %d events", b.count())
	}
	ra.stop(t)
	waitFor(t, "b to lead", func() bool { return gauge(t, rb, metadata.MetricLeader) == 1 })
	want = append(want, insert(t, conn, 10, "two")...)
	waitFor(t, "20 events", func() bool { return a.count()+b.count() >= 20 })
	if got := append(a.received(), b.received()...); !sameSet(got, want) {
		t.Fatalf("got %v, want each of %v once", got, want)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestResumeStorage: with resume::storage the token lives in a storage
// extension, not in NVSentinel's resume_tokens table, and a restarted
// receiver continues from it.
func TestResumeStorage(t *testing.T) {
	dsn := pgServer(t).NewDB(t)
	conn := connect(t, dsn)
	dir := t.TempDir()
	run := func(s *sink, until func() bool) {
		host := testutil.NewStorageHost(t, dir)
		cfg := testConfig(dsn)
		cfg.Resume.Storage = &host.ID
		set := receivertest.NewNopSettings(metadata.Type)
		set.ID = component.NewID(metadata.Type) // the same receiver, restarted: its storage is keyed by its id
		r, err := NewFactory().CreateLogs(context.Background(), set, cfg, s)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(context.Background(), host); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the receiver to deliver", until)
		if err := r.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		host.Close(t)
	}
	s := &sink{}
	want := insert(t, conn, 5, "a")
	run(s, func() bool { return s.count() >= 5 })
	if _, ok := storedToken(t, conn, "event-exporter"); ok {
		t.Fatal("a token was written to resume_tokens despite resume::storage")
	}
	want = append(want, insert(t, conn, 5, "b")...)
	run(s, func() bool { return s.count() >= 10 })
	if got := s.received(); !sameSet(got, want) {
		t.Fatalf("got %v, want each of %v once", got, want)
	}
}
