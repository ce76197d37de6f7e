// Package celfilterprocessor drops CloudEvents for which a CEL expression is
// false, like NVSentinel's exporter event filter.
package celfilterprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/courier-otel/courier/processor/celfilterprocessor/internal/metadata"
)

// NewFactory returns the cel_filter processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	return &Config{OnError: OnErrorKeep, MaxCost: 1_000_000}
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	f, err := newFilter(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, f.processLogs,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
}
