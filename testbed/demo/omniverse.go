package demo

import (
	"archive/zip"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/courier-otel/courier/pkg/structuredlog"
)

//go:embed schemas/*.json
var schemaFiles embed.FS

// The sample applications' schemas (schemas/) and event types.
const (
	viewerSchema   = "omni.demo.viewer-1.0"
	rendererSchema = "omni.demo.renderer-1.0"
	legacySchema   = "omni.demo.legacy-0.9"                          // never approved
	featureUsed    = "com.nvidia.omni.demo.viewer.featureUsed"       // usage
	themeChanged   = "com.nvidia.omni.demo.viewer.themeChanged"      // personalization
	frameStats     = "com.nvidia.omni.demo.renderer.frameStats"      // performance
	unknownType    = "com.nvidia.omni.demo.viewer.experimentalPanel" // not in the schema
	demoUser       = "jdoe@example.com"
)

// omniverseMix is how many events of each kind the demo writes; each kind
// has one expected outcome.
type omniverseMix struct {
	Valid         int // approved, consented, recent: delivered unchanged
	Old           int // valid but 45 days old: delivered anonymized
	InvalidData   int // data violates the schema (negative duration)
	UnknownType   int // an event type the schema does not have
	UnknownSchema int // a dataschema that was never approved
	NoConsent     int // personalization, which privacy.toml does not allow
	TooLarge      int // valid, but larger than the endpoint takes: dead-lettered
	NotJSON       int // torn lines: not events at all
}

func defaultOmniverseMix() omniverseMix {
	return omniverseMix{Valid: 450, Old: 40, InvalidData: 15, UnknownType: 10, UnknownSchema: 10,
		NoConsent: 20, TooLarge: 1, NotJSON: 2}
}

func (m omniverseMix) lines() int {
	return m.Valid + m.Old + m.InvalidData + m.UnknownType + m.UnknownSchema + m.NoConsent + m.TooLarge + m.NotJSON
}

// writeSchemasZip packs the approved schemas into a zip, as a schema
// service publishes them.
func writeSchemasZip(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	err = fs.WalkDir(schemaFiles, "schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := schemaFiles.ReadFile(p)
		if err != nil {
			return err
		}
		w, err := zw.Create("approved/" + d.Name())
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// privacyTOML is the user's consent, as Omniverse keeps it in
// ~/.nvidia-omniverse/config/privacy.toml.
const privacyTOML = `[privacy]
userId = "` + demoUser + `"
usage = true
performance = true
personalization = false
`

// writeOmniverseLogs writes the structured log files of two applications
// and a legacy one, the kinds of m mixed within each file.
func writeOmniverseLogs(dir string, m omniverseMix, now time.Time) error {
	viewer, err := structuredlog.Open(structuredlog.Options{Dir: dir, Name: "omni.demo.viewer.log", Source: demoUser})
	if err != nil {
		return err
	}
	type feature struct {
		FeatureName string  `json:"featureName"`
		DurationMs  float64 `json:"durationMs"`
		Notes       string  `json:"notes,omitempty"`
	}
	type frames struct {
		FPS         float64 `json:"fps"`
		GPUMemoryMB int     `json:"gpuMemoryMB"`
		Renderer    string  `json:"renderer"`
	}
	features := []string{"open-stage", "measure", "snapshot", "layer-editor", "search"}
	// Most valid events are the viewer's, a third the renderer's; the
	// rejected kinds are spread among them as real applications write.
	renderer, err := structuredlog.Open(structuredlog.Options{Dir: dir, Name: "omni.demo.renderer.log", Source: demoUser})
	if err != nil {
		_ = viewer.Close()
		return err
	}
	write := func(w *structuredlog.Writer, typ, schema string, data any) {
		if err == nil {
			_, err = w.Write(typ, schema, data)
		}
	}
	invalid := 0
	for i := 0; i < m.Valid; i++ {
		if i%3 == 2 {
			write(renderer, frameStats, rendererSchema, frames{FPS: 55 + float64(i%10), GPUMemoryMB: 6000 + i, Renderer: "RTX"})
		} else {
			write(viewer, featureUsed, viewerSchema, feature{FeatureName: features[i%len(features)], DurationMs: float64(10 + i%400)})
		}
		if i%30 == 0 && invalid < m.InvalidData {
			write(viewer, featureUsed, viewerSchema, feature{FeatureName: "measure", DurationMs: -5})
			invalid++
		}
	}
	for ; invalid < m.InvalidData; invalid++ {
		write(viewer, featureUsed, viewerSchema, feature{FeatureName: "measure", DurationMs: -5})
	}
	for i := 0; i < m.NoConsent; i++ {
		write(viewer, themeChanged, viewerSchema, map[string]string{"theme": []string{"dark", "light"}[i%2]})
	}
	for i := 0; i < m.UnknownType; i++ {
		write(viewer, unknownType, viewerSchema, map[string]bool{"opened": true})
	}
	for i := 0; i < m.TooLarge; i++ {
		write(viewer, featureUsed, viewerSchema, feature{FeatureName: "crash-report", Notes: strings.Repeat("stack frame ", 8000)})
	}
	if cerr := viewer.Close(); err == nil {
		err = cerr
	}
	if cerr := renderer.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	// Events a machine kept while offline for weeks.
	old, err := structuredlog.Open(structuredlog.Options{
		Dir: dir, Name: "omni.demo.renderer.log", Source: demoUser,
		Now: func() time.Time { return now.Add(-45 * 24 * time.Hour) },
	})
	if err != nil {
		return err
	}
	for i := 0; i < m.Old; i++ {
		write(old, frameStats, rendererSchema, frames{FPS: 30, GPUMemoryMB: 4000 + i, Renderer: "RTX"})
	}
	if cerr := old.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	legacy, err := structuredlog.Open(structuredlog.Options{Dir: dir, Name: "omni.demo.legacy.log", Source: demoUser})
	if err != nil {
		return err
	}
	for i := 0; i < m.UnknownSchema; i++ {
		write(legacy, "com.nvidia.omni.demo.legacy.ping", legacySchema, map[string]int{"n": i})
	}
	if cerr := legacy.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	// Lines torn by an application that crashed mid-write (and then wrote
	// the newline of its next start).
	f, err := os.OpenFile(filepath.Join(dir, "omni.demo.viewer.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	for i := 0; i < m.NotJSON; i++ {
		_, err = fmt.Fprintf(f, "{\"id\":\"%d\",\"source\":\"%s\",\"specver\n", i, demoUser)
		if err != nil {
			break
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
