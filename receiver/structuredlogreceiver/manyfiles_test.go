package structuredlogreceiver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/courier-otel/courier/pkg/structuredlog"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/metadata"
)

// openLogFiles counts this process's descriptors on .log files in dir.
func openLogFiles(dir string) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") && strings.HasSuffix(target, ".log") {
			n++
		}
	}
	return n
}

// TestThousandFiles: 1,000 files in one folder, read with at most 8 open at
// a time, twice (the second round appends to files whose descriptors were
// closed meanwhile, so they are reopened and their identity checked).
func TestThousandFiles(t *testing.T) {
	const files, maxOpen = 1000, 8
	dir := t.TempDir()
	names := make([]string, files)
	for i := range names {
		names[i] = fmt.Sprintf("app-%04d.log", i)
	}
	var want []string
	// The /proc sampler below counts the receiver's descriptors only: it
	// does not look while a writer has a file open.
	var writing sync.RWMutex
	round := func(n int) {
		for i, name := range names {
			writing.Lock()
			w := openWriter(t, dir, name, func(o *structuredlog.Options) { o.IDStart = uint64(i)*1000 + uint64(len(want)/files)*10 + 1 })
			want = append(want, write(t, w, n)...)
			_ = w.Close()
			writing.Unlock()
		}
	}
	round(2)

	cfg := testConfig(dir)
	cfg.MaxConcurrentFiles = maxOpen
	cfg.MaxBatchEvents = 300
	s := &sink{}
	o := newObserved(t)
	// Sample the open-files metric (the receiver's own count, exact) and the
	// process's descriptors (/proc, only logged: listing /proc/self/fd is not
	// atomic, so a sample can mix two moments).
	var peakMetric, peakProc atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if n := o.metric(metadata.MetricFilesOpen, ""); n > peakMetric.Load() {
				peakMetric.Store(n)
			}
			writing.RLock()
			if n := int64(openLogFiles(dir)); n > peakProc.Load() {
				peakProc.Store(n)
			}
			writing.RUnlock()
		}
	})
	defer func() { close(stop); wg.Wait() }()

	startWith(t, cfg, s, nil, o.set)
	waitFor(t, "the first round", func() bool { return s.count() >= len(want) })
	round(1)
	waitFor(t, "the second round", func() bool { return s.count() >= len(want) })
	settle(s)

	seen := make(map[string]bool)
	last := make(map[string]string) // per file, the last id (ids grow within a file)
	for _, e := range s.snapshot() {
		if seen[e.ID] {
			t.Fatalf("event %s delivered twice", e.ID)
		}
		seen[e.ID] = true
		if l, ok := last[e.Name]; ok && len(e.ID) == len(l) && e.ID < l {
			t.Fatalf("%s: event %s after %s", e.Name, e.ID, l)
		}
		last[e.Name] = e.ID
	}
	for _, id := range want {
		if !seen[id] {
			t.Fatalf("event %s never arrived", id)
		}
	}
	if len(last) != files {
		t.Fatalf("events from %d files, want %d", len(last), files)
	}
	if p := peakMetric.Load(); p > maxOpen || p == 0 {
		t.Fatalf("%s peaked at %d, max_concurrent_files is %d", metadata.MetricFilesOpen, p, maxOpen)
	}
	t.Logf("at most %d (metric) / %d (/proc) of %d files open at once", peakMetric.Load(), peakProc.Load(), files)
}
