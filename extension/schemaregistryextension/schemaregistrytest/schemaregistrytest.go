// Package schemaregistrytest gives tests of components that use the
// schema_registry extension a real registry loaded with fixture schemas:
// an Isaac Sim-style schema with five events (SPEC.md B.4), the example
// schema of SPEC.md B.4 (flagged fSchemaFlagAnonymizeEvents) and a Kit
// schema (flagged fSchemaFlagIgnoreOldEvents, threshold at the schema root).
package schemaregistrytest

import (
	"bytes"
	"context"
	"embed"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/extension/schemaregistryextension"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

//go:embed testdata/schemas/*.json
var schemas embed.FS

//go:embed testdata/events/isaacsim.jsonl
var events []byte

// The fixture schemas' dataschema values.
const (
	IsaacSim    = "omni.isaac.sim.telemetry-1.0"
	ExampleApp  = "example.app-1.0"
	KitInternal = "omni.kit.internal-1.0"
)

// Schemas returns the fixture schema files by name.
func Schemas() map[string][]byte {
	out := map[string][]byte{}
	entries, _ := fs.ReadDir(schemas, "testdata/schemas")
	for _, e := range entries {
		b, _ := schemas.ReadFile("testdata/schemas/" + e.Name())
		out[e.Name()] = b
	}
	return out
}

// WriteSchemas writes the fixture schemas into a new temporary directory and
// returns it.
func WriteSchemas(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range Schemas() {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// EventLines returns one JSON CloudEvent line per fixture event type: the
// first is the ~700-byte simulation.stats event used by benchmarks.
func EventLines() [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(bytes.TrimSpace(events), []byte("\n")) {
		out = append(out, bytes.Clone(l))
	}
	return out
}

// Event decodes a JSON CloudEvent line into a new log record.
func Event(t testing.TB, line []byte) plog.LogRecord {
	t.Helper()
	lr := plog.NewLogRecord()
	var d cloudevent.Decoder
	if err := d.Decode(line, lr); err != nil {
		t.Fatalf("decode %s: %v", line, err)
	}
	return lr
}

// ID is the component ID Start gives the registry.
var ID = component.MustNewID("schema_registry")

// Start creates and starts a schema_registry loading sources (the fixture
// schemas when none are given) and shuts it down when the test ends.
func Start(t testing.TB, sources ...string) component.Component {
	t.Helper()
	if len(sources) == 0 {
		sources = []string{WriteSchemas(t)}
	}
	f := schemaregistryextension.NewFactory()
	cfg := f.CreateDefaultConfig().(*schemaregistryextension.Config)
	cfg.Sources = sources
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ext.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ext.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return ext
}

// Registry is Start returning the Registry.
func Registry(t testing.TB, sources ...string) schemaregistryextension.Registry {
	t.Helper()
	return Start(t, sources...).(schemaregistryextension.Registry)
}

// Host is a component.Host with the given extensions.
type Host struct {
	Extensions map[component.ID]component.Component
}

// GetExtensions implements component.Host.
func (h Host) GetExtensions() map[component.ID]component.Component { return h.Extensions }

// NewHost returns a Host serving ext under ID.
func NewHost(ext component.Component) Host {
	return Host{Extensions: map[component.ID]component.Component{ID: ext}}
}
