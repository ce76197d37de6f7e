package demo

import (
	"archive/zip"
	"context"
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

// writeOmniverseBacklog writes what the applications logged before Courier
// started: the old events of a machine that was offline for weeks, and a
// legacy application whose schema was never approved.
func writeOmniverseBacklog(dir string, m omniverseMix, now time.Time) (err error) {
	old, err := structuredlog.Open(structuredlog.Options{
		Dir: dir, Name: "omni.demo.renderer.log", Source: demoUser,
		Now: func() time.Time { return now.Add(-45 * 24 * time.Hour) },
	})
	if err != nil {
		return err
	}
	for i := 0; i < m.Old && err == nil; i++ {
		_, err = old.Write(frameStats, rendererSchema, frames{FPS: 30, GPUMemoryMB: 4000 + i, Renderer: "RTX"})
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
	for i := 0; i < m.UnknownSchema && err == nil; i++ {
		_, err = legacy.Write("com.nvidia.omni.demo.legacy.ping", legacySchema, map[string]int{"n": i})
	}
	if cerr := legacy.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeOmniverseLive is two applications logging while Courier runs: the
// rest of m, the rejected kinds spread among the valid events, paced to
// take about d.
func writeOmniverseLive(ctx context.Context, dir string, m omniverseMix, d time.Duration) (err error) {
	viewer, err := structuredlog.Open(structuredlog.Options{Dir: dir, Name: "omni.demo.viewer.log", Source: demoUser})
	if err != nil {
		return err
	}
	renderer, err := structuredlog.Open(structuredlog.Options{Dir: dir, Name: "omni.demo.renderer.log", Source: demoUser})
	if err != nil {
		_ = viewer.Close()
		return err
	}
	defer func() {
		for _, w := range []*structuredlog.Writer{viewer, renderer} {
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
	}()

	// Events are written in bursts, a burst every d/bursts.
	const bursts = 20
	n, perBurst := 0, (m.Valid+m.InvalidData+m.UnknownType+m.NoConsent+m.TooLarge)/bursts+1
	write := func(w *structuredlog.Writer, typ, schema string, data any) error {
		if n++; n%perBurst == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d / bursts):
			}
		}
		_, err := w.Write(typ, schema, data)
		return err
	}
	features := []string{"open-stage", "measure", "snapshot", "layer-editor", "search"}
	var invalid, unknown, noConsent int
	for i := 0; i < m.Valid && err == nil; i++ {
		// A third of the valid events are the renderer's.
		if i%3 == 2 {
			err = write(renderer, frameStats, rendererSchema, frames{FPS: 55 + float64(i%10), GPUMemoryMB: 6000 + i, Renderer: "RTX"})
		} else {
			err = write(viewer, featureUsed, viewerSchema, feature{FeatureName: features[i%len(features)], DurationMs: float64(10 + i%400)})
		}
		switch {
		case err != nil:
		case i%20 == 5 && invalid < m.InvalidData:
			err = write(viewer, featureUsed, viewerSchema, feature{FeatureName: "measure", DurationMs: -5})
			invalid++
		case i%20 == 10 && unknown < m.UnknownType:
			err = write(viewer, unknownType, viewerSchema, map[string]bool{"opened": true})
			unknown++
		case i%20 == 15 && noConsent < m.NoConsent:
			err = write(viewer, themeChanged, viewerSchema, map[string]string{"theme": []string{"dark", "light"}[i%2]})
			noConsent++
		}
	}
	for ; invalid < m.InvalidData && err == nil; invalid++ {
		err = write(viewer, featureUsed, viewerSchema, feature{FeatureName: "measure", DurationMs: -5})
	}
	for ; unknown < m.UnknownType && err == nil; unknown++ {
		err = write(viewer, unknownType, viewerSchema, map[string]bool{"opened": true})
	}
	for ; noConsent < m.NoConsent && err == nil; noConsent++ {
		err = write(viewer, themeChanged, viewerSchema, map[string]string{"theme": "high-contrast"})
	}
	// A crash report with a large attachment: valid, but over the
	// endpoint's max_event_size.
	for i := 0; i < m.TooLarge && err == nil; i++ {
		err = write(viewer, featureUsed, viewerSchema, feature{FeatureName: "crash-report", Notes: strings.Repeat("stack frame ", 8000)})
	}
	if err != nil {
		return err
	}
	return appendTornLines(filepath.Join(dir, "omni.demo.viewer.log"), m.NotJSON)
}

// appendTornLines appends lines an application left torn when it crashed
// mid-write (completed by the newline of its next start).
func appendTornLines(path string, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	for i := 0; i < n && err == nil; i++ {
		_, err = fmt.Fprintf(f, "{\"id\":\"%d\",\"source\":\"%s\",\"specver\n", i, demoUser)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
