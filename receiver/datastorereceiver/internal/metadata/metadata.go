// Package metadata is the hand-written stand-in for what mdatagen would
// generate for the datastore receiver: its type, scope name, stability and
// internal telemetry instruments.
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	// Type is the component type users write in configs.
	Type = component.MustNewType("datastore")
	// ScopeName names the receiver's meter and logger scope.
	ScopeName = "github.com/courier-otel/courier/receiver/datastorereceiver"
)

// LogsStability is the stability of the logs signal.
const LogsStability = component.StabilityLevelAlpha
