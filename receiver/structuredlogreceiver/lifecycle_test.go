package structuredlogreceiver

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/courier-otel/courier/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLifecycle(t *testing.T) {
	testutil.ReceiverLifecycle(t, NewFactory(), testConfig(t.TempDir()), nil)
}
