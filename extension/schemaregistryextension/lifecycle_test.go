package schemaregistryextension

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/courier-otel/courier/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLifecycle(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Sources = []string{writeSchemas(t)}
	cfg.RefreshInterval = time.Hour // the refresh goroutine must end on Shutdown too
	testutil.ExtensionLifecycle(t, f, cfg, nil)
}
