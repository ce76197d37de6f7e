// Package cloudeventsexporter delivers log records that carry CloudEvents to
// HTTP endpoints: one event per request (structured or binary mode) or many
// (CloudEvents batch, and the Omniverse JSON-lines protocols), with its own
// retry, Retry-After, failover and dead-letter handling. See README.md.
package cloudeventsexporter // import "github.com/courier-otel/courier/exporter/cloudeventsexporter"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/metadata"
	"github.com/courier-otel/courier/internal/deadletter"
)

// Defaults, as documented in README.md.
const (
	defaultTimeout           = 30 * time.Second
	defaultTransmissionLimit = 10 << 20   // 10 MiB, the Omniverse transmissionLimit
	defaultMaxEventSize      = 10_000_000 // the Omniverse per-event limit
	// defaultConcurrency: a sink answering in 300 ms needs 300 requests in
	// flight for 1,000 events/s (Little's law); 512 leaves headroom for
	// latency spread and gives ~1,700 events/s at 300 ms. On a fast sink the
	// rate is CPU-bound and more in flight costs only goroutines.
	defaultConcurrency = 512
	// The adaptive limit starts at one request (a small sink is never
	// flooded, not even at start) and doubles per round trip until the
	// round-trip time rises: ~10 round trips to reach 512.
	defaultInitialLimit  = 1
	defaultRTTTolerance  = 2.0
	defaultDecreaseRatio = 0.9 // Vector's
	defaultNumConsumers  = 10  // the NVSentinel workers
	defaultQueueSize     = 20_000
	defaultBatchSize     = 1_000
	defaultFlushTimeout  = 10 * time.Millisecond
	defaultMaxRetries    = 17 // NVSentinel failureHandling.maxRetries
	defaultRetryLimit    = 10 // Omniverse retryLimit
)

// NewFactory creates the factory of the cloudevents exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = defaultTimeout
	// Keep-alive pool: 0 per host means "follow concurrency" (resolved at
	// start, see clientConfig); no global cap, so that failover endpoints
	// keep their connections too.
	client.Keepalive = configoptional.Some(confighttp.KeepaliveClientConfig{
		IdleConnTimeout:     confighttp.NewDefaultKeepaliveClientConfig().IdleConnTimeout,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 0,
	})

	queue := exporterhelper.NewDefaultQueueConfig()
	queue.Sizer = exporterhelper.NewDefaultBatchConfig().Sizer // items: the bound is in events
	queue.QueueSize = defaultQueueSize
	queue.NumConsumers = defaultNumConsumers
	// Back-pressure instead of dropping when the sink is slow (DESIGN §4.4).
	queue.BlockOnOverflow = true
	// ConsumeLogs returns once its events are delivered or dead-lettered,
	// so a receiver's checkpoint never passes an event that only sat in
	// this queue's memory (DESIGN §4.1). Unmarshal turns it off for a
	// persistent queue, which keeps the events itself.
	queue.WaitForResult = true
	// No batcher unless the user adds sending_queue::batch (then with
	// these settings): the receivers hand over batches already, its flush
	// timer wakes every flush_timeout even when idle (100 times a second at
	// 10 ms: an idle Courier cost more CPU than the stock collector), and a
	// caller waiting for the result would wait for the timer whenever its
	// batch is smaller than min_size.
	batch := exporterhelper.NewDefaultBatchConfig()
	batch.FlushTimeout = defaultFlushTimeout
	batch.MinSize = defaultBatchSize
	batch.MaxSize = defaultBatchSize
	queue.Batch = configoptional.Default(batch)

	return &Config{
		ClientConfig: client,
		QueueConfig:  configoptional.Some(queue),
		RetryConfig: RetryConfig{
			Enabled:             true,
			InitialInterval:     time.Second,
			MaxInterval:         5 * time.Minute,
			Multiplier:          2,
			RandomizationFactor: 0.2,
			MaxElapsedTime:      0,
			MaxRetries:          defaultMaxRetries,
		},
		Encoding:          EncodingStructured,
		TransmissionLimit: defaultTransmissionLimit,
		MaxEventSize:      defaultMaxEventSize,
		Concurrency:       defaultConcurrency,
		ConcurrencyMode:   ConcurrencyAdaptive,
		AdaptiveConcurrency: AdaptiveConfig{
			InitialLimit:  defaultInitialLimit,
			RTTTolerance:  defaultRTTTolerance,
			DecreaseRatio: defaultDecreaseRatio,
		},
		Failover:   FailoverConfig{RetryLimit: defaultRetryLimit},
		DeadLetter: deadletter.DefaultSettings(),
		Health:     HealthConfig{FailingAfter: defaultFailingAfter},
	}
}

// shutdownRetry is the configuration of exporterhelper's retry sender. The
// exporter retries by itself and its push returns an error only when shutdown
// interrupted it; this sender is there because it is the one part of
// exporterhelper that turns such an error into the "interrupted by shutdown"
// error the persistent queue recognises, so that the request stays in
// storage for the next start instead of being deleted. Its interval is never
// reached: shutdown closes its stop channel right after the exporter's.
var shutdownRetry = configretry.BackOffConfig{
	Enabled:         true,
	InitialInterval: time.Minute,
	MaxInterval:     time.Minute,
	Multiplier:      1,
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	oCfg := cfg.(*Config)
	e, err := newExporter(oCfg, set)
	if err != nil {
		return nil, err
	}
	inner, err := exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		// timeout bounds each HTTP attempt (http.Client.Timeout), not the
		// whole push with its retries.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{Timeout: 0}),
		exporterhelper.WithRetry(shutdownRetry),
		exporterhelper.WithQueue(oCfg.QueueConfig),
	)
	if err != nil {
		return nil, err
	}
	return &logsExporter{Logs: inner, stop: e.stop}, nil
}

// logsExporter stops the exporter's retries before exporterhelper's Shutdown
// drains the queue: that Shutdown waits for the pushes in progress, and
// exporterhelper calls our own shutdown function only after it.
// It also makes a second Shutdown a no-op (exporterhelper's panics).
type logsExporter struct {
	exporter.Logs
	stop func()

	once sync.Once
	err  error
}

func (l *logsExporter) Shutdown(ctx context.Context) error {
	l.once.Do(func() {
		l.stop()
		l.err = l.Logs.Shutdown(ctx)
	})
	return l.err
}
