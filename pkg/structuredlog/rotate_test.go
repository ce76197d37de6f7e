package structuredlog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRotatedName(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"omni.kit.sysinfo.log", 1, "omni.kit.sysinfo.1.log"},
		{"omni.kit.sysinfo.log", 12, "omni.kit.sysinfo.12.log"},
		{"omni.kit.sysinfo.log", 0, "omni.kit.sysinfo.log"},
		{"events", 2, "events.2"},
		{".log", 1, ".log.1"},
	} {
		if got := RotatedName(tc.name, tc.n); got != tc.want {
			t.Errorf("RotatedName(%q, %d) = %q, want %q", tc.name, tc.n, got, tc.want)
		}
	}
}

// logEvent is the part of an event line the rotation tests check.
type logEvent struct {
	ID     string
	Source string
	Data   struct{ Writer, Seq int }
}

// logFile is one file of a rotated set, oldest first.
type logFile struct {
	path   string
	header Header
	size   int64
	events []logEvent
}

// readSet reads Dir/name and its rotated files, oldest first, checking that
// each starts with a header and holds only complete JSON event lines.
func readSet(t *testing.T, dir, name string) []logFile {
	t.Helper()
	var files []logFile
	for n := 0; ; n++ {
		path := filepath.Join(dir, RotatedName(name, n))
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		lf := logFile{path: path, header: h, size: int64(len(b))}
		for _, line := range fileLines(t, path) {
			var ev logEvent
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("%s: bad line %q: %v", path, line, err)
			}
			lf.events = append(lf.events, ev)
		}
		files = append(files, lf)
	}
	slices.Reverse(files)
	return files
}

// tickingClock advances by a second on every call, so header times tell
// files apart.
func tickingClock() func() time.Time {
	var mu sync.Mutex
	now := testTime
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

func writeSeqs(t *testing.T, w *Writer, writer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		data := map[string]any{"writer": writer, "seq": i, "pad": strings.Repeat("x", i%37)}
		if _, err := w.Write("com.example.rotation", "example-1.0", data); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRotationKeepsEveryEvent(t *testing.T) {
	const limit = 2048
	w := openTest(t, func(o *Options) {
		o.SizeLimit, o.RetentionCount, o.Now = limit, 1000, tickingClock()
	})
	writeSeqs(t, w, 0, 0, 300)
	files := readSet(t, filepath.Dir(w.Path()), "omni.example.app.log")
	if len(files) < 10 {
		t.Fatalf("only %d files for %d events with a %d byte limit", len(files), 300, limit)
	}
	next := 0
	for i, f := range files {
		if f.size > limit {
			t.Errorf("%s is %d bytes, over the %d limit", f.path, f.size, limit)
		}
		if len(f.events) == 0 {
			t.Fatalf("%s holds no event", f.path)
		}
		for _, ev := range f.events {
			if ev.Data.Seq != next {
				t.Fatalf("%s: event %d where %d was due", f.path, ev.Data.Seq, next)
			}
			next++
		}
		if i == 0 {
			continue
		}
		prev := files[i-1]
		// Rotation happened only because the next event did not fit.
		firstLen := int64(len(fileLines(t, f.path)[0]) + 1)
		if prev.size+firstLen <= limit {
			t.Errorf("%s rotated at %d bytes although the next %d byte event fit", prev.path, prev.size, firstLen)
		}
		if f.header.Time <= prev.header.Time {
			t.Errorf("%s header time %s is not after %s's %s", f.path, f.header.Time, prev.path, prev.header.Time)
		}
	}
	if next != 300 {
		t.Fatalf("found %d events, wrote 300", next)
	}
}

func TestRotationRetention(t *testing.T) {
	const limit = 2048
	w := openTest(t, func(o *Options) { o.SizeLimit, o.Now = limit, tickingClock() })
	dir := filepath.Dir(w.Path())
	name := "omni.example.app.log"

	// Fill exactly three files: everything is still there.
	seq := 0
	for {
		writeSeqs(t, w, 0, seq, seq+1)
		seq++
		if _, err := os.Stat(filepath.Join(dir, RotatedName(name, 2))); err == nil {
			break
		}
	}
	files := readSet(t, dir, name)
	if len(files) != 3 {
		t.Fatalf("%d files", len(files))
	}
	checkSuffix(t, files, 0, seq)

	// Keep going: only X.log, X.1.log and X.2.log remain, holding the newest
	// events in order.
	writeSeqs(t, w, 0, seq, 400)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"omni.example.app.1.log", "omni.example.app.2.log", "omni.example.app.log"}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	files = readSet(t, dir, name)
	first := files[0].events[0].Data.Seq
	if first == 0 {
		t.Fatal("retention deleted nothing")
	}
	checkSuffix(t, files, first, 400)
	for i := 1; i < len(files); i++ {
		if files[i].header.Time <= files[i-1].header.Time {
			t.Errorf("header times not increasing: %s then %s", files[i-1].header.Time, files[i].header.Time)
		}
	}
}

// checkSuffix checks that files hold exactly events from..to-1, in order.
func checkSuffix(t *testing.T, files []logFile, from, to int) {
	t.Helper()
	next := from
	for _, f := range files {
		for _, ev := range f.events {
			if ev.Data.Seq != next {
				t.Fatalf("%s: event %d where %d was due", f.path, ev.Data.Seq, next)
			}
			next++
		}
	}
	if next != to {
		t.Fatalf("events end at %d, want %d", next, to)
	}
}

func TestRotationRetentionOne(t *testing.T) {
	w := openTest(t, func(o *Options) { o.SizeLimit, o.RetentionCount = 1024, 1 })
	writeSeqs(t, w, 0, 0, 50)
	entries, _ := os.ReadDir(filepath.Dir(w.Path()))
	if len(entries) != 1 {
		t.Fatalf("%d files, want 1", len(entries))
	}
	files := readSet(t, filepath.Dir(w.Path()), "omni.example.app.log")
	checkSuffix(t, files, files[0].events[0].Data.Seq, 50)
}

func TestOversizedEventGetsOwnFile(t *testing.T) {
	w := openTest(t, func(o *Options) { o.SizeLimit, o.RetentionCount = 300, 10 })
	big := map[string]string{"blob": strings.Repeat("b", 1000)}
	for range 3 {
		if _, err := w.Write("t", "s-1", big); err != nil {
			t.Fatal(err)
		}
	}
	files := readSet(t, filepath.Dir(w.Path()), "omni.example.app.log")
	if len(files) != 3 {
		t.Fatalf("%d files, want one per oversized event", len(files))
	}
	for _, f := range files {
		if len(f.events) != 1 {
			t.Fatalf("%s holds %d events", f.path, len(f.events))
		}
	}
}

// TestWritersInOneProcess shares one file between two Writers, each used by
// several goroutines, with frequent rotation: the writers must see each
// other's locks and rotations (open file description locks do; classic
// POSIX locks would not inside one process).
func TestWritersInOneProcess(t *testing.T) {
	dir := t.TempDir()
	const writers, goroutines, each = 2, 3, 300
	var wg sync.WaitGroup
	for wi := range writers {
		w, err := Open(Options{Dir: dir, Name: "shared.log", Source: fmt.Sprint("w", wi), SizeLimit: 8 << 10, RetentionCount: 10000})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = w.Close() }()
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					if _, err := w.Write("t", "s-1", map[string]int{"writer": wi*goroutines + g, "seq": i}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	files := readSet(t, dir, "shared.log")
	if len(files) < 5 {
		t.Fatalf("only %d files: rotation did not happen concurrently", len(files))
	}
	checkInterleaved(t, files, writers*goroutines, each)
}

// checkInterleaved checks that every (writer, seq) event appears exactly once
// and that each writer's events appear in order across the files.
func checkInterleaved(t *testing.T, files []logFile, writers, each int) {
	t.Helper()
	next := make([]int, writers)
	ids := make(map[string]bool)
	for _, f := range files {
		for _, ev := range f.events {
			wi := ev.Data.Writer
			if wi < 0 || wi >= writers {
				t.Fatalf("%s: unknown writer %d", f.path, wi)
			}
			if ev.Data.Seq != next[wi] {
				t.Fatalf("%s: writer %d event %d where %d was due", f.path, wi, ev.Data.Seq, next[wi])
			}
			next[wi]++
			key := ev.Source + "/" + ev.ID
			if ids[key] {
				t.Fatalf("%s: duplicate id %s", f.path, key)
			}
			ids[key] = true
		}
	}
	for wi, n := range next {
		if n != each {
			t.Errorf("writer %d: found %d events, wrote %d", wi, n, each)
		}
	}
}
