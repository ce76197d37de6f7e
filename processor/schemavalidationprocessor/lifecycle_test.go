package schemavalidationprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/goleak"

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/processor/schemavalidationprocessor/internal/metadata"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLifecycle(t *testing.T) {
	host := schemaregistrytest.NewHost(schemaregistrytest.Start(t))
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Registry = schemaregistrytest.ID
	cfg.Consent.PrivacyFile = writePrivacy(t, t.TempDir(), "[privacy]\nusage = true\n")
	cfg.Consent.PollInterval = time.Second // the watcher must end on Shutdown
	testutil.ProcessorLifecycle(t, f, cfg, host)
}

func TestStartWithoutRegistry(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Registry = schemaregistrytest.ID
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	err = p.Start(context.Background(), componenttest.NewNopHost())
	assert.ErrorContains(t, err, "registry: extension schema_registry not found")
	require.NoError(t, p.Shutdown(context.Background()))
}
