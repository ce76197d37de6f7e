package reader

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/pkg/structuredlog"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/checkpoint"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/fileid"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/modematch"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/tracker"
)

const header = `{"source":"omni.structuredlog","version":"1.0","time":"2025-03-04T05:06:07.123456+00:00"}`

func padded(h string) string {
	return h + strings.Repeat(" ", structuredlog.HeaderSize-1-len(h)) + "\n"
}

func event(id string) string {
	return `{"id":"` + id + `","source":"u@x","specversion":"1.0","type":"com.example.t","dataschema":"example-1.0","time":"2025-03-04T05:06:07.123456Z","session":"1","data":{"n":1}}`
}

// outcome is what reading a file produced, or what the oracle expects.
type outcome struct {
	status   Status // StatusDone, StatusWait or StatusRejected
	ids      []string
	rejected []string // reasons, in order
	readPos  int64
}

func (o outcome) String() string {
	return fmt.Sprintf("status %d, ids %q, rejected %q, read position %d", o.status, o.ids, o.rejected, o.readPos)
}

var scratch struct {
	once sync.Once
	dir  string
	err  error
}

// scratchDir is one folder for every file readAll writes, so that fuzzing
// does not create and remove a folder per input.
func scratchDir(t testing.TB) string {
	scratch.once.Do(func() { scratch.dir, scratch.err = os.MkdirTemp("", "structuredlog-reader-") })
	if scratch.err != nil {
		t.Fatal(scratch.err)
	}
	return scratch.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if scratch.dir != "" {
		_ = os.RemoveAll(scratch.dir)
	}
	os.Exit(code)
}

// readAll reads the file holding data to the end through a Reader with
// the given sizes, delivering batches of at most two events. With cut > 0
// the file first holds only data[:cut] and is read to its end, then the
// rest is appended and reading goes on: lines torn at the cut must come out
// the same.
func readAll(t testing.TB, data []byte, bufSize, maxEvent, cut int) outcome {
	t.Helper()
	path := filepath.Join(scratchDir(t), "f.log")
	first := data
	if cut > 0 {
		first = data[:cut]
	}
	if err := os.WriteFile(path, first, 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Remove(path) }()
	fd, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fd.Close() }()
	info, err := fileid.Fstat(fd)
	if err != nil {
		t.Fatal(err)
	}
	tr := tracker.New(1, false, tracker.Counters{})
	f := tr.Add(info.ID, path, true, info.Size)
	var out outcome
	all, _ := modematch.Parse("all", structuredlog.ModeProd)
	r := New(Config{
		MaxEventSize: maxEvent,
		SeekTagName:  "seek",
		Match:        all,
		BufferSize:   bufSize,
		OnRejectLine: func(_ *tracker.File, reason string, _ error) { out.rejected = append(out.rejected, reason) },
	})
	b := NewBatch(2, 1<<20)
	collect := func() {
		ld, _ := b.Take()
		for _, lr := range ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
			id, _ := lr.Attributes().Get(cloudevent.AttrID)
			out.ids = append(out.ids, id.Str())
			if p, _ := lr.Attributes().Get(AttrFilePath); p.Str() != path {
				t.Fatalf("log.file.path = %q", p.Str())
			}
		}
	}
	readToEnd := func(size int) {
		for range 1_000_000 {
			st, err := r.Read(fd, f, b)
			if err != nil {
				t.Fatal(err)
			}
			collect()
			if st == StatusFull {
				continue
			}
			out.status, out.readPos = st, f.ReadPos
			if st == StatusDone && f.Scanned != int64(size) {
				t.Fatalf("done with Scanned %d, file has %d bytes", f.Scanned, size)
			}
			return
		}
		t.Fatal("reader does not finish")
	}
	readToEnd(len(first))
	if cut > 0 && out.status != StatusRejected {
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data[cut:]); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		readToEnd(len(data))
	}
	return out
}

// expect is the oracle: the same file read naively, line by line.
func expect(data []byte, maxEvent int) outcome {
	end := bytes.IndexByte(data, '\n')
	if end < 0 {
		if len(data) < structuredlog.MaxHeaderSize && (len(data) == 0 || data[0] == '{') {
			return outcome{status: StatusWait}
		}
		return outcome{status: StatusRejected}
	}
	if end >= structuredlog.MaxHeaderSize {
		return outcome{status: StatusRejected}
	}
	h, err := structuredlog.ParseHeader(data[:end+1])
	if err != nil {
		return outcome{status: StatusRejected}
	}
	start := int64(h.Len)
	if off, ok := h.Seek("seek"); ok && off >= start && off <= int64(len(data)) {
		start = off
	}
	out := outcome{status: StatusDone, readPos: start}
	var dec cloudevent.Decoder
	rest := data[start:]
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return out
		}
		line := rest[:i]
		rest = rest[i+1:]
		out.readPos += int64(i) + 1
		switch {
		case len(line) > maxEvent:
			out.rejected = append(out.rejected, ReasonTooLarge)
		case len(bytes.Trim(line, " \t\r")) == 0:
		default:
			lr := plog.NewLogRecord()
			if err := dec.Decode(line, lr); err != nil {
				out.rejected = append(out.rejected, string(cloudevent.ReasonOf(err)))
				continue
			}
			id, _ := lr.Attributes().Get(cloudevent.AttrID)
			out.ids = append(out.ids, id.Str())
		}
	}
}

func check(t *testing.T, data []byte, bufSize, maxEvent, cut int) {
	t.Helper()
	if cut > 0 {
		// Cut only after a complete header: a file whose first line is
		// incomplete is judged on what it has (see readHeader).
		if i := bytes.IndexByte(data, '\n'); i < 0 || cut <= i || cut >= len(data) {
			cut = 0
		} else if h, err := structuredlog.ParseHeader(data[:i+1]); err == nil {
			if off, ok := h.Seek("seek"); ok && off > int64(cut) {
				cut = 0 // a seek tag never points past the end of its file
			}
		}
	}
	got, want := readAll(t, data, bufSize, maxEvent, cut), expect(data, maxEvent)
	if got.status != want.status || !slices.Equal(got.ids, want.ids) || !slices.Equal(got.rejected, want.rejected) ||
		(want.status == StatusDone && got.readPos != want.readPos) {
		t.Fatalf("buffer %d, max event %d, cut %d, file %q:\n got %v\nwant %v", bufSize, maxEvent, cut, data, got, want)
	}
}

func seeds() [][]byte {
	ev := func(ids ...string) string {
		var s string
		for _, id := range ids {
			s += event(id) + "\n"
		}
		return s
	}
	long := event(strings.Repeat("x", 300))
	return [][]byte{
		[]byte(padded(header) + ev("a", "b", "c")),
		[]byte(padded(header) + ev("a", "b") + event("torn")[:40]),
		[]byte(padded(header) + ev("a") + "\n  \r\n" + "not json\n" + "[1,2]\n" + `{"id":"x"}` + "\n" + ev("b")),
		[]byte(padded(header) + long + "\n" + ev("a") + long[:100]),
		[]byte(padded(header) + strings.Repeat("y", 5000) + "\n" + ev("after-long")),
		[]byte(padded(header)[:100]),
		[]byte(""),
		[]byte("plain text log\nmore\n"),
		[]byte(`{"source":"omni.structuredlog","version":"2.0","time":"t"}` + "\n" + ev("a")),
		[]byte(`{"source":"other","version":"1.0","time":"t"}` + "\n" + ev("a")),
		[]byte(padded(strings.TrimSuffix(header, "}")+`,"seek":`+fmt.Sprint(structuredlog.HeaderSize+len(ev("a")))+"}") + ev("a", "b")),
		[]byte(padded(strings.TrimSuffix(header, "}")+`,"seek":99999}`) + ev("a", "b")),
		[]byte(padded(strings.TrimSuffix(header, "}")+`,"seek":3}`) + ev("a")),
		[]byte(padded(header) + `{"id":7,"source":"u","specversion":"1.0","type":"t"}` + "\n" + `{"id":"1","source":"u","specversion":"0.3","type":"t"}` + "\n"),
	}
}

func TestReadMatchesOracle(t *testing.T) {
	for i, data := range seeds() {
		for _, bufSize := range []int{1, 7, 64, 300, DefaultBufferSize} {
			for _, maxEvent := range []int{10, 250, 1000, 10000000} {
				for _, cut := range []int{0, 300, 400, len(data) - 5} {
					t.Run(fmt.Sprintf("%d/%d/%d/%d", i, bufSize, maxEvent, cut), func(t *testing.T) {
						check(t, data, bufSize, maxEvent, cut)
					})
				}
			}
		}
	}
}

// FuzzRead compares the reader, with small buffers and limits that force
// refills, growth and the skipping of long lines, and with the file's end
// written only after a first read, against reading the whole file naively
// line by line.
func FuzzRead(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s, uint8(16), uint16(200), uint16(0))
		f.Add(s, uint8(255), uint16(5000), uint16(len(s)-3))
	}
	f.Fuzz(func(t *testing.T, data []byte, buf uint8, maxEvent, cut uint16) {
		if len(data) > 1<<16 {
			return
		}
		check(t, data, 1+int(buf), 1+int(maxEvent), int(cut))
	})
}

func TestStartPositions(t *testing.T) {
	events := event("a") + "\n" + event("b") + "\n"
	data := []byte(padded(header) + events + event("torn")[:30])
	path := filepath.Join(t.TempDir(), "f.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	all, _ := modematch.Parse("all", structuredlog.ModeProd)
	read := func(cfg Config, foundAtStart bool) (*tracker.File, int) {
		fd, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = fd.Close() }()
		info, _ := fileid.Fstat(fd)
		f := tracker.New(1, false, tracker.Counters{}).Add(info.ID, path, foundAtStart, info.Size)
		cfg.MaxEventSize, cfg.SeekTagName, cfg.Match = 1000, "seek", all
		b := NewBatch(100, 1<<20)
		if st, err := New(cfg).Read(fd, f, b); st != StatusDone || err != nil {
			t.Fatalf("Read = %v, %v", st, err)
		}
		return f, b.Len()
	}
	hdr := int64(structuredlog.HeaderSize)
	lineEnd := hdr + int64(len(events))

	if f, n := read(Config{}, true); n != 2 || f.Offset != hdr || f.ReadPos != lineEnd {
		t.Errorf("beginning: %d events, offset %d, read position %d", n, f.Offset, f.ReadPos)
	}
	if f, n := read(Config{StartAtEnd: true}, true); n != 0 || f.ReadPos != lineEnd {
		t.Errorf("end: %d events, read position %d, want %d (after the last complete line)", n, f.ReadPos, lineEnd)
	}
	if _, n := read(Config{StartAtEnd: true}, false); n != 2 {
		t.Errorf("end, file found after start: %d events, want 2", n)
	}
	second := hdr + int64(len(event("a"))) + 1
	stored := func(checkpoint.Key) (int64, bool) { return second, true }
	if f, n := read(Config{Stored: stored, StartAtEnd: true}, true); n != 1 || f.Offset != second {
		t.Errorf("stored progress: %d events from %d", n, f.Offset)
	}
	if _, n := read(Config{Stored: stored, ResendEvents: true}, true); n != 2 {
		t.Errorf("resend_events: %d events, want 2", n)
	}
}

func TestBusyWhileWriterHoldsLock(t *testing.T) {
	dir := t.TempDir()
	w, err := structuredlog.Open(structuredlog.Options{Dir: dir, Name: "a.log", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	if _, err := w.Write("com.example.t", "example-1.0", nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a.log")
	holder, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Close() }()
	if err := structuredlog.TryLockExclusive(holder); err != nil {
		t.Fatal(err)
	}
	fd, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fd.Close() }()
	info, _ := fileid.Fstat(fd)
	f := tracker.New(1, false, tracker.Counters{}).Add(info.ID, path, true, info.Size)
	all, _ := modematch.Parse("all", structuredlog.ModeProd)
	r := New(Config{MaxEventSize: 1000, SeekTagName: "seek", Match: all})
	b := NewBatch(10, 1<<20)
	if st, err := r.Read(fd, f, b); st != StatusBusy || err != nil {
		t.Fatalf("Read while locked = %v, %v; want StatusBusy", st, err)
	}
	if err := structuredlog.Unlock(holder); err != nil {
		t.Fatal(err)
	}
	if st, err := r.Read(fd, f, b); st != StatusDone || err != nil || b.Len() != 1 {
		t.Fatalf("Read after unlock = %v, %v, %d events", st, err, b.Len())
	}
}

func TestTruncationRestartsAfterHeader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	if err := os.WriteFile(path, []byte(padded(header)+event("a")+"\n"+event("b")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fd.Close() }()
	info, _ := fileid.Fstat(fd)
	f := tracker.New(1, false, tracker.Counters{}).Add(info.ID, path, true, info.Size)
	all, _ := modematch.Parse("all", structuredlog.ModeProd)
	r := New(Config{MaxEventSize: 1000, SeekTagName: "seek", Match: all})
	ids := func(b *Batch) []string {
		var ids []string
		ld, _ := b.Take()
		for _, lr := range ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
			v, _ := lr.Attributes().Get(cloudevent.AttrID)
			ids = append(ids, v.Str())
		}
		return ids
	}
	b := NewBatch(10, 1<<20)
	if _, err := r.Read(fd, f, b); err != nil || !slices.Equal(ids(b), []string{"a", "b"}) {
		t.Fatalf("first read: %v, %v", ids(b), err)
	}
	gen := f.Gen
	if err := os.Truncate(path, structuredlog.HeaderSize); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(event("c") + "\n"); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	b = NewBatch(10, 1<<20)
	if _, err := r.Read(fd, f, b); err != nil || !slices.Equal(ids(b), []string{"c"}) {
		t.Fatalf("after truncation: %v, %v", ids(b), err)
	}
	if f.Gen == gen || f.State != tracker.StateActive {
		t.Fatalf("truncation not noticed: gen %d → %d, state %v", gen, f.Gen, f.State)
	}
}

func TestBatchSpareSlot(t *testing.T) {
	b := NewBatch(10, 1<<20)
	lr := b.slot()
	lr.Attributes().PutStr("partial", "x")
	b.release()
	lr = b.slot()
	if lr.Attributes().Len() != 0 {
		t.Fatal("reused slot not cleared")
	}
	lr.Attributes().PutStr("ok", "y")
	b.added(1)
	b.slot()
	b.release()
	ld, _ := b.Take()
	if n := ld.LogRecordCount(); n != 1 {
		t.Fatalf("%d records delivered, want 1 (the spare slot is dropped)", n)
	}
}

func TestBatchTakeMarks(t *testing.T) {
	tr := tracker.New(2, false, tracker.Counters{})
	f := tr.Add(fileid.ID{Dev: 1, Ino: 2}, "/x/a.log", true, 0)
	b := NewBatch(10, 1<<20)
	f.ReadPos, f.Gen = 300, 4
	b.touch(f)
	b.slot()
	b.added(10)
	f.ReadPos = 500 // read further before the batch is taken
	ld, marks := b.Take()
	if ld.LogRecordCount() != 1 || !slices.Equal(marks, []Mark{{File: f, Gen: 4, Pos: 500}}) {
		t.Fatalf("Take = %d records, marks %+v", ld.LogRecordCount(), marks)
	}
	if f.InBatch || !b.Empty() {
		t.Fatalf("after Take: InBatch %v, batch empty %v", f.InBatch, b.Empty())
	}
}
