// Package oldeventsprocessor implements the old_events processor: events
// older than a threshold are dropped, anonymized or pseudonymized, with the
// threshold and precedence rules of the Omniverse transmitter (SPEC.md B.5),
// and events of schemas flagged fSchemaFlagAnonymizeEvents are always
// anonymized.
package oldeventsprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/courier-otel/courier/processor/oldeventsprocessor/internal/metadata"
)

// NewFactory returns the old_events processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	return &Config{}
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := newProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithStart(p.start),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
}
