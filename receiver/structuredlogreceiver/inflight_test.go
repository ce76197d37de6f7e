package structuredlogreceiver

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// gateSink is a consumer whose first call for the batch that starts with
// event gate waits until it is released (or its context ends), while the
// other calls are accepted at once: batches in flight finish out of order,
// as they do behind an exporter that waits for the result with several
// queue consumers.
type gateSink struct {
	gate    string
	release chan error // the gated call's result

	mu    sync.Mutex
	calls int
	gated bool
	ids   []string // accepted events
}

func newGateSink(gate string) *gateSink {
	return &gateSink{gate: gate, release: make(chan error, 1)}
}

func (g *gateSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (g *gateSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	records := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	first, _ := records.At(0).Attributes().Get(cloudevent.AttrID)
	g.mu.Lock()
	g.calls++
	gated := !g.gated && first.Str() == g.gate
	g.gated = g.gated || gated
	g.mu.Unlock()
	if gated {
		select {
		case err := <-g.release:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, lr := range records.All() {
		v, _ := lr.Attributes().Get(cloudevent.AttrID)
		g.ids = append(g.ids, v.Str())
	}
	return nil
}

func (g *gateSink) accepted() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.ids)
}

func (g *gateSink) callCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// TestInFlightCommitInOrder: the later batches are accepted while the
// first is still pending; the seek tag must not move past the first
// batch's events. Stopped then, the receiver has not lost them: the next
// one delivers every event (the later batches again, as duplicates within
// the in-flight window).
func TestInFlightCommitInOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	want := write(t, openWriter(t, dir, "app.log", nil), 40)
	cfg := testConfig(dir)
	cfg.MaxBatchEvents = 10
	cfg.MaxInFlightBatches = 4

	g := newGateSink(want[0])
	run(t, cfg, g, "", func() bool { return len(g.accepted()) == 30 })
	if off, ok := seekTag(t, path, "seek"); ok {
		t.Fatalf("seek tag at %d while the first batch was never accepted", off)
	}

	s := &sink{}
	run(t, cfg, s, "", func() bool { return s.count() >= 40 })
	settle(s)
	// Batches in flight together may arrive in any order: compare sets.
	if got := s.ids(); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("after the restart got %v, want each of %v once", got, want)
	}
	if off, ok := seekTag(t, path, "seek"); !ok || off != fileSize(t, path) {
		t.Fatalf("seek tag %d (%v), want the end %d", off, ok, fileSize(t, path))
	}
}

// TestInFlightRefusedAfterLaterAccepted: the first batch is refused after
// the later ones were accepted. Nothing is committed past it; the files
// are read again, so every event arrives (some twice), and the seek tag
// ends at the end.
func TestInFlightRefusedAfterLaterAccepted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	want := write(t, openWriter(t, dir, "app.log", nil), 40)
	cfg := testConfig(dir)
	cfg.MaxBatchEvents = 10
	cfg.MaxInFlightBatches = 4

	g := newGateSink(want[0])
	startReceiver(t, cfg, g, nil)
	waitFor(t, "the later batches", func() bool { return len(g.accepted()) == 30 })
	g.release <- errors.New("refused")
	waitFor(t, "the events read again", func() bool { return g.callCount() > 4 })
	// The file is read again from its start, as the first batch's events
	// were never committed.
	waitFor(t, "the seek tag at the end", func() bool {
		off, ok := seekTag(t, path, "seek")
		return ok && off == fileSize(t, path)
	})
	got := g.accepted()
	for _, id := range want {
		if !slices.Contains(got, id) {
			t.Fatalf("event %s lost; got %v", id, got)
		}
	}
	if len(got) > len(want)+30 {
		t.Fatalf("%d events delivered for %d: duplicates beyond the in-flight window", len(got), len(want))
	}
}
