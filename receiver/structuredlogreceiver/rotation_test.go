package structuredlogreceiver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/pkg/structuredlog"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/fileid"
)

// checkExactlyOnce checks that every id of each writer (ids counting up
// from its start) arrived exactly once.
func checkExactlyOnce(t *testing.T, got []event, starts []uint64, perWriter int) {
	t.Helper()
	seen := make(map[string]bool, len(got))
	for _, e := range got {
		if seen[e.ID] {
			t.Fatalf("event %s delivered twice", e.ID)
		}
		seen[e.ID] = true
	}
	for _, s := range starts {
		for i := range uint64(perWriter) {
			if !seen[strconv.FormatUint(s+i, 10)] {
				t.Fatalf("event %d of writer %d never arrived (%d of %d arrived)", i, s, len(got), len(starts)*perWriter)
			}
		}
	}
	if len(got) != len(starts)*perWriter {
		t.Fatalf("%d events, want %d", len(got), len(starts)*perWriter)
	}
}

// position is where an event sits on disk: which file, which line.
type position struct {
	file fileid.ID
	line int
}

// positions reads every file matching pattern and maps each event id to
// its position.
func positions(t *testing.T, pattern string) map[string]position {
	t.Helper()
	paths, _ := filepath.Glob(pattern)
	pos := make(map[string]position)
	var dec cloudevent.Decoder
	for _, p := range paths {
		info, err := fileid.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		for i, line := range lines[1:] {
			lr := plog.NewLogRecord()
			if err := dec.Decode([]byte(line), lr); err != nil {
				t.Fatalf("%s line %d: %v", p, i+2, err)
			}
			id, _ := lr.Attributes().Get(cloudevent.AttrID)
			pos[id.Str()] = position{file: info.ID, line: i}
		}
	}
	return pos
}

// checkFileOrder checks that the events of each file arrived in the order
// of its lines, and reports (without failing) how often a writer's events
// arrived out of order across files: files renamed while a folder is read
// can be missed by that read, so order across a rotation is best effort.
func checkFileOrder(t *testing.T, got []event, pos map[string]position) {
	t.Helper()
	last := make(map[fileid.ID]int)
	for _, e := range got {
		p, ok := pos[e.ID]
		if !ok {
			t.Fatalf("event %s is in no file", e.ID)
		}
		if l, ok := last[p.file]; ok && p.line <= l {
			t.Fatalf("event %s (line %d of file %v) arrived after line %d of the same file", e.ID, p.line, p.file, l)
		}
		last[p.file] = p.line
	}
	t.Logf("%d events from %d files; %d times a writer's event arrived before an earlier one of a rotated file",
		len(got), len(last), inversions(got))
}

// inversions counts events that arrived after a later event of the same
// writer (writers' ids are a million apart).
func inversions(got []event) int {
	n := 0
	last := make(map[uint64]uint64)
	for _, e := range got {
		id, _ := strconv.ParseUint(e.ID, 10, 64)
		w := id / 1_000_000
		if l, ok := last[w]; ok && id < l {
			n++
		}
		last[w] = max(last[w], id)
	}
	return n
}

// TestRotationWhileReading: two writers append to one file with a small
// size limit, so it rotates (X.log → X.1.log → X.2.log …) many times while
// the receiver reads. Every event arrives once, each file's in order.
func TestRotationWhileReading(t *testing.T) {
	dir := t.TempDir()
	s := &sink{}
	cfg := testConfig(dir)
	cfg.MaxBatchEvents = 97
	cfg.MaxInFlightBatches = 1 // batches in flight together may overtake each other: this test checks per-file order
	startReceiver(t, cfg, s, nil)

	const perWriter = 3000
	starts := []uint64{1, 1_000_000}
	var wg sync.WaitGroup
	for _, start := range starts {
		w := openWriter(t, dir, "rot.log", func(o *structuredlog.Options) {
			o.SizeLimit = 16 << 10
			o.RetentionCount = 10000 // nothing deleted before it is read
			o.IDStart = start
		})
		wg.Go(func() {
			for i := range perWriter {
				if _, err := w.Write("com.example.rot", "example-1.0", map[string]int{"seq": i}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, "every event", func() bool { return s.count() >= 2*perWriter })
	settle(s)
	checkExactlyOnce(t, s.snapshot(), starts, perWriter)
	checkFileOrder(t, s.snapshot(), positions(t, filepath.Join(dir, "rot*.log")))
	rotated, _ := filepath.Glob(filepath.Join(dir, "rot.*.log"))
	if len(rotated) < 10 {
		t.Fatalf("only %d rotations", len(rotated))
	}
	// Records name the file they were read from (possibly a rotated name).
	for _, e := range s.snapshot() {
		if !strings.HasPrefix(e.Name, "rot.") || filepath.Dir(e.Path) != dir {
			t.Fatalf("record from %q (%q)", e.Path, e.Name)
		}
	}
}

// TestRotationWithRetention: rotated files beyond the retention count are
// deleted; the receiver forgets them, and with a reader that keeps up
// nothing is lost or repeated.
func TestRotationWithRetention(t *testing.T) {
	dir := t.TempDir()
	s := &sink{}
	o := newObserved(t)
	startWith(t, testConfig(dir), s, nil, o.set)
	w := openWriter(t, dir, "ret.log", func(o *structuredlog.Options) {
		o.SizeLimit = 8 << 10
		o.RetentionCount = 3
	})
	total := 0
	for range 20 {
		write(t, w, 60) // more than one file's worth
		total += 60
		waitFor(t, fmt.Sprint(total, " events"), func() bool { return s.count() >= total })
	}
	settle(s)
	checkExactlyOnce(t, s.snapshot(), []uint64{1}, total)
	t.Logf("%d times an event arrived before an earlier one of a rotated file", inversions(s.snapshot()))
	files, _ := filepath.Glob(filepath.Join(dir, "ret*.log"))
	if len(files) != 3 {
		t.Fatalf("%d files kept, want 3", len(files))
	}
	waitFor(t, "deleted files forgotten", func() bool { return o.metric("courier.structured_log.files_tracked", "") == 3 })
	if _, err := os.Stat(filepath.Join(dir, "ret.3.log")); !os.IsNotExist(err) {
		t.Fatalf("ret.3.log exists: %v", err)
	}
}
