// Package deadletterreceiver implements the dead_letter receiver: it
// replays the dead-letter files Courier's components write into a pipeline,
// once the reason they were dead-lettered is gone (a sink outage).
package deadletterreceiver // import "github.com/courier-otel/courier/receiver/deadletterreceiver"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/courier-otel/courier/receiver/deadletterreceiver/internal/metadata"
)

// Defaults, as the README lists them.
const (
	defaultPattern        = "*.jsonl"
	defaultMinFileAge     = 30 * time.Second
	defaultPollInterval   = 10 * time.Second
	defaultMaxBatchEvents = 500
	defaultMaxRecordSize  = 16 << 20
	defaultDoneMaxSize    = 100 << 20
)

// NewFactory returns the dead_letter receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Pattern:        defaultPattern,
		AfterReplay:    AfterReplayMove,
		DoneMaxSize:    defaultDoneMaxSize,
		MinFileAge:     defaultMinFileAge,
		PollInterval:   defaultPollInterval,
		MaxBatchEvents: defaultMaxBatchEvents,
		MaxRecordSize:  defaultMaxRecordSize,
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(set, cfg.(*Config), next)
}
