// Package structuredlogreceiver implements the structured_log receiver: it
// tails Omniverse structured log files and emits one log record per
// CloudEvent line. See README.md for users and design.md for how it works.
package structuredlogreceiver

import (
	"context"
	"github.com/courier-otel/courier/internal/deadletter"
	"github.com/courier-otel/courier/internal/isolate"
	"os"
	"path/filepath"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/metadata"
)

// Defaults, as the README lists them.
const (
	defaultPollInterval       = time.Second
	defaultSeekTagName        = "seek"
	defaultMaxBatchEvents     = 1000
	defaultMaxInFlightBatches = 4
	defaultMaxEventSize       = 10000000
	defaultMode               = "prod"
	defaultMessageMatchMode   = "all"
	defaultMaxConcurrentFiles = 1024
	// defaultInclude is the Omniverse log folder; ${env:HOME} is resolved
	// when the default config is made, since the collector only expands
	// variables in user configuration.
	defaultInclude = "${env:HOME}/.nvidia-omniverse/logs/*.log"
)

// NewFactory returns the structured_log receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Include:            []string{defaultIncludePattern()},
		PollInterval:       defaultPollInterval,
		StartAt:            StartAtBeginning,
		SeekTagName:        defaultSeekTagName,
		WriteSeekTag:       true,
		MaxBatchEvents:     defaultMaxBatchEvents,
		MaxInFlightBatches: defaultMaxInFlightBatches,
		MaxEventSize:       defaultMaxEventSize,
		Mode:               defaultMode,
		MessageMatchMode:   defaultMessageMatchMode,
		MaxConcurrentFiles: defaultMaxConcurrentFiles,
		MaxSplitDepth:      isolate.DefaultMaxDepth,
		DeadLetter:         deadletter.DefaultSettings(),
	}
}

// defaultIncludePattern resolves ${env:HOME} in defaultInclude. Without a
// home folder the pattern keeps the variable and Validate asks for include.
func defaultIncludePattern() string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return defaultInclude
	}
	return filepath.Join(home, ".nvidia-omniverse", "logs", "*.log")
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(set, cfg.(*Config), next)
}
