package cloudeventsexporter // import "github.com/courier-otel/courier/exporter/cloudeventsexporter"

import (
	"errors"
	"fmt"
	"mime"
	"net/url"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/courier-otel/courier/internal/deadletter"
)

// Encoding is how events are put on the wire.
type Encoding string

// The encodings. structured and binary send one event per request; the others
// pack as many events as fit in transmission_limit into one request.
const (
	EncodingStructured     Encoding = "structured"      // application/cloudevents+json, one event per POST
	EncodingBinary         Encoding = "binary"          // ce- headers, body = data, one event per POST
	EncodingBatch          Encoding = "batch"           // application/cloudevents-batch+json (JSON array)
	EncodingJSONL          Encoding = "jsonl"           // Omniverse "default": JSON lines
	EncodingJSONLStringify Encoding = "jsonl_stringify" // Omniverse "defaultWithStringify"
	EncodingJSONList       Encoding = "json_list"       // Omniverse "defaultWithList": a JSON array
	EncodingNVDF           Encoding = "nvdf"            // Omniverse "NVDF": flattened JSON lines
)

var encodings = []Encoding{
	EncodingStructured, EncodingBinary, EncodingBatch,
	EncodingJSONL, EncodingJSONLStringify, EncodingJSONList, EncodingNVDF,
}

// perEvent reports whether the encoding sends one event per request.
func (e Encoding) perEvent() bool { return e == EncodingStructured || e == EncodingBinary }

// takesContentType reports whether content_type applies to the encoding (the
// Omniverse protocols; the CloudEvents modes have fixed media types).
func (e Encoding) takesContentType() bool {
	switch e {
	case EncodingJSONL, EncodingJSONLStringify, EncodingJSONList, EncodingNVDF:
		return true
	}
	return false
}

// Config defines the cloudevents exporter. The confighttp client settings
// (endpoint, timeout, tls, headers, compression, auth, keep-alive pool…) are
// squashed into it.
type Config struct {
	ClientConfig confighttp.ClientConfig                                  `mapstructure:",squash"`
	QueueConfig  configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig  RetryConfig                                              `mapstructure:"retry_on_failure"`

	// Endpoints is an ordered failover list, used instead of endpoint.
	Endpoints []string `mapstructure:"endpoints"`
	// Encoding is one of the Encoding constants.
	Encoding Encoding `mapstructure:"encoding"`
	// ContentType is the Content-Type of the jsonl, jsonl_stringify,
	// json_list and nvdf bodies; empty means application/json.
	ContentType string `mapstructure:"content_type"`
	// TransmissionLimit bounds the body of one request of the batching
	// encodings, in bytes.
	TransmissionLimit int `mapstructure:"transmission_limit"`
	// MaxEventSize bounds one encoded event, in bytes.
	MaxEventSize int `mapstructure:"max_event_size"`
	// Concurrency is how many requests the one-event-per-request encodings
	// keep in flight, across all queue consumers: the bound of the
	// adaptive limit, or the number itself in fixed mode.
	Concurrency int `mapstructure:"concurrency"`
	// ConcurrencyMode is adaptive (the limit finds the sink's capacity,
	// up to concurrency) or fixed (always concurrency).
	ConcurrencyMode     ConcurrencyMode     `mapstructure:"concurrency_mode"`
	AdaptiveConcurrency AdaptiveConfig      `mapstructure:"adaptive_concurrency"`
	Failover            FailoverConfig      `mapstructure:"failover"`
	DeadLetter          deadletter.Settings `mapstructure:"dead_letter"`
	// SchemaRegistry, with encoding nvdf, names a schema_registry extension
	// whose schemas choose the NVDF prefixes of data members (ts_ for
	// date-time strings, d_ for numbers, …) instead of their JSON types.
	SchemaRegistry *component.ID `mapstructure:"schema_registry"`
	Health         HealthConfig  `mapstructure:"health"`

	_ struct{}
}

// HealthConfig says when the exporter's status turns to an error (health.go).
type HealthConfig struct {
	// FailingAfter is how long every attempt must have failed before the
	// status is a recoverable error; 0 reports the first failure.
	FailingAfter time.Duration `mapstructure:"failing_after"`

	_ struct{}
}

// ConcurrencyMode says how the requests in flight are bounded.
type ConcurrencyMode string

const (
	// ConcurrencyAdaptive: a limit that starts low and follows the sink
	// (internal/arc), at most concurrency.
	ConcurrencyAdaptive ConcurrencyMode = "adaptive"
	// ConcurrencyFixed: always concurrency requests in flight when there
	// is enough to send.
	ConcurrencyFixed ConcurrencyMode = "fixed"
)

// AdaptiveConfig tunes the adaptive limit (concurrency_mode: adaptive).
type AdaptiveConfig struct {
	// InitialLimit is the limit at start, at most concurrency.
	InitialLimit int `mapstructure:"initial_limit"`
	// RTTTolerance: the limit decreases when the mean round-trip time of a
	// window exceeds the unloaded round-trip time × rtt_tolerance (and the
	// unloaded one + 250 µs).
	RTTTolerance float64 `mapstructure:"rtt_tolerance"`
	// DecreaseRatio multiplies the limit after a window with 429, 503,
	// 408, 504, a timeout or a connection error.
	DecreaseRatio float64 `mapstructure:"decrease_ratio"`

	_ struct{}
}

// RetryConfig is the retry policy of one request. It has the keys of the
// collector's configretry plus max_retries; the exporter runs it itself
// (configretry's sender cannot count retries, honour Retry-After or fail over).
type RetryConfig struct {
	Enabled             bool          `mapstructure:"enabled"`
	InitialInterval     time.Duration `mapstructure:"initial_interval"`
	MaxInterval         time.Duration `mapstructure:"max_interval"`
	Multiplier          float64       `mapstructure:"multiplier"`
	RandomizationFactor float64       `mapstructure:"randomization_factor"`
	// MaxElapsedTime bounds the time spent on one request, 0 = no limit.
	MaxElapsedTime time.Duration `mapstructure:"max_elapsed_time"`
	// MaxRetries is the number of retries after the first attempt, over all
	// endpoints; -1 = no limit.
	MaxRetries int `mapstructure:"max_retries"`

	_ struct{}
}

// FailoverConfig says when to move on to the next endpoint.
type FailoverConfig struct {
	// RetryLimit is the number of retries on one endpoint before the next
	// one takes over; -1 = never fail over.
	RetryLimit int `mapstructure:"retry_limit"`

	_ struct{}
}

var (
	_ component.Config    = (*Config)(nil)
	_ confmap.Unmarshaler = (*Config)(nil)
)

// Unmarshal reads the configuration. A persistent queue
// (sending_queue::storage) keeps the events itself, so unless the user says
// otherwise it does not wait for the result: exporterhelper refuses the two
// together, and the default wait_for_result would make every config with
// storage fail validation.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if err := conf.Unmarshal(cfg); err != nil {
		return err
	}
	if q := cfg.QueueConfig.Get(); q != nil && q.StorageID != nil && !conf.IsSet("sending_queue::wait_for_result") {
		q.WaitForResult = false
	}
	return nil
}

// Validate checks the exporter configuration; every message names its key.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if cfg.Health.FailingAfter < 0 {
		add("health::failing_after must not be negative")
	}
	switch {
	case cfg.ClientConfig.Endpoint == "" && len(cfg.Endpoints) == 0:
		add("endpoint or endpoints must be set")
	case cfg.ClientConfig.Endpoint != "" && len(cfg.Endpoints) > 0:
		add("endpoint and endpoints are mutually exclusive: set one of them")
	case cfg.ClientConfig.Endpoint != "":
		if err := checkURL(cfg.ClientConfig.Endpoint); err != nil {
			add("endpoint: %w", err)
		}
	default:
		seen := map[string]bool{}
		for i, ep := range cfg.Endpoints {
			if err := checkURL(ep); err != nil {
				add("endpoints[%d]: %w", i, err)
			}
			if seen[ep] {
				add("endpoints[%d]: %q is listed twice", i, ep)
			}
			seen[ep] = true
		}
	}

	known := false
	for _, e := range encodings {
		known = known || cfg.Encoding == e
	}
	if !known {
		add("encoding: unknown encoding %q (want one of %v)", cfg.Encoding, encodings)
	}
	if cfg.ContentType != "" {
		if known && !cfg.Encoding.takesContentType() {
			add("content_type: applies to the jsonl, jsonl_stringify, json_list and nvdf encodings only, not %s", cfg.Encoding)
		} else if _, _, err := mime.ParseMediaType(cfg.ContentType); err != nil {
			add("content_type: %q is not a media type: %w", cfg.ContentType, err)
		}
	}
	if cfg.SchemaRegistry != nil && known && cfg.Encoding != EncodingNVDF {
		add("schema_registry: applies to the nvdf encoding only, not %s", cfg.Encoding)
	}
	if cfg.TransmissionLimit <= 0 {
		add("transmission_limit: must be positive, got %d", cfg.TransmissionLimit)
	}
	if cfg.MaxEventSize <= 0 {
		add("max_event_size: must be positive, got %d", cfg.MaxEventSize)
	}
	if cfg.Concurrency < 1 {
		add("concurrency: must be at least 1, got %d", cfg.Concurrency)
	}
	switch cfg.ConcurrencyMode {
	case ConcurrencyAdaptive:
		a := cfg.AdaptiveConcurrency
		if a.InitialLimit < 1 || (cfg.Concurrency >= 1 && a.InitialLimit > cfg.Concurrency) {
			add("adaptive_concurrency::initial_limit: must be between 1 and concurrency (%d), got %d", cfg.Concurrency, a.InitialLimit)
		}
		if !(a.RTTTolerance > 1) {
			add("adaptive_concurrency::rtt_tolerance: must be more than 1, got %g", a.RTTTolerance)
		}
		if !(a.DecreaseRatio > 0 && a.DecreaseRatio < 1) {
			add("adaptive_concurrency::decrease_ratio: must be between 0 and 1 (exclusive), got %g", a.DecreaseRatio)
		}
	case ConcurrencyFixed:
	default:
		add("concurrency_mode: must be %s or %s, got %q", ConcurrencyAdaptive, ConcurrencyFixed, cfg.ConcurrencyMode)
	}
	if cfg.ClientConfig.Timeout < 0 {
		add("timeout: must not be negative, got %s", cfg.ClientConfig.Timeout)
	}

	r := cfg.RetryConfig
	if r.Enabled {
		if r.InitialInterval <= 0 {
			add("retry_on_failure::initial_interval: must be positive, got %s", r.InitialInterval)
		}
		if r.MaxInterval < r.InitialInterval {
			add("retry_on_failure::max_interval: must not be less than initial_interval (%s), got %s", r.InitialInterval, r.MaxInterval)
		}
		if r.Multiplier < 1 {
			add("retry_on_failure::multiplier: must be at least 1, got %g", r.Multiplier)
		}
	}
	if r.RandomizationFactor < 0 || r.RandomizationFactor > 1 {
		add("retry_on_failure::randomization_factor: must be between 0 and 1, got %g", r.RandomizationFactor)
	}
	if r.MaxElapsedTime < 0 {
		add("retry_on_failure::max_elapsed_time: must not be negative (0 = no limit), got %s", r.MaxElapsedTime)
	}
	if r.MaxRetries < -1 {
		add("retry_on_failure::max_retries: must be -1 (no limit) or more, got %d", r.MaxRetries)
	}
	if cfg.Failover.RetryLimit < -1 {
		add("failover::retry_limit: must be -1 (never fail over) or more, got %d", cfg.Failover.RetryLimit)
	}

	if err := cfg.DeadLetter.Validate("dead_letter"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

// endpointURLs returns the endpoints in failover order.
func (cfg *Config) endpointURLs() []string {
	if len(cfg.Endpoints) > 0 {
		return cfg.Endpoints
	}
	return []string{cfg.ClientConfig.Endpoint}
}
