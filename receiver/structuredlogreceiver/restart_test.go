package structuredlogreceiver

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/structuredlog"
)

// run starts a receiver, lets it deliver until until() holds, and shuts it
// down (and its storage host, if any).
func run(t *testing.T, cfg *Config, next consumer.Logs, storageDir string, until func() bool) {
	t.Helper()
	var host component.Host
	var sh *testutil.StorageHost
	if storageDir != "" {
		sh = testutil.NewStorageHost(t, storageDir)
		host = sh
	}
	r, err := createTestReceiver(cfg, next, newObserved(t).set)
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
	if sh != nil {
		sh.Close(t)
	}
}

// TestRestartResumes: a receiver started again on the same folder goes on
// where the last one stopped, from the seek tags or from storage.
func TestRestartResumes(t *testing.T) {
	for _, mode := range []string{"seek_tag", "storage", "storage_and_seek_tag"} {
		t.Run(mode, func(t *testing.T) {
			dir, storageDir := t.TempDir(), ""
			cfg := testConfig(dir)
			if mode != "seek_tag" {
				storageDir = t.TempDir()
				id := component.MustNewIDWithName("file_storage", "progress")
				cfg.Storage = &id
				cfg.WriteSeekTag = mode == "storage_and_seek_tag"
			}
			w := openWriter(t, dir, "app.log", nil)
			want := write(t, w, 100)
			s := &sink{}
			run(t, cfg, s, storageDir, func() bool { return s.count() >= 100 })
			for round := range 3 {
				want = append(want, write(t, w, 50)...)
				n := len(want)
				run(t, cfg, s, storageDir, func() bool { return s.count() >= n })
				settle(s)
				if got := s.ids(); !slices.Equal(got, want) {
					t.Fatalf("round %d: got %d events, want %d, each once", round, len(got), len(want))
				}
			}
			if _, ok := seekTag(t, filepath.Join(dir, "app.log"), "seek"); ok != (mode != "storage") {
				t.Fatalf("seek tag written: %v", ok)
			}
		})
	}
}

// TestRestartWhileWriting restarts the receiver again and again while a
// writer appends and rotates: every event arrives exactly once.
func TestRestartWhileWriting(t *testing.T) {
	for _, mode := range []string{"seek_tag", "storage"} {
		t.Run(mode, func(t *testing.T) {
			dir, storageDir := t.TempDir(), ""
			cfg := testConfig(dir)
			cfg.MaxBatchEvents = 64
			if mode == "storage" {
				storageDir = t.TempDir()
				id := component.MustNewIDWithName("file_storage", "progress")
				cfg.Storage = &id
				cfg.WriteSeekTag = false
			}
			const total = 4000
			w := openWriter(t, dir, "app.log", func(o *structuredlog.Options) {
				o.SizeLimit = 64 << 10
				o.RetentionCount = 1000
			})
			var wg sync.WaitGroup
			wg.Go(func() { write(t, w, total) })
			s := &sink{delay: 2 * time.Millisecond}
			restarts := 0
			for ; s.count() < total; restarts++ {
				n := s.count()
				run(t, cfg, s, storageDir, func() bool { return s.count() > n || s.count() >= total })
			}
			wg.Wait()
			settle(s)
			checkExactlyOnce(t, s.snapshot(), []uint64{1}, total)
			t.Logf("%d events over %d restarts", total, restarts)
		})
	}
}

// blockingSink accepts the first batch and holds the second until the
// receiver shuts down, returning an error: that batch was in flight.
type blockingSink struct {
	sink
	once    sync.Once
	blocked chan struct{}
}

func (b *blockingSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	b.mu.Lock()
	first := b.batches == 0
	b.mu.Unlock()
	if first {
		return b.sink.ConsumeLogs(ctx, ld)
	}
	b.once.Do(func() { close(b.blocked) })
	<-ctx.Done()
	return ctx.Err()
}

// TestInFlightBatchReadAgain: a batch the consumer has not accepted when the
// receiver stops is read again by the next one; nothing is lost.
func TestInFlightBatchReadAgain(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir, "app.log", nil)
	want := write(t, w, 30)
	cfg := testConfig(dir)
	cfg.MaxBatchEvents = 10
	cfg.MaxInFlightBatches = 1 // batches in flight together may overtake each other: this test checks exact order
	b := &blockingSink{blocked: make(chan struct{})}
	run(t, cfg, b, "", func() bool {
		select {
		case <-b.blocked:
			return true
		default:
			return false
		}
	})
	if n := b.count(); n != 10 {
		t.Fatalf("%d events accepted before the stop, want 10", n)
	}
	s := &sink{}
	run(t, cfg, s, "", func() bool { return s.count() >= 20 })
	settle(s)
	if got := append(b.ids(), s.ids()...); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestHeaderFullRestart: when the header has no room for a seek tag,
// progress survives a restart only in storage; without storage the file is
// read again (like the transmitter, which then resends).
func TestHeaderFullRestart(t *testing.T) {
	for _, withStorage := range []bool{true, false} {
		t.Run(fmt.Sprint("storage=", withStorage), func(t *testing.T) {
			dir, storageDir := t.TempDir(), ""
			appendRaw(t, filepath.Join(dir, "tight.log"), goodHeader+"\n")
			cfg := testConfig(dir)
			if withStorage {
				storageDir = t.TempDir()
				id := component.MustNewIDWithName("file_storage", "progress")
				cfg.Storage = &id
			}
			w := openWriter(t, dir, "tight.log", nil)
			first := write(t, w, 10)
			s := &sink{}
			run(t, cfg, s, storageDir, func() bool { return s.count() >= 10 })
			second := write(t, w, 5)
			again := &sink{}
			want := second
			if !withStorage {
				want = append(slices.Clone(first), second...)
			}
			run(t, cfg, again, storageDir, func() bool { return again.count() >= len(want) })
			settle(again)
			if got := again.ids(); !slices.Equal(got, want) {
				t.Fatalf("after restart: got %v, want %v", got, want)
			}
		})
	}
}
