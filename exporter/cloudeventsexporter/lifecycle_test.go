package cloudeventsexporter

import (
	"context"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/goleak"

	"github.com/courier-otel/courier/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLifecycle(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = "http://127.0.0.1:1/events"
	testutil.ExporterLifecycle(t, NewFactory(), cfg, nil)

	cfg.DeadLetter.Directory = t.TempDir()
	cfg.Encoding = EncodingJSONL
	testutil.ExporterLifecycle(t, NewFactory(), cfg, nil)
}

// TestConcurrencyUsed: one push of many events keeps exactly concurrency
// requests in flight against a slow sink.
func TestConcurrencyUsed(t *testing.T) {
	s := newSink(t, func(http.ResponseWriter, int, sinkRequest) { time.Sleep(100 * time.Millisecond) })
	cfg := testConfig(s.URL)
	cfg.Concurrency = 8
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, ids("c", 40)...))
	assert.Equal(t, 40, s.count())
	assert.EqualValues(t, 8, s.maxInFlight.Load())
}

// TestConcurrencyAcrossConsumers: the bound holds across the queue's
// consumers too.
func TestConcurrencyAcrossConsumers(t *testing.T) {
	s := newSink(t, func(http.ResponseWriter, int, sinkRequest) { time.Sleep(50 * time.Millisecond) })
	cfg := withBatchingQueue(testConfig(s.URL))
	cfg.Concurrency = 5
	cfg.QueueConfig.Get().Batch.Get().MinSize = 4
	cfg.QueueConfig.Get().Batch.Get().MaxSize = 4
	exp := startExporter(t, cfg, nil)
	for i := range 10 {
		consume(t, exp, makeLogs(t, ids(string(rune('a'+i)), 4)...))
	}
	eventually(t, "every event", func() bool { return exp.counter(t, "events.sent") == 40 })
	assert.LessOrEqual(t, s.maxInFlight.Load(), int32(5))
}

// TestShutdownMemoryQueue: shutdown interrupts a retry wait; with a memory
// queue that does not wait for the result, whose content a shutdown loses,
// the event is dead-lettered with reason shutdown instead of vanishing.
func TestShutdownMemoryQueue(t *testing.T) {
	s := newSink(t, status(http.StatusServiceUnavailable))
	cfg := withBatchingQueue(testConfig(s.URL))
	cfg.RetryConfig.InitialInterval = time.Hour
	cfg.RetryConfig.MaxInterval = time.Hour
	cfg.DeadLetter.Directory = t.TempDir()
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "a"))
	eventually(t, "a first attempt", func() bool { return s.count() == 1 })

	shutdown(t, exp) // returns although the retry wait is an hour
	lines := readDeadLetters(t, cfg.DeadLetter.Directory)
	require.Len(t, lines, 1)
	assert.Equal(t, "shutdown", lines[0].Reason)
	assert.Equal(t, http.StatusServiceUnavailable, lines[0].Status)
	assert.Equal(t, 1, s.count(), "no retry after stop")
}

// TestShutdownFlushesMemoryQueue: on a clean shutdown the events still in
// the memory queue get their attempt.
func TestShutdownFlushesMemoryQueue(t *testing.T) {
	s := newSink(t, nil)
	cfg := withBatchingQueue(testConfig(s.URL))
	cfg.QueueConfig.Get().Batch.Get().FlushTimeout = time.Hour // only shutdown flushes
	cfg.DeadLetter.Directory = t.TempDir()
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, ids("q", 5)...))
	assert.Zero(t, s.count())
	shutdown(t, exp)
	assert.Equal(t, 5, s.count())
	assert.Empty(t, readDeadLetters(t, cfg.DeadLetter.Directory))
}

// memStorage is a storage extension keeping its data in memory across
// exporter restarts, standing in for file_storage (which needs the
// collector binary; the end-to-end test with kill -9 runs that).
type memStorage struct {
	component.StartFunc
	component.ShutdownFunc
	mu   sync.Mutex
	data map[string][]byte
}

var _ storage.Extension = (*memStorage)(nil)

func (m *memStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return &memClient{m}, nil
}

type memClient struct{ m *memStorage }

func (c *memClient) Get(_ context.Context, key string) ([]byte, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.m.data[key], nil
}

func (c *memClient) Set(_ context.Context, key string, value []byte) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.data[key] = append([]byte(nil), value...)
	return nil
}

func (c *memClient) Delete(_ context.Context, key string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	delete(c.m.data, key)
	return nil
}

func (c *memClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value, _ = c.Get(ctx, op.Key)
		case storage.Set:
			_ = c.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			_ = c.Delete(ctx, op.Key)
		}
	}
	return nil
}

func (c *memClient) Close(context.Context) error { return nil }

// TestShutdownKeepsPersistentQueueData: with sending_queue.storage, a
// shutdown during retries keeps the request in storage, and the next start
// delivers it.
func TestShutdownKeepsPersistentQueueData(t *testing.T) {
	var up sync.Once
	healthy := make(chan struct{})
	s := newSink(t, func(w http.ResponseWriter, _ int, _ sinkRequest) {
		select {
		case <-healthy:
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	storageID := component.MustNewID("mem_storage")
	host := testHost{storageID: &memStorage{data: map[string][]byte{}}}
	cfg := withPersistentQueue(testConfig(s.URL), storageID)
	cfg.RetryConfig.InitialInterval = time.Hour
	cfg.RetryConfig.MaxInterval = time.Hour
	cfg.DeadLetter.Directory = t.TempDir()

	first := startExporter(t, cfg, host)
	consume(t, first, makeLogs(t, "kept"))
	eventually(t, "a first attempt", func() bool { return s.count() == 1 })
	shutdown(t, first)
	assert.Empty(t, readDeadLetters(t, cfg.DeadLetter.Directory), "a persistent queue keeps it; no dead letter")
	assert.NotEmpty(t, maps.Collect(maps.All(host[storageID].(*memStorage).data)))

	up.Do(func() { close(healthy) })
	second := startExporter(t, cfg, host)
	eventually(t, "delivery after restart", func() bool {
		return second.counter(t, "events.sent", attribute.String("endpoint", s.URL)) == 1
	})
	assert.Equal(t, 2, s.count())
	assert.Contains(t, string(s.requests()[1].body), `"id":"kept"`, "the same event, same id")
}

// TestDefaultQueueWaitsForResult: with the default queue ConsumeLogs
// returns only once the events are delivered (or dead-lettered), so a
// receiver never checkpoints past events that sit in memory; a shutdown
// during retries hands the error back to the caller instead of
// dead-lettering, so the receiver reads the events again after a restart.
func TestDefaultQueueWaitsForResult(t *testing.T) {
	var healthy atomic.Bool
	s := newSink(t, func(w http.ResponseWriter, _ int, _ sinkRequest) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	cfg := withQueue(testConfig(s.URL))
	cfg.RetryConfig.InitialInterval = 20 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 20 * time.Millisecond
	cfg.RetryConfig.MaxRetries = -1
	cfg.DeadLetter.Directory = t.TempDir()
	exp := startExporter(t, cfg, nil)

	done := make(chan error, 1)
	go func() { done <- exp.ConsumeLogs(context.Background(), makeLogs(t, "a", "b")) }()
	eventually(t, "a few refused attempts", func() bool { return s.count() >= 4 })
	select {
	case err := <-done:
		t.Fatalf("ConsumeLogs returned %v before the events were delivered", err)
	default:
	}
	healthy.Store(true)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("ConsumeLogs did not return after delivery")
	}
	assert.EqualValues(t, 2, exp.counter(t, "events.sent"))

	// Shutdown while retrying: the caller gets an error, nothing is
	// dead-lettered.
	healthy.Store(false)
	before := s.count()
	go func() { done <- exp.ConsumeLogs(context.Background(), makeLogs(t, "c")) }()
	eventually(t, "a refused attempt at c", func() bool { return s.count() > before })
	shutdown(t, exp)
	select {
	case err := <-done:
		require.Error(t, err, "an interrupted delivery must not look delivered")
	case <-time.After(waitTimeout):
		t.Fatal("ConsumeLogs did not return after shutdown")
	}
	assert.Empty(t, readDeadLetters(t, cfg.DeadLetter.Directory))
}
