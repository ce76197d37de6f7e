package deadletterreceiver

import (
	"testing"

	"github.com/courier-otel/courier/internal/testutil"
)

func TestREADMEExamples(t *testing.T) {
	testutil.READMEExamples(t, "receivers", NewFactory())
}
