package deadletter

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func record(i int, size int) Record {
	return Record{
		Time:     time.Date(2026, 7, 14, 10, 30, 0, 0, time.UTC),
		Reason:   "rejected",
		Status:   400,
		Endpoint: "http://sink/",
		Error:    "bad request",
		Event:    json.RawMessage(`{"id":"` + strings.Repeat("x", size) + `","n":` + itoa(i) + `}`),
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// readAll returns the n fields of every record in the writer's files, oldest first.
func readAll(t *testing.T, dir, prefix string) []int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix+"-") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r struct {
				Reason string `json:"reason"`
				Status int    `json:"status"`
				Event  struct {
					N int `json:"n"`
				} `json:"event"`
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: not a JSON line: %v", e.Name(), err)
			}
			if r.Reason != "rejected" || r.Status != 400 {
				t.Fatalf("record %s", sc.Text())
			}
			out = append(out, r.Event.N)
		}
		_ = f.Close()
	}
	return out
}

func lineSize(t *testing.T, r Record) int64 {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(b)) + 1
}

func TestWriteAndReopen(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Config{Directory: dir, Prefix: "cloudevents", MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Write([]Record{record(1, 10), record(2, 10)})
	if err != nil || res.Written != 2 {
		t.Fatalf("write: %+v %v", res, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]Record{record(3, 10)}); err == nil {
		t.Fatal("write after close succeeded")
	}
	// Another writer in the same directory does not see or count these files.
	other, err := Open(Config{Directory: dir, Prefix: "other", MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if other.Size() != 0 {
		t.Fatalf("other prefix accounted %d bytes", other.Size())
	}
	_ = other.Close()

	w2, err := Open(Config{Directory: dir, Prefix: "cloudevents", MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if w2.Size() != 2*lineSize(t, record(1, 10)) {
		t.Fatalf("reopened size %d", w2.Size())
	}
	if _, err := w2.Write([]Record{record(3, 10)}); err != nil {
		t.Fatal(err)
	}
	_ = w2.Close()
	if got := readAll(t, dir, "cloudevents"); len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("records %v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("a reopened writer must start its own file; files: %d", len(entries))
	}
	info, _ := entries[0].Info()
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, want 0600", info.Mode().Perm())
	}
}

func TestDropOldestKeepsBound(t *testing.T) {
	dir := t.TempDir()
	one := lineSize(t, record(10, 100))
	maxSize := 20 * one
	w, err := Open(Config{Directory: dir, Prefix: "p", MaxSize: maxSize, OnFull: DropOldest})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	var evicted int
	for i := 10; i < 110; i++ {
		res, err := w.Write([]Record{record(i, 100)})
		if err != nil || res.Written != 1 {
			t.Fatalf("write %d: %+v %v", i, res, err)
		}
		evicted += res.Evicted
		if w.Size() > maxSize {
			t.Fatalf("size %d over bound %d", w.Size(), maxSize)
		}
	}
	got := readAll(t, dir, "p")
	if len(got)+evicted != 100 {
		t.Fatalf("kept %d + evicted %d != 100", len(got), evicted)
	}
	if got[len(got)-1] != 109 || len(got) < 10 {
		t.Fatalf("kept %v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("kept records are not the most recent run: %v", got)
		}
	}
}

func TestDropNewRefuses(t *testing.T) {
	dir := t.TempDir()
	one := lineSize(t, record(10, 100))
	w, err := Open(Config{Directory: dir, Prefix: "p", MaxSize: 5 * one, OnFull: DropNew})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	recs := make([]Record, 8)
	for i := range recs {
		recs[i] = record(10+i, 100)
	}
	res, err := w.Write(recs)
	if err != nil || res.Written != 5 || res.Refused != 3 || res.Evicted != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if got := readAll(t, dir, "p"); len(got) != 5 || got[0] != 10 || got[4] != 14 {
		t.Fatalf("kept %v", got)
	}
}

func TestRecordLargerThanBound(t *testing.T) {
	w, err := Open(Config{Directory: t.TempDir(), Prefix: "p", MaxSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	res, err := w.Write([]Record{record(1, 200)})
	if err != nil || res.Refused != 1 || res.Written != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestLogRecordInsteadOfEvent(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(Config{Directory: dir, Prefix: "p", MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	r := Record{Time: time.Now(), Reason: "missing_attribute", Error: "no id", LogRecord: json.RawMessage(`{"resourceLogs":[]}`)}
	if _, err := w.Write([]Record{r}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	entries, _ := os.ReadDir(dir)
	b, _ := os.ReadFile(filepath.Join(dir, entries[0].Name()))
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["event"]; ok {
		t.Fatalf("event present: %s", b)
	}
	if _, ok := m["status"]; ok {
		t.Fatalf("status present without an answer: %s", b)
	}
	if m["reason"] != "missing_attribute" || m["log_record"] == nil {
		t.Fatalf("%s", b)
	}
}

// TestReplayedFilesNotEvicted: files a dead_letter receiver moved away are
// no longer counted, and not reported as evicted when room is made.
func TestReplayedFilesNotEvicted(t *testing.T) {
	dir := t.TempDir()
	one := lineSize(t, record(0, 100))
	w, err := Open(Config{Directory: dir, Prefix: "cloudevents", MaxSize: 20 * one})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	for i := range 4 { // four files of two records (a file holds a tenth of MaxSize)
		if _, err := w.Write([]Record{record(2*i, 100), record(2*i+1, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Fatalf("%d files", len(entries))
	}
	// The two oldest files are replayed and moved away.
	for _, e := range entries[:2] {
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(t.TempDir(), e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	var evicted int
	for i := range 14 {
		res, err := w.Write([]Record{record(100+i, 100)})
		if err != nil {
			t.Fatal(err)
		}
		evicted += res.Evicted
	}
	if evicted != 0 {
		t.Fatalf("%d records reported evicted; the only files removed were moved away by a replay", evicted)
	}
}
