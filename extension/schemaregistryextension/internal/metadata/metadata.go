// Package metadata holds what mdatagen would generate for this component.
package metadata

import "go.opentelemetry.io/collector/component"

var (
	// Type is the component type in collector configs.
	Type = component.MustNewType("schema_registry")
	// ScopeName is the instrumentation scope of the component's telemetry.
	ScopeName = "github.com/courier-otel/courier/extension/schemaregistryextension"
)

// ExtensionStability is the stability of the extension.
const ExtensionStability = component.StabilityLevelAlpha
