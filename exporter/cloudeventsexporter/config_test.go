package cloudeventsexporter

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configcompression"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/metadata"
	"github.com/courier-otel/courier/internal/deadletter"
	"github.com/courier-otel/courier/internal/testutil"
)

func load(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cfg, err := testutil.LoadConfig(t, component.NewIDWithName(metadata.Type, name), NewFactory())
	return cfg.(*Config), err
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))
}

func TestDefaultConfig(t *testing.T) {
	cfg, err := load(t, "")
	require.NoError(t, err)

	want := createDefaultConfig().(*Config)
	want.ClientConfig.Endpoint = "https://sink.example.com/events"
	assert.Equal(t, want, cfg)

	assert.Equal(t, 30*time.Second, cfg.ClientConfig.Timeout)
	assert.Equal(t, EncodingStructured, cfg.Encoding)
	assert.Equal(t, 10<<20, cfg.TransmissionLimit)
	assert.Equal(t, 10_000_000, cfg.MaxEventSize)
	assert.Equal(t, 512, cfg.Concurrency)
	assert.Equal(t, ConcurrencyAdaptive, cfg.ConcurrencyMode)
	assert.Equal(t, AdaptiveConfig{InitialLimit: 1, RTTTolerance: 2, DecreaseRatio: 0.9}, cfg.AdaptiveConcurrency)
	q := cfg.QueueConfig.Get()
	require.NotNil(t, q, "sending_queue is on by default")
	assert.Equal(t, 10, q.NumConsumers)
	assert.True(t, q.BlockOnOverflow, "a full queue must push back, not drop")
	assert.True(t, q.WaitForResult, "ConsumeLogs must return only once the events are delivered or dead-lettered")
	assert.Nil(t, q.StorageID)
	assert.False(t, q.Batch.HasValue(), "no batcher (and no idle flush timer) by default")
	assert.Equal(t, 10*time.Millisecond, q.Batch.GetOrInsertDefault().FlushTimeout, "batch defaults when a user adds the section")
	r := cfg.RetryConfig
	assert.True(t, r.Enabled)
	assert.Equal(t, time.Second, r.InitialInterval)
	assert.Equal(t, 5*time.Minute, r.MaxInterval)
	assert.Equal(t, 2.0, r.Multiplier)
	assert.Zero(t, r.MaxElapsedTime)
	assert.Equal(t, 17, r.MaxRetries)
	assert.Equal(t, 10, cfg.Failover.RetryLimit)
	assert.Empty(t, cfg.DeadLetter.Directory)
	assert.Equal(t, int64(100<<20), cfg.DeadLetter.MaxSize)
	assert.Equal(t, deadletter.DropOldest, cfg.DeadLetter.OnFull)
}

func TestFullConfig(t *testing.T) {
	cfg, err := load(t, "full")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, cfg.ClientConfig.Timeout)
	assert.Equal(t, configcompression.TypeGzip, cfg.ClientConfig.Compression)
	require.True(t, cfg.ClientConfig.Keepalive.HasValue())
	assert.Equal(t, 64, cfg.ClientConfig.Keepalive.Get().MaxIdleConnsPerHost)
	assert.True(t, cfg.ClientConfig.TLS.InsecureSkipVerify)
	v, ok := cfg.ClientConfig.Headers.Get("X-Tenant")
	assert.True(t, ok)
	assert.Equal(t, "courier", string(v))
	assert.Equal(t, EncodingNVDF, cfg.Encoding)
	assert.Equal(t, "application/x-ndjson", cfg.ContentType)
	assert.Equal(t, 1<<20, cfg.TransmissionLimit)
	assert.Equal(t, 65536, cfg.MaxEventSize)
	assert.Equal(t, 64, cfg.Concurrency)
	assert.Equal(t, ConcurrencyAdaptive, cfg.ConcurrencyMode)
	assert.Equal(t, AdaptiveConfig{InitialLimit: 4, RTTTolerance: 1.5, DecreaseRatio: 0.8}, cfg.AdaptiveConcurrency)
	q := cfg.QueueConfig.Get()
	assert.Equal(t, 4, q.NumConsumers)
	assert.Equal(t, int64(5000), q.QueueSize)
	assert.True(t, q.WaitForResult)
	require.True(t, q.Batch.HasValue())
	assert.Equal(t, int64(500), q.Batch.Get().MinSize)
	assert.Equal(t, 50*time.Millisecond, q.Batch.Get().FlushTimeout)
	assert.Equal(t, RetryConfig{
		Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: 10 * time.Second,
		Multiplier: 1.5, MaxElapsedTime: time.Hour, MaxRetries: 30,
	}, cfg.RetryConfig)
	assert.Equal(t, -1, cfg.Failover.RetryLimit)
	assert.Equal(t, deadletter.Settings{Directory: "/var/lib/courier/dead-letter", MaxSize: 1 << 20, OnFull: deadletter.DropNew}, cfg.DeadLetter)
}

// TestPersistentQueueConfig: a persistent queue keeps the events itself and
// does not wait for the result unless asked (exporterhelper refuses both).
func TestPersistentQueueConfig(t *testing.T) {
	cfg, err := load(t, "persistent")
	require.NoError(t, err)
	q := cfg.QueueConfig.Get()
	require.NotNil(t, q.StorageID)
	assert.Equal(t, "file_storage", q.StorageID.String())
	assert.False(t, q.WaitForResult)

	_, err = load(t, "persistent_waiting")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wait_for_result")
}

// TestFixedConcurrencyConfig: fixed mode ignores the adaptive keys.
func TestFixedConcurrencyConfig(t *testing.T) {
	cfg, err := load(t, "fixed")
	require.NoError(t, err)
	assert.Equal(t, ConcurrencyFixed, cfg.ConcurrencyMode)
	assert.Equal(t, 10, cfg.Concurrency)
}

func TestOmniverseConfig(t *testing.T) {
	cfg, err := load(t, "omniverse")
	require.NoError(t, err)
	assert.Equal(t, []string{"https://primary.example.com/v1", "https://fallback.example.com/v1"}, cfg.endpointURLs())
	assert.Equal(t, EncodingJSONL, cfg.Encoding)
	assert.Equal(t, 3, cfg.Failover.RetryLimit)
}

func TestConfigValidation(t *testing.T) {
	tests := []struct{ name, want string }{
		{"no_endpoint", "endpoint or endpoints must be set"},
		{"both_endpoints", "endpoint and endpoints are mutually exclusive"},
		{"bad_scheme", "endpoint: \"ftp://sink.example.com\": scheme must be http or https"},
		{"no_host", "endpoints[1]: \"https://\" has no host"},
		{"duplicate_endpoint", "endpoints[1]: \"https://a.example.com\" is listed twice"},
		{"bad_encoding", "encoding: unknown encoding \"protobuf\""},
		{"content_type_structured", "content_type: applies to the jsonl, jsonl_stringify, json_list and nvdf encodings only"},
		{"schema_registry_not_nvdf", "schema_registry: applies to the nvdf encoding only, not jsonl"},
		{"bad_content_type", "content_type: \"not a/media type;;\" is not a media type"},
		{"transmission_limit", "transmission_limit: must be positive"},
		{"max_event_size", "max_event_size: must be positive"},
		{"concurrency", "concurrency: must be at least 1"},
		{"concurrency_mode", "concurrency_mode: must be adaptive or fixed, got \"aimd\""},
		{"initial_limit", "adaptive_concurrency::initial_limit: must be between 1 and concurrency (8), got 16"},
		{"rtt_tolerance", "adaptive_concurrency::rtt_tolerance: must be more than 1, got 1"},
		{"decrease_ratio", "adaptive_concurrency::decrease_ratio: must be between 0 and 1 (exclusive), got 1"},
		{"timeout", "timeout: must not be negative"},
		{"initial_interval", "retry_on_failure::initial_interval: must be positive"},
		{"max_interval", "retry_on_failure::max_interval: must not be less than initial_interval"},
		{"multiplier", "retry_on_failure::multiplier: must be at least 1"},
		{"randomization_factor", "retry_on_failure::randomization_factor: must be between 0 and 1"},
		{"max_elapsed_time", "retry_on_failure::max_elapsed_time: must not be negative"},
		{"max_retries", "retry_on_failure::max_retries: must be -1 (no limit) or more"},
		{"retry_limit", "failover::retry_limit: must be -1 (never fail over) or more"},
		{"dead_letter_max_size", "dead_letter::max_size: must be positive"},
		{"dead_letter_on_full", "dead_letter::on_full: must be drop_oldest or drop_new"},
		{"num_consumers", "sending_queue: `num_consumers` must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.name)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			// One rule per section: no other complaint.
			assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "errors: %v", err)
		})
	}
}
