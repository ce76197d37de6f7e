// Package metadata holds what mdatagen would generate for this component.
package metadata

import "go.opentelemetry.io/collector/component"

var (
	// Type is the component type in collector configs.
	Type = component.MustNewType("old_events")
	// ScopeName is the instrumentation scope of the component's telemetry.
	ScopeName = "github.com/courier-otel/courier/processor/oldeventsprocessor"
)

// LogsStability is the stability of the logs pipeline support.
const LogsStability = component.StabilityLevelAlpha
