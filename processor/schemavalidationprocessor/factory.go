// Package schemavalidationprocessor implements the schema_validation
// processor: it passes on only the events that validate against an approved
// schema of a schema_registry extension and whose privacy category the user
// consented to (SPEC.md B.4), and counts every other one by reason.
package schemavalidationprocessor

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/courier-otel/courier/internal/privacy"
	"github.com/courier-otel/courier/processor/schemavalidationprocessor/internal/metadata"
)

const defaultPollInterval = 10 * time.Second

// NewFactory returns the schema_validation processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	return &Config{
		OnInvalid: OnInvalidDrop,
		Consent: ConsentConfig{
			PrivacyFile:  defaultPrivacyFile(),
			PollInterval: defaultPollInterval,
		},
	}
}

// defaultPrivacyFile is $HOME/.nvidia-omniverse/config/privacy.toml, or ""
// when there is no home directory (the config must then set consent).
func defaultPrivacyFile() string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return privacy.DefaultPath(home)
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := newProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
}
