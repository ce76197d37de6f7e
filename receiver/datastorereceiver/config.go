package datastorereceiver

import (
	"github.com/courier-otel/courier/internal/deadletter"

	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
)

// Providers.
const (
	ProviderPostgreSQL = "postgresql"
	ProviderMongoDB    = "mongodb"
)

// Config is the datastore receiver's configuration; see the README.
type Config struct {
	// Provider is the datastore NVSentinel writes to: postgresql or mongodb.
	Provider   string           `mapstructure:"provider"`
	PostgreSQL PostgreSQLConfig `mapstructure:"postgresql"`
	MongoDB    MongoDBConfig    `mapstructure:"mongodb"`
	// ClientName keys the resume token, as NVSentinel's exporter does, so
	// that Courier continues where an NVSentinel exporter stopped.
	ClientName string `mapstructure:"client_name"`
	// EventSource is the CloudEvent source of the events until a processor
	// (event_metadata) sets the real one.
	EventSource string         `mapstructure:"event_source"`
	Backfill    BackfillConfig `mapstructure:"backfill"`
	// MaxInFlight bounds the events handed downstream whose resume token is
	// not written yet.
	MaxInFlight int `mapstructure:"max_in_flight"`
	// MaxBatchEvents bounds the events handed downstream in one ConsumeLogs.
	MaxBatchEvents int                  `mapstructure:"max_batch_events"`
	LeaderElection LeaderElectionConfig `mapstructure:"leader_election"`
	Resume         ResumeConfig         `mapstructure:"resume"`
	// MaxSplitDepth bounds the halvings of a batch the next consumer
	// refused for good, to isolate the events it refuses alone.
	MaxSplitDepth int `mapstructure:"max_split_depth"`
	// DeadLetter keeps the events the next consumer refused for good, alone.
	DeadLetter deadletter.Settings `mapstructure:"dead_letter"`

	_ struct{}
}

// ResumeConfig says where the resume token is kept.
type ResumeConfig struct {
	// Storage names a storage extension (file_storage, …) that keeps the
	// token instead of NVSentinel's table or collection; an NVSentinel
	// exporter then does not see it.
	Storage *component.ID `mapstructure:"storage"`

	_ struct{}
}

// PostgreSQLConfig says where NVSentinel's PostgreSQL tables are.
type PostgreSQLConfig struct {
	// DSN is a libpq connection string or URL (with sslmode, sslrootcert,
	// sslcert, sslkey as in libpq).
	DSN configopaque.String `mapstructure:"dsn"`
	// TLS, when set, replaces the TLS settings of the DSN.
	TLS configoptional.Optional[configtls.ClientConfig] `mapstructure:"tls"`
	// NotifyChannel is the channel NVSentinel's trigger notifies.
	NotifyChannel string `mapstructure:"notify_channel"`
	// PollInterval is the fallback poll when no notification arrives.
	PollInterval      time.Duration `mapstructure:"poll_interval"`
	HealthEventsTable string        `mapstructure:"health_events_table"`
	ChangelogTable    string        `mapstructure:"changelog_table"`
	ResumeTokensTable string        `mapstructure:"resume_tokens_table"`

	_ struct{}
}

// MongoDBConfig says where NVSentinel's MongoDB collections are.
type MongoDBConfig struct {
	// URI is a mongodb:// connection string (a replica set: change streams
	// need one).
	URI             configopaque.String                             `mapstructure:"uri"`
	TLS             configoptional.Optional[configtls.ClientConfig] `mapstructure:"tls"`
	Database        string                                          `mapstructure:"database"`
	Collection      string                                          `mapstructure:"collection"`
	TokenCollection string                                          `mapstructure:"token_collection"`

	_ struct{}
}

// BackfillConfig is the history export that runs when no resume token
// exists for client_name (NVSentinel's exporter.backfill).
type BackfillConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// MaxAge: only events created at most this long ago.
	MaxAge time.Duration `mapstructure:"max_age"`
	// MaxEvents: at most this many, the most recent ones.
	MaxEvents int `mapstructure:"max_events"`
	// BatchSize is the rows of one query.
	BatchSize int `mapstructure:"batch_size"`
	// RateLimit is in events per second; 0 means no limit.
	RateLimit float64 `mapstructure:"rate_limit"`

	_ struct{}
}

// LeaderElectionConfig lets several replicas run, one reading at a time.
type LeaderElectionConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// RetryInterval is how often a standby tries to become the leader (and,
	// on MongoDB, how often the leader renews its lease).
	RetryInterval time.Duration `mapstructure:"retry_interval"`
	// LeaseDuration (MongoDB) is how long a lease lasts without renewal: a
	// standby takes over at most this long after the leader died.
	LeaseDuration time.Duration `mapstructure:"lease_duration"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; every message names the key.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Provider {
	case ProviderPostgreSQL:
		p := c.PostgreSQL
		if p.DSN == "" {
			add("postgresql::dsn: required with provider postgresql")
		}
		if p.PollInterval <= 0 {
			add("postgresql::poll_interval: must be positive, got %s", p.PollInterval)
		}
		for key, v := range map[string]string{
			"notify_channel": p.NotifyChannel, "health_events_table": p.HealthEventsTable,
			"changelog_table": p.ChangelogTable, "resume_tokens_table": p.ResumeTokensTable,
		} {
			if v == "" {
				add("postgresql::%s: must not be empty", key)
			}
		}
	case ProviderMongoDB:
		m := c.MongoDB
		if m.URI == "" {
			add("mongodb::uri: required with provider mongodb")
		}
		for key, v := range map[string]string{
			"database": m.Database, "collection": m.Collection, "token_collection": m.TokenCollection,
		} {
			if v == "" {
				add("mongodb::%s: must not be empty", key)
			}
		}
	default:
		add("provider: %q is not one of %s, %s", c.Provider, ProviderPostgreSQL, ProviderMongoDB)
	}
	if c.ClientName == "" {
		add("client_name: must not be empty")
	}
	if c.EventSource == "" {
		add("event_source: must not be empty (a CloudEvent needs a source)")
	}
	b := c.Backfill
	if b.MaxAge < 0 {
		add("backfill::max_age: must not be negative, got %s", b.MaxAge)
	}
	if b.MaxEvents < 0 {
		add("backfill::max_events: must not be negative (0 = no limit), got %d", b.MaxEvents)
	}
	if b.BatchSize < 1 {
		add("backfill::batch_size: must be at least 1, got %d", b.BatchSize)
	}
	if b.RateLimit < 0 {
		add("backfill::rate_limit: must not be negative (0 = no limit), got %g", b.RateLimit)
	}
	if c.MaxInFlight < 1 {
		add("max_in_flight: must be at least 1, got %d", c.MaxInFlight)
	}
	if c.MaxBatchEvents < 1 {
		add("max_batch_events: must be at least 1, got %d", c.MaxBatchEvents)
	}
	if l := c.LeaderElection; l.Enabled {
		if l.RetryInterval <= 0 {
			add("leader_election::retry_interval: must be positive, got %s", l.RetryInterval)
		}
		if c.Provider == ProviderMongoDB && l.LeaseDuration <= 2*l.RetryInterval {
			add("leader_election::lease_duration: must be more than twice retry_interval (%s), got %s", l.RetryInterval, l.LeaseDuration)
		}
	}
	if c.MaxSplitDepth < 0 || c.MaxSplitDepth > 30 {
		add("max_split_depth: must be between 0 and 30, got %d", c.MaxSplitDepth)
	}
	if err := c.DeadLetter.Validate("dead_letter"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
