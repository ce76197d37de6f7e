package testutil

import (
	"context"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// LoadConfig reads the section named id of testdata/config.yaml into the
// factory's default config and validates it, as the collector does. It
// returns the config and the unmarshal or validation error, so that tests of
// bad values can assert on the message.
func LoadConfig(t testing.TB, id component.ID, factory component.Factory) (component.Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatalf("load testdata/config.yaml: %v", err)
	}
	sub, err := cm.Sub(id.String())
	if err != nil {
		t.Fatalf("section %s of testdata/config.yaml: %v", id, err)
	}
	cfg := factory.CreateDefaultConfig()
	if err := sub.Unmarshal(cfg); err != nil {
		return cfg, err
	}
	return cfg, confmap.Validate(cfg)
}

// lifecycle starts and shuts down c, and checks the collector's contract that
// Shutdown without Start is fine too.
func lifecycle(t *testing.T, host component.Host, create func() (component.Component, error)) {
	t.Helper()
	if host == nil {
		host = componenttest.NewNopHost()
	}
	c, err := create()
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown before start: %v", err)
	}
	c, err = create()
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := c.Start(context.Background(), host); err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// ReceiverLifecycle creates a logs receiver, starts it and shuts it down.
// host may be nil for a host without extensions.
func ReceiverLifecycle(t *testing.T, f receiver.Factory, cfg component.Config, host component.Host) {
	lifecycle(t, host, func() (component.Component, error) {
		return f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	})
}

// ProcessorLifecycle creates a logs processor, starts it and shuts it down.
func ProcessorLifecycle(t *testing.T, f processor.Factory, cfg component.Config, host component.Host) {
	lifecycle(t, host, func() (component.Component, error) {
		return f.CreateLogs(context.Background(), processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	})
}

// ExporterLifecycle creates a logs exporter, starts it and shuts it down.
func ExporterLifecycle(t *testing.T, f exporter.Factory, cfg component.Config, host component.Host) {
	lifecycle(t, host, func() (component.Component, error) {
		return f.CreateLogs(context.Background(), exportertest.NewNopSettings(f.Type()), cfg)
	})
}

// ExtensionLifecycle creates an extension, starts it and shuts it down.
func ExtensionLifecycle(t *testing.T, f extension.Factory, cfg component.Config, host component.Host) {
	lifecycle(t, host, func() (component.Component, error) {
		return f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	})
}
