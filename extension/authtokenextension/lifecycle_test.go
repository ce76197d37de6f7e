package authtokenextension

import (
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/courier-otel/courier/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLifecycle(t *testing.T) {
	// Start prefetches the token; Shutdown must end the attempts.
	t.Run("file", func(t *testing.T) {
		testutil.ExtensionLifecycle(t, NewFactory(), fileConfig(filepath.Join(t.TempDir(), "missing")), nil)
	})
	t.Run("url", func(t *testing.T) {
		testutil.ExtensionLifecycle(t, NewFactory(), fileConfig("https://127.0.0.1:1/token"), nil)
	})
}
