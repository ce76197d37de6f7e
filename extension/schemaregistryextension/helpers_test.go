package schemaregistryextension

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/pkg/cloudevent"
)

// The fixtures of package schemaregistrytest, read from disk here because
// that package imports this one.
const (
	fixtureDir = "schemaregistrytest/testdata/schemas"
	eventsFile = "schemaregistrytest/testdata/events/isaacsim.jsonl"

	isaacSim    = "omni.isaac.sim.telemetry-1.0"
	exampleApp  = "example.app-1.0"
	kitInternal = "omni.kit.internal-1.0"

	isaacFile   = "omni.isaac.sim.telemetry-1.0.json"
	exampleFile = "example.app-1.0.json"
	kitFile     = "omni.kit.internal-1.0.json"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	require.NoError(t, err)
	return b
}

func writeSchemas(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{isaacFile, exampleFile, kitFile} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), fixture(t, name), 0o600))
	}
	return dir
}

func eventLines(t testing.TB) [][]byte {
	t.Helper()
	b, err := readEventsFile()
	require.NoError(t, err)
	return bytes.Split(bytes.TrimSpace(b), []byte("\n"))
}

func event(t testing.TB, line []byte) plog.LogRecord {
	t.Helper()
	lr := plog.NewLogRecord()
	var d cloudevent.Decoder
	require.NoError(t, d.Decode(line, lr))
	return lr
}

func readEventsFile() ([]byte, error) { return os.ReadFile(eventsFile) }
