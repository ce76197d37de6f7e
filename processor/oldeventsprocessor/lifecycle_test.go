package oldeventsprocessor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/goleak"

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/processor/oldeventsprocessor/internal/metadata"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLifecycle(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.ThresholdDays = 30
	testutil.ProcessorLifecycle(t, f, cfg, nil)

	cfg = f.CreateDefaultConfig().(*Config)
	cfg.Registry = schemaregistrytest.ID
	cfg.PseudonymizeKey = testKey
	testutil.ProcessorLifecycle(t, f, cfg, schemaregistrytest.NewHost(schemaregistrytest.Start(t)))
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	require.NoError(t, os.WriteFile(short, []byte("short\n"), 0o600))
	for name, tc := range map[string]struct {
		mutate func(*Config)
		want   string
	}{
		"registry missing": {func(c *Config) { c.Registry = schemaregistrytest.ID }, "registry: extension schema_registry not found"},
		"key file missing": {func(c *Config) { c.PseudonymizeKeyFile = filepath.Join(dir, "none.key") }, "pseudonymize_key_file: open"},
		"key file short":   {func(c *Config) { c.PseudonymizeKeyFile = short }, "holds 5 bytes; the key must be at least 16"},
	} {
		t.Run(name, func(t *testing.T) {
			f := NewFactory()
			cfg := f.CreateDefaultConfig().(*Config)
			tc.mutate(cfg)
			require.NoError(t, cfg.Validate())
			p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
			require.NoError(t, err)
			err = p.Start(context.Background(), componenttest.NewNopHost())
			assert.ErrorContains(t, err, tc.want)
			require.NoError(t, p.Shutdown(context.Background()))
		})
	}
}
