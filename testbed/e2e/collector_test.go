package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/courier-otel/courier/internal/testutil"
)

// allComponents is a running collector configured with
// testdata/all_components.yaml.
type allComponents struct {
	*testutil.Collector
	otlpHTTPPort int
	healthPort   int
	pprofPort    int
	zpagesPort   int
	metricsPort  int
	logDir       string // file_log reads *.log in it
	storageDir   string // file_storage's directory
}

// startAllComponents starts the collector with testdata/all_components.yaml,
// passing the free ports, temp directories and sink URL the config expects
// through its environment; sinkURL is where the otlp_http exporter sends.
// prepare, if not nil, runs before the start (to write files for file_log).
// Call waitReady before using the collector.
func startAllComponents(t *testing.T, sinkURL string, prepare func(c *allComponents)) *allComponents {
	t.Helper()
	bin := testutil.CollectorBinary(t)
	cfg, err := filepath.Abs(filepath.Join("testdata", "all_components.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(cfg); err != nil { // also tells `go test` caching about the file
		t.Fatalf("read test config: %v", err)
	}
	p := testutil.FreePorts(t, 7)
	c := &allComponents{
		otlpHTTPPort: p[1],
		healthPort:   p[2],
		pprofPort:    p[3],
		zpagesPort:   p[4],
		metricsPort:  p[5],
		logDir:       t.TempDir(),
		storageDir:   t.TempDir(),
	}
	if prepare != nil {
		prepare(c)
	}
	env := []string{
		"COURIER_E2E_OTLP_GRPC_PORT=" + strconv.Itoa(p[0]),
		"COURIER_E2E_OTLP_HTTP_PORT=" + strconv.Itoa(c.otlpHTTPPort),
		"COURIER_E2E_HEALTH_PORT=" + strconv.Itoa(c.healthPort),
		"COURIER_E2E_PPROF_PORT=" + strconv.Itoa(c.pprofPort),
		"COURIER_E2E_ZPAGES_PORT=" + strconv.Itoa(c.zpagesPort),
		"COURIER_E2E_METRICS_PORT=" + strconv.Itoa(c.metricsPort),
		"COURIER_E2E_OTLP_GRPC_SINK_PORT=" + strconv.Itoa(p[6]),
		"COURIER_E2E_LOG_DIR=" + c.logDir,
		"COURIER_E2E_STORAGE_DIR=" + c.storageDir,
		"COURIER_E2E_SINK_URL=" + sinkURL,
	}
	c.Collector = testutil.StartCollector(t, bin, env, "--config", cfg)
	return c
}

// startHealthy starts the built binary with env and args, a free port for
// its health_check in COURIER_E2E_HEALTH_PORT, and waits at most timeout
// until the health check answers 200.
func startHealthy(t testing.TB, timeout time.Duration, env []string, args ...string) *testutil.Collector {
	t.Helper()
	health := testutil.FreePorts(t, 1)[0]
	env = append(slices.Clip(env), fmt.Sprintf("COURIER_E2E_HEALTH_PORT=%d", health))
	c := testutil.StartCollector(t, testutil.CollectorBinary(t), env, args...)
	c.WaitUntil(timeout, "collector healthy", func() error { return httpGet200(fmt.Sprintf("http://127.0.0.1:%d/", health)) })
	return c
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

// httpGet200 returns nil when GET url answers 200 OK.
func httpGet200(url string) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}

func (c *allComponents) url(port int, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
}

// waitReady waits until health_check reports the collector ready (it answers
// 503 until every pipeline has started).
func (c *allComponents) waitReady(t *testing.T) {
	t.Helper()
	c.WaitUntil(testutil.DefaultStartTimeout, "health_check answers 200", func() error {
		return httpGet200(c.url(c.healthPort, "/"))
	})
}

func TestStartsAndStopsWithAllStockComponents(t *testing.T) {
	c := startAllComponents(t, "http://127.0.0.1:1", nil) // no logs are sent
	start := time.Now()
	c.waitReady(t)
	t.Logf("healthy %s after start", time.Since(start).Round(time.Millisecond))

	// Each HTTP-serving extension and the collector's own metrics endpoint
	// answer on the port the config gave them.
	for name, url := range map[string]string{
		"pprof":             c.url(c.pprofPort, "/debug/pprof/"),
		"zpages":            c.url(c.zpagesPort, "/debug/servicez"),
		"telemetry metrics": c.url(c.metricsPort, "/metrics"),
	} {
		if err := httpGet200(url); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	stopStart := time.Now()
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown on SIGTERM: %v", err)
	}
	t.Logf("stopped %s after SIGTERM", time.Since(stopStart).Round(time.Millisecond))
}
