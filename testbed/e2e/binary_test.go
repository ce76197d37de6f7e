package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/courier-otel/courier/internal/testutil"
)

const commandTimeout = 30 * time.Second

// stockComponents are the components builder-config.yaml compiles in, by the
// type name they register (deprecated aliases such as filelog, otlphttp and
// the otlp exporter name are accepted in configs but not listed).
var stockComponents = map[string][]string{
	"receivers":  {"file_log", "otlp"},
	"processors": {"batch", "memory_limiter"},
	"exporters":  {"debug", "otlp_grpc", "otlp_http"},
	"extensions": {"file_storage", "health_check", "pprof", "zpages"},
	"providers":  {"env", "file", "http", "https", "yaml"},
}

func TestComponentsListsStockComponents(t *testing.T) {
	bin := testutil.CollectorBinary(t)
	out, err := testutil.RunCommand(t, bin, commandTimeout, "components")
	if err != nil {
		t.Fatalf("%s components: %v\n%s", bin, err, out)
	}
	got := parseComponents(out)
	for kind, want := range stockComponents {
		for _, name := range want {
			if !slices.Contains(got[kind], name) {
				t.Errorf("components: %s %q missing; listed %s: %v", kind, name, kind, got[kind])
			}
		}
	}
	if t.Failed() {
		t.Logf("components output:\n%s", out)
	}
}

// parseComponents reads the YAML printed by `otelcol-courier components` just
// far enough to list, per top-level section, the names (components) or
// schemes (providers) of its entries.
func parseComponents(out string) map[string][]string {
	got := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '-' {
			section, _, _ = strings.Cut(line, ":")
			continue
		}
		entry := strings.TrimSpace(line)
		for _, key := range []string{"- name:", "- scheme:"} {
			if v, ok := strings.CutPrefix(entry, key); ok {
				got[section] = append(got[section], strings.TrimSpace(v))
			}
		}
	}
	return got
}

func TestValidateDefaultConfig(t *testing.T) {
	bin := testutil.CollectorBinary(t)
	cfg := filepath.Join(testutil.ModuleRoot(t), testutil.DistDir, "config.yaml")
	// Reading the file lets `go test` caching notice when the config changes.
	if _, err := os.ReadFile(cfg); err != nil {
		t.Fatalf("read default config: %v", err)
	}
	out, err := testutil.RunCommand(t, bin, commandTimeout, "validate", "--config", cfg)
	if err != nil {
		t.Fatalf("%s validate --config %s: %v\n%s", bin, cfg, err, out)
	}
}
