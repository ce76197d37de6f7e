package deadletterreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"

	"github.com/courier-otel/courier/internal/deadletter"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/receiver/deadletterreceiver/internal/metadata"
)

const waitTimeout = 20 * time.Second

// event is a CloudEvent as a pipeline would carry it: attributes,
// extension, data, and a time text kept exactly.
func event(i int) plog.LogRecord {
	lr := plog.NewLogRecord()
	ev := fmt.Sprintf(`{"specversion":"1.0","id":"ev-%d","source":"nvsentinel://c1/healthevents","type":"com.nvidia.nvsentinel.HealthEvent",`+
		`"time":"2026-12-07T10:00:00.123456789Z","subject":"node-%d","session":"s%d","big":18446744073709551615,`+
		`"data":{"checkName":"GpuXid","isFatal":true,"errorCode":["79"],"n":%d,"text":"üñí \"q\""}}`, i, i, i, i)
	var d cloudevent.Decoder
	if err := d.DecodeString(ev, lr); err != nil {
		panic(err)
	}
	return lr
}

// writeDead writes events [from, to) as the cloudevents exporter does
// (internal/deadletter, the same records), with reason, as writer prefix.
func writeDead(t *testing.T, dir, prefix, reason string, from, to int) {
	t.Helper()
	w, err := deadletter.Open(deadletter.Config{Directory: dir, Prefix: prefix, MaxSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	var recs []deadletter.Record
	for i := from; i < to; i++ {
		lr := sl.LogRecords().AppendEmpty()
		event(i).CopyTo(lr)
		r := deadletter.NewRecord(time.Now(), reason, rl, sl, lr)
		r.Status, r.Endpoint, r.Error = 503, "http://sink/", "unavailable"
		recs = append(recs, r)
	}
	if res, err := w.Write(recs); err != nil || res.Written != len(recs) {
		t.Fatalf("write: %+v %v", res, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// sink keeps the structured CloudEvents of the accepted events; it can
// refuse the first calls.
type sink struct {
	mu        sync.Mutex
	events    map[string][]byte
	order     []string
	calls     int
	failFirst int
	failWith  error
}

func newSink() *sink { return &sink{events: map[string][]byte{}} }

func (s *sink) Capabilities() consumer.Capabilities { return consumer.Capabilities{MutatesData: true} }

func (s *sink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failFirst {
		ld.ResourceLogs().RemoveIf(func(plog.ResourceLogs) bool { return true }) // as a batching queue may
		if s.failWith != nil {
			return s.failWith
		}
		return errors.New("sink down")
	}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				b, err := (cloudevent.Structured{}).AppendEvent(nil, lr)
				if err != nil {
					return consumererror.NewPermanent(err)
				}
				id, _ := lr.Attributes().Get(cloudevent.AttrID)
				s.order = append(s.order, id.Str())
				s.events[id.Str()] = b
			}
		}
	}
	return nil
}

func (s *sink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

func testConfig(dir string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Directory = dir
	cfg.MinFileAge = 0
	cfg.PollInterval = 50 * time.Millisecond
	cfg.MaxBatchEvents = 7
	return cfg
}

type started struct {
	receiver.Logs
	tel *componenttest.Telemetry
}

func start(t *testing.T, cfg *Config, next consumer.Logs, host component.Host) *started {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if host == nil {
		host = componenttest.NewNopHost()
	}
	if err := r.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	s := &started{Logs: r, tel: tel}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return s
}

func (s *started) counter(t *testing.T, name, reason string) int64 {
	if reason == "" {
		return testutil.Counter(t, s.tel, name)
	}
	return testutil.Counter(t, s.tel, name, attribute.String(metadata.ReasonKey, reason))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("ev-%d", i))
	}
	return out
}

func files(t *testing.T, pattern string) []string {
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReplay: the files of two exporters are replayed, each event once and
// unchanged (the same structured CloudEvent, byte for byte, as before it
// was dead-lettered), too_large records are left alone, and each file is
// moved to replayed/ once its events were accepted, never read again.
func TestReplay(t *testing.T) {
	dir := t.TempDir()
	writeDead(t, dir, "cloudevents_nvsentinel", "retries_exhausted", 0, 30)
	writeDead(t, dir, "cloudevents_nvsentinel", "too_large", 30, 33)
	writeDead(t, dir, "cloudevents_omniverse", "rejected", 33, 50)
	s := newSink()
	cfg := testConfig(dir)
	cfg.Reasons.Exclude = []string{"too_large"}
	r := start(t, cfg, s, nil)
	waitFor(t, "3 files replayed", func() bool { return r.counter(t, metadata.MetricFilesReplayed, "") == 3 })
	got := s.ids()
	want := slices.Concat(ids(0, 30), ids(33, 50))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("replayed %v, want each of %v once", got, want)
	}
	for _, id := range want {
		var i int
		_, _ = fmt.Sscanf(id, "ev-%d", &i)
		orig, _ := (cloudevent.Structured{}).AppendEvent(nil, event(i))
		if string(s.events[id]) != string(orig) {
			t.Fatalf("%s changed:\n got  %s\n want %s", id, s.events[id], orig)
		}
	}
	if n := r.counter(t, metadata.MetricEventsSkipped, "too_large"); n != 3 {
		t.Fatalf("%d too_large skipped", n)
	}
	if n := r.counter(t, metadata.MetricEventsReplayed, ""); n != 47 {
		t.Fatalf("events_replayed %d", n)
	}
	if left := files(t, filepath.Join(dir, "*.jsonl")); len(left) != 0 {
		t.Fatalf("files left: %v", left)
	}
	if done := files(t, filepath.Join(dir, "replayed", "*.jsonl")); len(done) != 3 {
		t.Fatalf("replayed files: %v", done)
	}
	// A new file is replayed; the finished ones are not read again.
	writeDead(t, dir, "cloudevents_nvsentinel", "retries_exhausted", 50, 52)
	waitFor(t, "the new file replayed", func() bool { return r.counter(t, metadata.MetricFilesReplayed, "") == 4 })
	if n := len(s.ids()); n != 49 {
		t.Fatalf("%d events after the new file, want 49", n)
	}
}

// TestRefusedBatchReplayedAgain: while the next consumer refuses, nothing
// moves; once it accepts, every event arrives once, in file order.
func TestRefusedBatchReplayedAgain(t *testing.T) {
	dir := t.TempDir()
	writeDead(t, dir, "cloudevents", "retries_exhausted", 0, 20)
	s := newSink()
	s.failFirst = 4
	r := start(t, testConfig(dir), s, nil)
	waitFor(t, "the file replayed", func() bool { return r.counter(t, metadata.MetricFilesReplayed, "") == 1 })
	if got := s.ids(); !slices.Equal(got, ids(0, 20)) {
		t.Fatalf("got %v", got)
	}
}

// TestPermanentRefusalKeepsEvents: events refused for good stay in the
// replayed file; the others are delivered and nothing stops.
func TestPermanentRefusalKeepsEvents(t *testing.T) {
	dir := t.TempDir()
	writeDead(t, dir, "cloudevents", "rejected", 0, 14)
	s := newSink()
	s.failFirst, s.failWith = 1, consumererror.NewPermanent(errors.New("no"))
	r := start(t, testConfig(dir), s, nil)
	waitFor(t, "the file replayed", func() bool { return r.counter(t, metadata.MetricFilesReplayed, "") == 1 })
	if got := s.ids(); !slices.Equal(got, ids(7, 14)) {
		t.Fatalf("got %v", got)
	}
	if n := r.counter(t, metadata.MetricEventsRejected, ReasonPermanent); n != 7 {
		t.Fatalf("%d rejected", n)
	}
	b, err := os.ReadFile(filepath.Join(files(t, filepath.Join(dir, "replayed", "*.jsonl"))[0]))
	if err != nil || len(b) == 0 {
		t.Fatalf("replayed file: %v", err)
	}
}

// TestResumeFromStorage: with storage, a receiver stopped in the middle
// of a file resumes after its last accepted batch; a young file (written
// less than min_file_age ago) is replayed but stays in place until it is
// old enough.
func TestResumeFromStorage(t *testing.T) {
	dir, storeDir := t.TempDir(), t.TempDir()
	writeDead(t, dir, "cloudevents", "retries_exhausted", 0, 35)
	cfg := testConfig(dir)
	cfg.MinFileAge = time.Hour
	host := testutil.NewStorageHost(t, storeDir)
	cfg.Storage = &host.ID
	s := newSink()
	r := start(t, cfg, s, host)
	waitFor(t, "35 events", func() bool { return len(s.ids()) == 35 })
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	host.Close(t)
	if len(files(t, filepath.Join(dir, "*.jsonl"))) != 1 {
		t.Fatal("a file younger than min_file_age was moved")
	}
	// More events in the same file (as a writer appending), a restart:
	// only those are replayed.
	f := files(t, filepath.Join(dir, "*.jsonl"))[0]
	extra := t.TempDir()
	writeDead(t, extra, "x", "retries_exhausted", 35, 40)
	b, _ := os.ReadFile(files(t, filepath.Join(extra, "*.jsonl"))[0])
	fh, err := os.OpenFile(f, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fh.Write(b)
	_ = fh.Close()
	host = testutil.NewStorageHost(t, storeDir)
	defer host.Close(t)
	cfg.MinFileAge = 0
	s2 := newSink()
	r2 := start(t, cfg, s2, host)
	waitFor(t, "the file replayed", func() bool { return r2.counter(t, metadata.MetricFilesReplayed, "") == 1 })
	if got := s2.ids(); !slices.Equal(got, ids(35, 40)) {
		t.Fatalf("after the restart got %v, want only the 5 new events", got)
	}
	if err := r2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestBadLines: lines that are not records are counted and skipped; a
// last line without its newline is left until the file is finished.
func TestBadLines(t *testing.T) {
	dir := t.TempDir()
	writeDead(t, dir, "cloudevents", "rejected", 0, 2)
	f := files(t, filepath.Join(dir, "*.jsonl"))[0]
	rec, _ := json.Marshal(map[string]any{"reason": "rejected", "event": map[string]any{"id": "x"}})
	long := `{"reason":"rejected","event":{"pad":"` + fmt.Sprintf("%02000d", 0) + `"}}`
	fh, _ := os.OpenFile(f, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = fh.WriteString("not json\n{\"reason\":\"rejected\"}\n" + string(rec) + "\n" + long + "\n{\"reason\":\"rej")
	_ = fh.Close()
	s := newSink()
	cfg := testConfig(dir)
	cfg.MaxRecordSize = 1500
	r := start(t, cfg, s, nil)
	waitFor(t, "the file replayed", func() bool { return r.counter(t, metadata.MetricFilesReplayed, "") == 1 })
	for reason, want := range map[string]int64{ReasonNotRecord: 1, ReasonNoEvent: 1, "missing_attribute": 1, ReasonTooLarge: 1, ReasonTruncated: 1} {
		if n := r.counter(t, metadata.MetricEventsRejected, reason); n != want {
			t.Errorf("%s: %d, want %d", reason, n, want)
		}
	}
	if got := s.ids(); !slices.Equal(got, ids(0, 2)) {
		t.Fatalf("got %v", got)
	}
}

// TestDoneMaxSize: done_directory keeps at most done_max_size bytes of
// replayed files, the newest.
func TestDoneMaxSize(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		writeDead(t, dir, fmt.Sprintf("cloudevents%d", i), "retries_exhausted", 10*i, 10*i+10)
		old := time.Now().Add(time.Duration(i-3) * time.Minute) // written in this order
		for _, f := range files(t, filepath.Join(dir, fmt.Sprintf("cloudevents%d-*.jsonl", i))) {
			if err := os.Chtimes(f, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := os.Stat(files(t, filepath.Join(dir, "cloudevents0-*.jsonl"))[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir)
	cfg.DoneMaxSize = st.Size() * 3 / 2
	s := newSink()
	r := start(t, cfg, s, nil)
	waitFor(t, "3 files replayed", func() bool { return r.counter(t, metadata.MetricFilesReplayed, "") == 3 })
	if len(s.ids()) != 30 {
		t.Fatalf("%d events replayed", len(s.ids()))
	}
	done := files(t, filepath.Join(dir, "replayed", "*.jsonl"))
	if len(done) != 1 || !strings.Contains(done[0], "cloudevents2-") || r.counter(t, metadata.MetricDoneDeleted, "") != 2 {
		t.Fatalf("replayed files kept: %v", done)
	}
}
