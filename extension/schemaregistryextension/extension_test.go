package schemaregistryextension

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/courier-otel/courier/extension/schemaregistryextension/internal/metadata"
)

// harness is a registry under test with observable logs and metrics.
type harness struct {
	*registry
	logs *observer.ObservedLogs
	tel  *componenttest.Telemetry
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	mutate(cfg)
	require.NoError(t, cfg.Validate())
	core, logs := observer.New(zapcore.DebugLevel)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := extensiontest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	r, err := newRegistry(set, cfg)
	require.NoError(t, err)
	return &harness{registry: r, logs: logs, tel: tel}
}

func (h *harness) start(t *testing.T) error {
	t.Helper()
	err := h.Start(context.Background(), componenttest.NewNopHost())
	t.Cleanup(func() { require.NoError(t, h.Shutdown(context.Background())) })
	return err
}

// counter sums the data points of a counter whose attribute key has value.
func (h *harness) counter(t *testing.T, name, key, value string) int64 {
	t.Helper()
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if v, ok := dp.Attributes.Value(attribute.Key(key)); ok && v.AsString() == value {
			n += dp.Value
		}
	}
	return n
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
	require.NoError(t, os.WriteFile(p, b, 0o600))
}

func zipBytes(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range files {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestFixtureMetadata(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Sources = []string{writeSchemas(t)} })
	require.NoError(t, h.start(t))

	for _, tc := range []struct {
		schema, typ       string
		category          Category
		flags             Flags
		schemaTh, eventTh int
	}{
		{isaacSim, "com.nvidia.isaac.sim.app.startup", CategoryUsage, 0, 90, 0},
		{isaacSim, "com.nvidia.isaac.sim.simulation.stats", CategoryPerformance, 0, 90, 0},
		{isaacSim, "com.nvidia.isaac.sim.extension.loaded", CategoryUsage, FlagEventIgnoreOldEvents, 90, 7},
		{isaacSim, "com.nvidia.isaac.sim.ui.preferences", CategoryPersonalization, FlagEventPseudonymizeOldEvents, 90, 14},
		{isaacSim, "com.nvidia.isaac.sim.crash", CategoryPerformance, 0, 90, 0},
		{exampleApp, "com.example.app.featureUsed", CategoryUsage, FlagSchemaAnonymizeEvents, 0, 0},
		{kitInternal, "com.nvidia.omni.kit.internal.generic", CategoryPerformance, FlagSchemaIgnoreOldEvents, 30, 0},
	} {
		es, res := h.Lookup(tc.schema, tc.typ)
		require.Equal(t, Found, res, tc.typ)
		assert.Equal(t, tc.schema, es.DataSchema)
		assert.Equal(t, tc.typ, es.Type)
		assert.Equal(t, tc.category, es.Category, tc.typ)
		assert.Equal(t, tc.flags, es.Flags, tc.typ)
		assert.Equal(t, tc.schemaTh, es.SchemaOldEventsThreshold, tc.typ)
		assert.Equal(t, tc.eventTh, es.EventOldEventsThreshold, tc.typ)
	}
	es, _ := h.Lookup(isaacSim, "com.nvidia.isaac.sim.extension.loaded")
	assert.Equal(t, 7, es.OldEventsThreshold(), "smallest non-zero of schema (90) and event (7)")
	assert.Equal(t, []string{"fEventFlagIgnoreOldEvents"}, es.EventFlags)

	_, res := h.Lookup("omni.isaac.sim.telemetry-2.0", "com.nvidia.isaac.sim.crash")
	assert.Equal(t, UnknownSchema, res)
	_, res = h.Lookup(isaacSim, "com.nvidia.isaac.sim.unknown")
	assert.Equal(t, UnknownEventType, res)
	assert.Equal(t, "unknown_event_type", res.String())
	assert.EqualValues(t, 1, h.counter(t, "courier.schema_registry.loads", "outcome", "loaded"))
}

func TestMinThreshold(t *testing.T) {
	assert.Equal(t, 0, MinThreshold())
	assert.Equal(t, 0, MinThreshold(0, 0, 0))
	assert.Equal(t, 30, MinThreshold(0, 30, 0))
	assert.Equal(t, 7, MinThreshold(30, 7, 90))
	assert.Equal(t, 5, MinThreshold(5, 0, 7))
}

func TestLoadZipAnyDepth(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "approved.zip")
	writeFile(t, p, zipBytes(t, map[string][]byte{
		"schemas/omniverse/isaac/" + isaacFile: fixture(t, isaacFile),
		exampleFile:                            fixture(t, exampleFile),
		"deep/a/b/c/d/" + kitFile:              fixture(t, kitFile),
		"README.txt":                           []byte("not a schema"),
		"__MACOSX/._" + exampleFile:            []byte("\x00\x05\x16\x07 resource fork"),
		"schemas/.hidden.json":                 []byte("{"),
	}))
	for _, src := range []string{p, "file://" + p} {
		h := newHarness(t, func(c *Config) { c.Sources = []string{src} })
		require.NoError(t, h.start(t), src)
		for _, key := range [][2]string{
			{isaacSim, "com.nvidia.isaac.sim.crash"},
			{exampleApp, "com.example.app.featureUsed"},
			{kitInternal, "com.nvidia.omni.kit.internal.generic"},
		} {
			_, res := h.Lookup(key[0], key[1])
			assert.Equal(t, Found, res, "%s %v", src, key)
		}
		assert.Zero(t, h.logs.FilterMessage("schema skipped").Len(), "non-JSON, hidden and resource-fork entries are not even read")
	}
}

func TestLoadDirectoryAnyDepth(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "isaac", "v1", isaacFile), fixture(t, isaacFile))
	writeFile(t, filepath.Join(dir, exampleFile), fixture(t, exampleFile))
	writeFile(t, filepath.Join(dir, ".git", "x.json"), []byte("{"))
	h := newHarness(t, func(c *Config) { c.Sources = []string{dir} })
	require.NoError(t, h.start(t))
	_, res := h.Lookup(isaacSim, "com.nvidia.isaac.sim.app.startup")
	assert.Equal(t, Found, res)
	_, res = h.Lookup(exampleApp, "com.example.app.featureUsed")
	assert.Equal(t, Found, res)
	_, res = h.Lookup(kitInternal, "com.nvidia.omni.kit.internal.generic")
	assert.Equal(t, UnknownSchema, res)
}

func TestLoadSingleFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), exampleFile)
	writeFile(t, p, fixture(t, exampleFile))
	for _, src := range []string{p, "file://" + p} {
		h := newHarness(t, func(c *Config) { c.Sources = []string{src} })
		require.NoError(t, h.start(t))
		_, res := h.Lookup(exampleApp, "com.example.app.featureUsed")
		assert.Equal(t, Found, res)
	}
}

func TestFallbackOrder(t *testing.T) {
	root := t.TempDir()
	missing := filepath.Join(root, "missing.zip")
	broken := filepath.Join(root, "broken")
	writeFile(t, filepath.Join(broken, "x.json"), []byte(`{"schemaMeta": {"clientName": "x"}}`))
	notPackage := filepath.Join(root, "error.html")
	writeFile(t, notPackage, []byte("<html>502 Bad Gateway</html>"))
	first := filepath.Join(root, "first")
	writeFile(t, filepath.Join(first, exampleFile), fixture(t, exampleFile))
	second := filepath.Join(root, "second")
	writeFile(t, filepath.Join(second, isaacFile), fixture(t, isaacFile))

	h := newHarness(t, func(c *Config) { c.Sources = []string{missing, broken, notPackage, first, second} })
	require.NoError(t, h.start(t))
	_, res := h.Lookup(exampleApp, "com.example.app.featureUsed")
	assert.Equal(t, Found, res, "the first source that loads wins")
	_, res = h.Lookup(isaacSim, "com.nvidia.isaac.sim.crash")
	assert.Equal(t, UnknownSchema, res, "later sources are not merged in")
	assert.Equal(t, first, h.current.Load().source)
}

// tlsServer serves body over HTTPS and returns its URL and a file with its CA.
func tlsServer(t *testing.T, path string, body []byte) (string, string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	return srv.URL, ca
}

func TestHTTPSSource(t *testing.T) {
	pkg := zipBytes(t, map[string][]byte{"omniverse/" + isaacFile: fixture(t, isaacFile)})
	url, ca := tlsServer(t, "/approved.zip", pkg)

	h := newHarness(t, func(c *Config) {
		c.Sources = []string{url + "/approved.zip"}
		c.ClientConfig.TLS.CAFile = ca
	})
	require.NoError(t, h.start(t))
	_, res := h.Lookup(isaacSim, "com.nvidia.isaac.sim.simulation.stats")
	assert.Equal(t, Found, res)

	// Verification is on: without the CA the same server is refused.
	h = newHarness(t, func(c *Config) { c.Sources = []string{url + "/approved.zip"} })
	err := h.start(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")

	// A 404 is a failed source.
	h = newHarness(t, func(c *Config) {
		c.Sources = []string{url + "/other.zip"}
		c.ClientConfig.TLS.CAFile = ca
	})
	err = h.start(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "404")
}

func TestDownloadSizeLimit(t *testing.T) {
	pkg := zipBytes(t, map[string][]byte{isaacFile: fixture(t, isaacFile)})
	url, ca := tlsServer(t, "/approved.zip", pkg)
	h := newHarness(t, func(c *Config) {
		c.Sources = []string{url + "/approved.zip"}
		c.ClientConfig.TLS.CAFile = ca
		c.MaxDownloadSize = 100
	})
	err := h.start(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max_download_size")
}

func TestZipBomb(t *testing.T) {
	// 8 MiB of spaces compress to a few kilobytes.
	big := append([]byte(`{"schemaMeta":{"clientName":"bomb","schemaVersion":"1"},"x":"`), bytes.Repeat([]byte(" "), 8<<20)...)
	big = append(big, `"}`...)
	p := filepath.Join(t.TempDir(), "bomb.zip")
	writeFile(t, p, zipBytes(t, map[string][]byte{"bomb.json": big}))
	info, err := os.Stat(p)
	require.NoError(t, err)
	require.Less(t, info.Size(), int64(1<<20))

	h := newHarness(t, func(c *Config) {
		c.Sources = []string{p}
		c.MaxExpandedSize = 1 << 20
	})
	err = h.start(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max_expanded_size")
}

func TestCacheWhenEverySourceIsDown(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	pkg := zipBytes(t, map[string][]byte{isaacFile: fixture(t, isaacFile), exampleFile: fixture(t, exampleFile)})
	url, ca := tlsServer(t, "/approved.zip", pkg)

	// A good start fills the cache.
	h := newHarness(t, func(c *Config) {
		c.Sources = []string{url + "/approved.zip"}
		c.ClientConfig.TLS.CAFile = ca
		c.CacheDir = cache
	})
	require.NoError(t, h.start(t))
	require.FileExists(t, filepath.Join(cache, cacheFile))

	// Every source down: the cache serves.
	down := httptest.NewTLSServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	missing := filepath.Join(t.TempDir(), "missing")
	h = newHarness(t, func(c *Config) {
		c.Sources = []string{downURL + "/approved.zip", missing}
		c.CacheDir = cache
	})
	require.NoError(t, h.start(t))
	_, res := h.Lookup(isaacSim, "com.nvidia.isaac.sim.crash")
	assert.Equal(t, Found, res)
	_, res = h.Lookup(exampleApp, "com.example.app.featureUsed")
	assert.Equal(t, Found, res)
	assert.EqualValues(t, 1, h.counter(t, "courier.schema_registry.loads", "outcome", "cache"))
	require.Equal(t, 1, h.logs.FilterMessage("no schema source loaded; serving the cached package").Len())
	assert.Contains(t, h.current.Load().source, url+"/approved.zip")

	// No source and no cache: Start fails naming every source tried.
	h = newHarness(t, func(c *Config) {
		c.Sources = []string{downURL + "/approved.zip", missing}
		c.CacheDir = filepath.Join(t.TempDir(), "empty")
	})
	err := h.start(t)
	require.Error(t, err)
	for _, want := range []string{"sources[0] " + downURL + "/approved.zip", "sources[1] " + missing, "cache_dir"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.EqualValues(t, 1, h.counter(t, "courier.schema_registry.loads", "outcome", "failed"))
}

func TestBrokenSchemasBesideGoodOnes(t *testing.T) {
	dir := writeSchemas(t)
	broken := map[string]struct{ doc, reason string }{
		"not-json.json":      {`{"schemaMeta": `, skipNotJSON},
		"manifest.json":      {`{"package": "approved", "version": 3}`, skipNoMeta},
		"no-version.json":    {`{"schemaMeta": {"clientName": "a"}, "definitions": {"events": {"e": {}}}}`, skipBadMeta},
		"no-events.json":     {`{"schemaMeta": {"clientName": "b", "schemaVersion": "1"}}`, skipNoEvents},
		"bad-ref.json":       {brokenSchema("c", `"anyOf": [{"$ref": "#/definitions/events/missing"}],`, `{"type": "object"}`), skipCompile},
		"bad-pattern.json":   {brokenSchema("d", "", `{"type": "object", "properties": {"x": {"type": "string", "pattern": "(["}}}`), skipCompile},
		"external-ref.json":  {brokenSchema("e", "", `{"$ref": "https://schemas.example.com/other.json#/x"}`), skipCompile},
		"bad-type.json":      {brokenSchema("f", "", `{"type": "strin"}`), skipCompile},
		"bad-threshold.json": {brokenSchema("g", `"oldEventsThreshold": "7",`, `{"type": "object"}`), skipBadMeta},
		"bad-flags.json":     {`{"schemaMeta": {"clientName": "h", "schemaVersion": "1", "omniverseFlags": "fSchemaFlagAnonymizeEvents"}, "definitions": {"events": {"e": {}}}}`, skipBadMeta},
		"duplicate.json":     {strings.Replace(string(fixture(t, exampleFile)), "The example", "A copy of the example", 1), skipDuplicate},
	}
	for name, b := range broken {
		writeFile(t, filepath.Join(dir, "zz", name), []byte(b.doc))
	}
	h := newHarness(t, func(c *Config) { c.Sources = []string{dir} })
	require.NoError(t, h.start(t))

	for _, key := range [][2]string{
		{isaacSim, "com.nvidia.isaac.sim.crash"},
		{exampleApp, "com.example.app.featureUsed"},
		{kitInternal, "com.nvidia.omni.kit.internal.generic"},
	} {
		_, res := h.Lookup(key[0], key[1])
		assert.Equal(t, Found, res, key)
	}
	for _, c := range []string{"c-1", "d-1", "e-1", "f-1", "g-1"} {
		_, res := h.Lookup(c, "e")
		assert.Equal(t, UnknownSchema, res, c)
	}
	skipped := map[string]string{}
	for _, e := range h.logs.FilterMessage("schema skipped").All() {
		skipped[e.ContextMap()["file"].(string)] = e.ContextMap()["reason"].(string)
	}
	for name, b := range broken {
		assert.Equal(t, b.reason, skipped["zz/"+name], name)
	}
	assert.EqualValues(t, 4, h.counter(t, "courier.schema_registry.skipped_schemas", "reason", skipCompile))
}

// brokenSchema is a schema named client with one event "e" whose definition
// is def; extra is spliced into the root.
func brokenSchema(client, extra, def string) string {
	return `{"$schema": "http://json-schema.org/draft-07/schema#", ` + extra + `
		"schemaMeta": {"clientName": "` + client + `", "schemaVersion": "1"},
		"definitions": {"events": {"e": ` + def + `}}}`
}

func TestRefreshSwapsAndKeepsCurrentOnFailure(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, exampleFile), fixture(t, exampleFile))
	h := newHarness(t, func(c *Config) { c.Sources = []string{dir} })
	require.NoError(t, h.start(t))
	first := h.current.Load()
	es, _ := h.Lookup(exampleApp, "com.example.app.featureUsed")

	// Unchanged content: the same set, nothing recompiled.
	h.refresh(context.Background())
	assert.Same(t, first, h.current.Load())
	assert.EqualValues(t, 1, h.counter(t, "courier.schema_registry.loads", "outcome", "unchanged"))

	// New content is swapped in; a schema looked up before stays usable.
	writeFile(t, filepath.Join(dir, isaacFile), fixture(t, isaacFile))
	h.refresh(context.Background())
	_, res := h.Lookup(isaacSim, "com.nvidia.isaac.sim.crash")
	assert.Equal(t, Found, res)
	assert.NoError(t, es.Validate(event(t, eventLines(t)[5]).Body()))

	// A failed refresh keeps the current set.
	require.NoError(t, os.RemoveAll(dir))
	h.refresh(context.Background())
	_, res = h.Lookup(isaacSim, "com.nvidia.isaac.sim.crash")
	assert.Equal(t, Found, res)
	assert.Equal(t, 1, h.logs.FilterMessage("schema refresh failed; keeping the current schemas").Len())
	assert.EqualValues(t, 1, h.counter(t, "courier.schema_registry.loads", "outcome", "failed"))
}

func TestRefreshLoop(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(t.TempDir(), "cache")
	writeFile(t, filepath.Join(dir, exampleFile), fixture(t, exampleFile))
	h := newHarness(t, func(c *Config) {
		c.Sources = []string{dir}
		c.RefreshInterval = time.Second
		c.CacheDir = cache
	})
	require.NoError(t, h.start(t))
	writeFile(t, filepath.Join(dir, kitFile), fixture(t, kitFile))
	require.Eventually(t, func() bool {
		_, res := h.Lookup(kitInternal, "com.nvidia.omni.kit.internal.generic")
		return res == Found
	}, 20*time.Second, 50*time.Millisecond)

	// The cache follows the refresh.
	docs, _, err := loadCache(cache, h.limits())
	require.NoError(t, err)
	assert.Len(t, docs, 2)
}

// Lookups and validation go on, lock-free, while refreshes swap sets (run
// with -race).
func TestLookupDuringRefresh(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, isaacFile), fixture(t, isaacFile))
	h := newHarness(t, func(c *Config) { c.Sources = []string{dir} })
	require.NoError(t, h.start(t))
	lr := event(t, eventLines(t)[0])

	done := make(chan struct{})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				es, res := h.Lookup(RecordKey(lr))
				if res != Found {
					errs <- fmt.Errorf("lookup: %v", res)
					return
				}
				if err := es.Validate(lr.Body()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 20 {
		// Alternate the content so that every refresh compiles a new set.
		if i%2 == 0 {
			writeFile(t, filepath.Join(dir, exampleFile), fixture(t, exampleFile))
		} else {
			require.NoError(t, os.Remove(filepath.Join(dir, exampleFile)))
		}
		h.refresh(context.Background())
	}
	close(done)
	for range 2 {
		require.NoError(t, <-errs)
	}
	assert.EqualValues(t, 21, h.counter(t, "courier.schema_registry.loads", "outcome", "loaded"))
}
