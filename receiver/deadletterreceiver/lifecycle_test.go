package deadletterreceiver

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/courier-otel/courier/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLifecycle(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Directory = t.TempDir()
	testutil.ReceiverLifecycle(t, NewFactory(), cfg, nil)
}
