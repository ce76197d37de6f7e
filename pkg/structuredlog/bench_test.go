package structuredlog

import (
	"encoding/json"
	"os"
	"testing"
)

// benchEvent encodes to about 700 bytes of event line with the envelope.
type benchEvent struct {
	FeatureName string            `json:"featureName"`
	DurationMs  float64           `json:"durationMs"`
	Count       int               `json:"count"`
	Enabled     bool              `json:"enabled"`
	Path        string            `json:"path"`
	Tags        []string          `json:"tags"`
	Attributes  map[string]string `json:"attributes"`
}

func newBenchEvent() benchEvent {
	return benchEvent{
		FeatureName: "omni.kit.window.viewport.render",
		DurationMs:  16.667,
		Count:       1234567,
		Enabled:     true,
		Path:        "/home/alice/projects/warehouse/stage/scene.usd",
		Tags:        []string{"render", "viewport", "rtx", "interactive"},
		Attributes: map[string]string{
			"gpu": "NVIDIA RTX 6000 Ada Generation", "driver": "550.54.14", "os": "Ubuntu 24.04.1 LTS",
			"kit": "106.5.0+release.12345.abcdef01", "extension": "omni.kit.viewport.window-107.0.8",
			"renderer": "RaytracedLighting", "resolution": "3840x2160",
		},
	}
}

func benchWriter(b *testing.B) *Writer {
	w, err := Open(Options{Dir: b.TempDir(), Name: "bench.log", Source: "alice@example.app", Mode: ModeDev})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = w.Close() })
	return w
}

// lineLen writes one event and returns how many bytes it added.
func lineLen(b *testing.B, w *Writer, write func() error) int64 {
	before, err := os.Stat(w.Path())
	if err != nil {
		b.Fatal(err)
	}
	if err := write(); err != nil {
		b.Fatal(err)
	}
	after, err := os.Stat(w.Path())
	if err != nil {
		b.Fatal(err)
	}
	return after.Size() - before.Size()
}

func BenchmarkWrite(b *testing.B) {
	w := benchWriter(b)
	ev := newBenchEvent()
	write := func() error {
		_, err := w.Write("com.nvidia.omni.kit.internal.generic", "omni.kit.internal-1.0", ev)
		return err
	}
	b.SetBytes(lineLen(b, w, write))
	b.ReportAllocs()
	for b.Loop() {
		if err := write(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteRaw(b *testing.B) {
	w := benchWriter(b)
	raw, err := json.Marshal(newBenchEvent())
	if err != nil {
		b.Fatal(err)
	}
	write := func() error {
		_, err := w.WriteRaw("com.nvidia.omni.kit.internal.generic", "omni.kit.internal-1.0", raw)
		return err
	}
	b.SetBytes(lineLen(b, w, write))
	b.ReportAllocs()
	for b.Loop() {
		if err := write(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkID(b *testing.B) {
	for _, c := range []struct {
		name string
		typ  IDType
		mode IDMode
	}{
		{"uuid-fast-sequential", IDTypeUUID, IDModeFastSequential},
		{"uuid-sequential", IDTypeUUID, IDModeSequential},
		{"uuid-random", IDTypeUUID, IDModeRandom},
		{"uint64-sequential", IDTypeUint64, IDModeSequential},
		{"uint64-random", IDTypeUint64, IDModeRandom},
	} {
		b.Run(c.name, func(b *testing.B) {
			g, err := newIDGenerator(c.typ, c.mode, 0)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = g.appendID(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
