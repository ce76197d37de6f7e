// Package schemaregistryextension implements the schema_registry extension:
// it loads the approved Omniverse JSON schemas (SPEC.md B.4) from an ordered
// list of sources, keeps them fresh, and serves per (dataschema, type) a
// compiled validator, the privacy category, the flags, the old-event
// thresholds and the declared data member types through [Registry].
package schemaregistryextension

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"

	"github.com/courier-otel/courier/extension/schemaregistryextension/internal/metadata"
)

// Defaults.
const (
	defaultMaxDownloadSize = 64 << 20  // 64 MiB
	defaultMaxExpandedSize = 256 << 20 // 256 MiB
	defaultTimeout         = 30 * time.Second
)

// NewFactory returns the schema_registry extension factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = defaultTimeout
	return &Config{
		MaxDownloadSize: defaultMaxDownloadSize,
		MaxExpandedSize: defaultMaxExpandedSize,
		ClientConfig:    client,
	}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newRegistry(set, cfg.(*Config))
}
