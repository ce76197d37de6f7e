// Package datastorereceiver implements the datastore receiver: it reads the
// health events NVSentinel stores in PostgreSQL or MongoDB and emits one
// log record (one CloudEvent) per inserted event, writing its resume token
// only past delivered events. See README.md.
package datastorereceiver

import (
	"github.com/courier-otel/courier/internal/deadletter"
	"github.com/courier-otel/courier/internal/isolate"

	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/metadata"
)

// Defaults, as the README lists them (NVSentinel's where it has one).
const (
	defaultClientName     = "event-exporter"
	defaultEventSource    = "nvsentinel://unknown/healthevents"
	defaultMaxInFlight    = 2000
	defaultMaxBatchEvents = 500
	defaultRetryInterval  = 2 * time.Second
	defaultLeaseDuration  = 10 * time.Second
)

// NewFactory returns the datastore receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Provider: ProviderPostgreSQL,
		PostgreSQL: PostgreSQLConfig{
			NotifyChannel:     "nvsentinel_changes",
			PollInterval:      time.Second,
			HealthEventsTable: "health_events",
			ChangelogTable:    "datastore_changelog",
			ResumeTokensTable: "resume_tokens",
		},
		MongoDB: MongoDBConfig{
			Database:        "nvsentinel",
			Collection:      "HealthEvents",
			TokenCollection: "ResumeTokens",
		},
		ClientName:  defaultClientName,
		EventSource: defaultEventSource,
		Backfill: BackfillConfig{
			Enabled:   true,
			MaxAge:    720 * time.Hour,
			MaxEvents: 1_000_000,
			BatchSize: 500,
			RateLimit: 1000,
		},
		MaxInFlight:    defaultMaxInFlight,
		MaxBatchEvents: defaultMaxBatchEvents,
		MaxSplitDepth:  isolate.DefaultMaxDepth,
		DeadLetter:     deadletter.DefaultSettings(),
		LeaderElection: LeaderElectionConfig{
			Enabled:       true,
			RetryInterval: defaultRetryInterval,
			LeaseDuration: defaultLeaseDuration,
		},
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(set, cfg.(*Config), next)
}
