package structuredlogreceiver

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.uber.org/zap/zapcore"

	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/pkg/structuredlog"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/fileid"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/metadata"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/reader"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/tailer"
)

// seekTag reads the seek tag name from the header of the file at path.
func seekTag(t testing.TB, path, name string) (int64, bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	h, err := structuredlog.ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	return h.Seek(name)
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestReadsEvents(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir, "app.log", nil)
	want := write(t, w, 100)
	s := &sink{}
	o := newObserved(t)
	startWith(t, testConfig(dir), s, nil, o.set)
	waitFor(t, "100 events", func() bool { return s.count() >= 100 })
	want = append(want, write(t, w, 50)...)
	waitFor(t, "150 events", func() bool { return s.count() >= 150 })
	settle(s)
	if got := s.ids(); !slices.Equal(got, want) {
		t.Fatalf("got %d events %v…, want %d", len(got), got[:min(5, len(got))], len(want))
	}
	e := s.snapshot()[0]
	if e.Path != filepath.Join(dir, "app.log") || e.Name != "app.log" || !e.Observed || e.Source != "user@example" {
		t.Fatalf("record = %+v", e)
	}
	path := filepath.Join(dir, "app.log")
	waitFor(t, "the seek tag at the end of the file", func() bool {
		off, ok := seekTag(t, path, "seek")
		return ok && off == fileSize(t, path)
	})
	if n := o.metric(metadata.MetricEventsEmitted, ""); n != 150 {
		t.Errorf("%s = %d, want 150", metadata.MetricEventsEmitted, n)
	}
	if n := o.metric(metadata.MetricBytesRead, ""); n != fileSize(t, path)-structuredlog.HeaderSize {
		t.Errorf("%s = %d, want %d", metadata.MetricBytesRead, n, fileSize(t, path)-structuredlog.HeaderSize)
	}
	if n := o.metric(metadata.MetricFilesTracked, ""); n != 1 {
		t.Errorf("%s = %d, want 1", metadata.MetricFilesTracked, n)
	}
}

func TestStartAtEnd(t *testing.T) {
	dir := t.TempDir()
	old := openWriter(t, dir, "old.log", nil)
	write(t, old, 10)
	appendRaw(t, filepath.Join(dir, "old.log"), `{"id":"torn`) // a line being written
	cfg := testConfig(dir)
	cfg.StartAt = StartAtEnd
	o := newObserved(t)
	s := &sink{}
	startWith(t, cfg, s, nil, o.set)
	// Files found by the first poll are read from where they ended then;
	// the torn line is finished as a valid event and read.
	waitFor(t, "the first poll", func() bool { return o.metric(metadata.MetricFilesTracked, "") == 1 })
	appendRaw(t, filepath.Join(dir, "old.log"), `","source":"u","specversion":"1.0","type":"t"}`+"\n")
	later := append([]string{"torn"}, write(t, old, 3)...)
	// Files appearing later are read from their beginning.
	fresh := openWriter(t, dir, "fresh.log", nil)
	later = append(later, write(t, fresh, 4)...)
	waitFor(t, "8 events", func() bool { return s.count() >= 8 })
	settle(s)
	got := s.ids()
	slices.Sort(got)
	slices.Sort(later)
	if !slices.Equal(got, later) {
		t.Fatalf("got %v, want %v", got, later)
	}
}

func TestResendEvents(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir, "app.log", nil)
	want := write(t, w, 20)
	s := &sink{}
	r := startReceiver(t, testConfig(dir), s, nil)
	waitFor(t, "20 events", func() bool { return s.count() >= 20 })
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := seekTag(t, filepath.Join(dir, "app.log"), "seek"); !ok {
		t.Fatal("no seek tag written")
	}
	cfg := testConfig(dir)
	cfg.ResendEvents = true
	again := &sink{}
	startReceiver(t, cfg, again, nil)
	waitFor(t, "20 events again", func() bool { return again.count() >= 20 })
	settle(again)
	if got := again.ids(); !slices.Equal(got, want) {
		t.Fatalf("resend: got %d events, want %d", len(got), len(want))
	}
}

func TestWriteSeekTagOff(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir, "app.log", nil)
	write(t, w, 5)
	cfg := testConfig(dir)
	cfg.WriteSeekTag = false
	s := &sink{}
	startReceiver(t, cfg, s, nil)
	waitFor(t, "5 events", func() bool { return s.count() >= 5 })
	settle(s)
	if _, ok := seekTag(t, filepath.Join(dir, "app.log"), "seek"); ok {
		t.Fatal("seek tag written with write_seek_tag: false")
	}
}

// TestHeaderFull: a header without room for the seek tag keeps the file
// unchanged; progress continues in memory and nothing is read twice.
func TestHeaderFull(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tight.log")
	hdr := `{"source":"omni.structuredlog","version":"1.0","time":"2025-03-04T05:06:07.123456+00:00"}` + "\n"
	appendRaw(t, path, hdr)
	w := openWriter(t, dir, "tight.log", nil) // appends to the existing file
	want := write(t, w, 10)
	o := newObserved(t)
	s := &sink{}
	startWith(t, testConfig(dir), s, nil, o.set)
	waitFor(t, "10 events", func() bool { return s.count() >= 10 })
	want = append(want, write(t, w, 10)...)
	waitFor(t, "20 events", func() bool { return s.count() >= 20 })
	settle(s)
	if got := s.ids(); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), hdr) {
		t.Fatalf("header changed: %q", b[:len(hdr)])
	}
	if o.logged(zapcore.WarnLevel, "seek tag no longer fits") != 1 {
		t.Fatalf("want one warning about the full header, logs: %v", o.logs.All())
	}
}

func TestMessageMatchMode(t *testing.T) {
	dir := t.TempDir()
	prod := openWriter(t, dir, "prod.log", nil)
	dev := openWriter(t, dir, "dev.log", func(o *structuredlog.Options) { o.Mode = structuredlog.ModeDev; o.IDStart = 1000 })
	test := openWriter(t, dir, "test.log", func(o *structuredlog.Options) { o.Mode = structuredlog.ModeTest; o.IDStart = 2000 })
	write(t, prod, 5)
	write(t, dev, 5)
	write(t, test, 5)
	cfg := testConfig(dir)
	cfg.Mode = "dev"
	cfg.MessageMatchMode = "matching+" // dev and prod
	o := newObserved(t)
	s := &sink{}
	startWith(t, cfg, s, nil, o.set)
	waitFor(t, "10 events", func() bool { return s.count() >= 10 })
	settle(s)
	for _, e := range s.snapshot() {
		if structuredlog.SourceMode(e.Source) == structuredlog.ModeTest {
			t.Fatalf("test-mode event delivered: %+v", e)
		}
	}
	if s.count() != 10 {
		t.Fatalf("%d events, want 10", s.count())
	}
	// Skipped events are counted, and progress moves past them for good.
	if n := o.metric(metadata.MetricEventsRejected, reader.ReasonNotMatched); n != 5 {
		t.Fatalf("rejected by message_match_mode = %d, want 5", n)
	}
	path := filepath.Join(dir, "test.log")
	waitFor(t, "the seek tag past the skipped events", func() bool {
		off, ok := seekTag(t, path, "seek")
		return ok && off == fileSize(t, path)
	})
}

func TestSecondInstanceFails(t *testing.T) {
	dir := t.TempDir()
	startReceiver(t, testConfig(dir), &sink{}, nil)
	r, err := createTestReceiver(testConfig(dir), &sink{}, newObserved(t).set)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Start(context.Background(), nil)
	lock := filepath.Join(dir, ".courier-seek.lock")
	if err == nil || !strings.Contains(err.Error(), lock) {
		t.Fatalf("second Start: %v; want an error naming %s", err, lock)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Another seek tag name is another reader: it may run beside the first.
	cfg := testConfig(dir)
	cfg.SeekTagName = "other"
	startReceiver(t, cfg, &sink{}, nil)
}

// TestWaitsForWriterLock: while a writer holds the file's lock, nothing is
// read; once it lets go, the events arrive.
func TestWaitsForWriterLock(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir, "app.log", nil)
	want := write(t, w, 3)
	path := filepath.Join(dir, "app.log")
	holder, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Close() }()
	if err := structuredlog.TryLockExclusive(holder); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	startReceiver(t, testConfig(dir), s, nil)
	settle(s) // several polls find the file locked
	if s.count() != 0 {
		t.Fatalf("%d events read while the writer held the lock", s.count())
	}
	if err := structuredlog.Unlock(holder); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 events", func() bool { return s.count() >= 3 })
	settle(s)
	if got := s.ids(); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestTruncationRestartsAfterHeader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, dir, "app.log", nil)
	first := write(t, w, 10)
	s := &sink{}
	startReceiver(t, testConfig(dir), s, nil)
	waitFor(t, "10 events", func() bool { return s.count() >= 10 })
	settle(s)
	if err := os.Truncate(path, structuredlog.HeaderSize); err != nil {
		t.Fatal(err)
	}
	// The stale seek tag is replaced even before anything new is written.
	waitFor(t, "the seek tag reset to the end of the header", func() bool {
		off, ok := seekTag(t, path, "seek")
		return ok && off == structuredlog.HeaderSize
	})
	second := write(t, w, 3)
	waitFor(t, "13 events", func() bool { return s.count() >= 13 })
	settle(s)
	if got, want := s.ids(), append(first, second...); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestDeletedFilesForgotten: the state of deleted files does not pile up.
func TestDeletedFilesForgotten(t *testing.T) {
	dir := t.TempDir()
	o := newObserved(t)
	s := &sink{}
	startWith(t, testConfig(dir), s, nil, o.set)
	for round := range 5 {
		for i := range 20 {
			w := openWriter(t, dir, "f"+string(rune('a'+i))+".log", nil)
			write(t, w, 1)
			_ = w.Close()
		}
		waitFor(t, "the round's events", func() bool { return s.count() >= 20*(round+1) })
		waitFor(t, "20 files tracked", func() bool { return o.metric(metadata.MetricFilesTracked, "") == 20 })
		settle(s)
		for i := range 20 {
			_ = os.Remove(filepath.Join(dir, "f"+string(rune('a'+i))+".log"))
		}
		waitFor(t, "no files tracked", func() bool { return o.metric(metadata.MetricFilesTracked, "") == 0 })
	}
	if s.count() != 100 {
		t.Fatalf("%d events, want 100", s.count())
	}
}

// TestAtLeastOnce: a consumer that fails gets the same events again until
// it accepts them; nothing is lost and, as the failing calls keep nothing,
// nothing is duplicated. The failing calls change and shrink the batch they
// are given: the events offered again are read anew, unchanged.
func TestAtLeastOnce(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir, "app.log", nil)
	want := write(t, w, 250)
	cfg := testConfig(dir)
	cfg.MaxBatchEvents = 100
	cfg.MaxInFlightBatches = 1 // batches in flight together may overtake each other: this test checks exact order
	s := &sink{failFirst: 4, mutate: true}
	o := newObserved(t)
	startWith(t, cfg, s, nil, o.set)
	waitFor(t, "250 events", func() bool { return s.count() >= 250 })
	want = append(want, write(t, w, 10)...)
	waitFor(t, "260 events", func() bool { return s.count() >= 260 })
	settle(s)
	if got := s.ids(); !slices.Equal(got, want) {
		t.Fatalf("got %d events, want %d in order", len(got), len(want))
	}
	for _, e := range s.events {
		if e.Source == "changed" {
			t.Fatalf("event %s was offered again as the failing consumer left it", e.ID)
		}
	}
	if s.calls < 4+3 {
		t.Fatalf("%d ConsumeLogs calls", s.calls)
	}
	if o.logged(zapcore.WarnLevel, "refused events; reading them again") == 0 {
		t.Fatal("no warning about the refused batch")
	}
	// The seek tag only moved once the events were accepted.
	path := filepath.Join(dir, "app.log")
	waitFor(t, "the seek tag at the end", func() bool {
		off, ok := seekTag(t, path, "seek")
		return ok && off == fileSize(t, path)
	})
}

// TestRefusedWhileReadingOn: a batch is refused while the receiver has
// already read the next one from another file (deliveries overlap reading).
// Both files are read again from their committed progress: every event
// arrives once, each file's in order.
func TestRefusedWhileReadingOn(t *testing.T) {
	dir := t.TempDir()
	a := openWriter(t, dir, "a.log", nil)
	wantA := write(t, a, 20)
	b := openWriter(t, dir, "b.log", func(o *structuredlog.Options) { o.IDStart = 1000 })
	wantB := write(t, b, 30)
	// a is older: batch 1 and 2 are a's, batch 3 is b's first ten, read
	// while batch 2 is being refused.
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(filepath.Join(dir, "a.log"), old, old); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir)
	cfg.MaxBatchEvents = 10
	cfg.MaxInFlightBatches = 1 // batches in flight together may overtake each other: this test checks exact order
	s := &sink{failOn: 2, failDelay: 100 * time.Millisecond}
	startReceiver(t, cfg, s, nil)
	waitFor(t, "50 events", func() bool { return s.count() >= 50 })
	settle(s)
	var gotA, gotB []string
	for _, e := range s.events {
		if e.Name == "a.log" {
			gotA = append(gotA, e.ID)
		} else {
			gotB = append(gotB, e.ID)
		}
	}
	if !slices.Equal(gotA, wantA) || !slices.Equal(gotB, wantB) {
		t.Fatalf("got a %v, b %v; want a %v, b %v", gotA, gotB, wantA, wantB)
	}
}

// TestPermanentErrorIsolates: a batch refused for good (here too large
// as a whole, and holding an event refused alone) is read again and split
// until the refused event stands alone: it is dead-lettered (file, counter
// by reason), every other event is delivered once, in order, and the seek
// tag passes them all.
func TestPermanentErrorIsolates(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir, "app.log", nil)
	ids := write(t, w, 300)
	o := newObserved(t)
	s := &sink{refuse: map[string]bool{ids[137]: true}, maxBatch: 40}
	cfg := testConfig(dir)
	cfg.DeadLetter.Directory = t.TempDir()
	r := startWith(t, cfg, s, nil, o.set)
	waitFor(t, "the refused event dead-lettered", func() bool {
		return o.metric("courier.structured_log.events_dead_lettered", "rejected") == 1
	})
	more := write(t, w, 5) // the fast path again
	want := slices.Concat(ids[:137], ids[138:], more)
	waitFor(t, "304 events", func() bool { return s.count() >= 304 })
	settle(s)
	if got := s.ids(); !slices.Equal(got, want) {
		t.Fatalf("got %d events, want %d in order, each once", len(got), len(want))
	}
	if n := o.metric(metadata.MetricEventsRejected, tailer.ReasonPermanent); n != 1 {
		t.Fatalf("%d events rejected as %s", n, tailer.ReasonPermanent)
	}
	if n := o.metric(metadata.MetricEventsEmitted, ""); n != 304 {
		t.Fatalf("events_emitted %d", n)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cfg.DeadLetter.Directory, "structured_log-*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("dead-letter files %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Reason, Error string
		Event         struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.Reason != "rejected" || rec.Event.ID != ids[137] || !strings.Contains(rec.Error, ids[137]) {
		t.Fatalf("dead letter %s: %+v %v", b, rec, err)
	}
}

// TestPermanentErrorTooLarge: events that are too large even alone are
// dead-lettered as too_large; nothing stops.
func TestPermanentErrorTooLarge(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir, "app.log", nil)
	o := newObserved(t)
	s := &sink{}
	_ = write(t, w, 3)
	cfg := testConfig(dir)
	startWith(t, cfg, s, nil, o.set)
	waitFor(t, "3 events", func() bool { return s.count() >= 3 })
	s.mu.Lock()
	s.maxBatch = -1 // from now on every event is too large, alone too
	s.mu.Unlock()
	_ = write(t, w, 4)
	waitFor(t, "4 events dead-lettered as too_large", func() bool {
		return o.metric("courier.structured_log.events_dead_lettered", "too_large") == 4 &&
			o.metric("courier.structured_log.dead_letter_dropped", "no_directory") == 4
	})
}

// TestProgressOnlyBatchFreesDescriptor: with one descriptor allowed, a
// file whose lines were all skipped must give its descriptor up to the
// next file once its progress is committed.
func TestProgressOnlyBatchFreesDescriptor(t *testing.T) {
	dir := t.TempDir()
	appendRaw(t, filepath.Join(dir, "a.log"), pad(goodHeader)+strings.Repeat("not json\n", 5))
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(filepath.Join(dir, "a.log"), old, old); err != nil {
		t.Fatal(err)
	}
	want := write(t, openWriter(t, dir, "b.log", nil), 3)
	cfg := testConfig(dir)
	cfg.MaxConcurrentFiles = 1
	s := &sink{}
	startReceiver(t, cfg, s, nil)
	waitFor(t, "b.log's events", func() bool { return s.count() >= 3 })
	settle(s)
	if got := s.ids(); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestReusedInode: a file whose descriptor was closed (max_concurrent_files)
// is deleted and a new file gets its inode number. The header time tells
// them apart: the new file is read from its beginning, not from the old
// file's offset.
func TestReusedInode(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxConcurrentFiles = 1
	s := &sink{}
	startReceiver(t, cfg, s, nil)
	reused := 0
	var want []string
	for round := range 10 {
		a := openWriter(t, dir, "a.log", func(o *structuredlog.Options) { o.IDStart = uint64(round)*1000 + 1 })
		want = append(want, write(t, a, 20)...)
		_ = a.Close()
		b := openWriter(t, dir, "b.log", func(o *structuredlog.Options) { o.IDStart = uint64(round)*1000 + 500 })
		want = append(want, write(t, b, 1)...) // reading b closes a's descriptor
		_ = b.Close()
		waitFor(t, "both files read", func() bool { return s.count() >= len(want) })
		old, err := fileid.Stat(filepath.Join(dir, "a.log"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, "a.log")); err != nil {
			t.Fatal(err)
		}
		a2 := openWriter(t, dir, "a.log", func(o *structuredlog.Options) { o.IDStart = uint64(round)*1000 + 100 })
		want = append(want, write(t, a2, 3)...) // shorter than a: an old offset would skip them all
		_ = a2.Close()
		if now, err := fileid.Stat(filepath.Join(dir, "a.log")); err == nil && now.ID == old.ID {
			reused++
		}
		waitFor(t, "the new a.log", func() bool { return s.count() >= len(want) })
		_ = os.Remove(filepath.Join(dir, "a.log"))
		_ = os.Remove(filepath.Join(dir, "b.log"))
	}
	settle(s)
	got := s.ids()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	t.Logf("the inode was reused in %d of 10 rounds", reused)
}

// TestConsumertestSink runs the receiver into the collector's own test sink
// and checks the records themselves.
func TestConsumertestSink(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir, "omni.kit.sysinfo.log", func(o *structuredlog.Options) {
		o.Mode = structuredlog.ModeDev
		o.Extra = map[string]string{"appname": "omni.create"}
	})
	ids := write(t, w, 25)
	s := new(consumertest.LogsSink)
	startReceiver(t, testConfig(dir), s, nil)
	waitFor(t, "25 records", func() bool { return s.LogRecordCount() >= 25 })
	var n int
	for _, ld := range s.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					attrs := lr.Attributes().AsRaw()
					if attrs[cloudevent.AttrID] != ids[n] || attrs[cloudevent.AttrSource] != "user@example (dev)" ||
						attrs[cloudevent.AttrPrefix+"appname"] != "omni.create" ||
						attrs[reader.AttrFileName] != "omni.kit.sysinfo.log" ||
						attrs[reader.AttrFilePath] != filepath.Join(dir, "omni.kit.sysinfo.log") {
						t.Fatalf("record %d attributes: %v", n, attrs)
					}
					if lr.EventName() != "com.example.test" || lr.Timestamp() == 0 || lr.ObservedTimestamp() < lr.Timestamp() {
						t.Fatalf("record %d: event name %q, time %v, observed %v", n, lr.EventName(), lr.Timestamp(), lr.ObservedTimestamp())
					}
					if body := lr.Body().Map().AsRaw(); body["seq"] != int64(n) {
						t.Fatalf("record %d body: %v", n, body)
					}
					n++
				}
			}
		}
	}
	if n != 25 {
		t.Fatalf("%d records", n)
	}
}
